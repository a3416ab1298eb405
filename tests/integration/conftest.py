"""pytest fixtures: each test gets its own vagentd, stopped at the end whatever
happened (and the test fails if a worker outlives it). One private MariaDB
serves the whole session; each test that wants a database gets its own."""
import signal

import pytest

from harness import *  # noqa: F401,F403  (tests import names from conftest)
from harness import Daemon, MariaDB, ScratchDB


@pytest.fixture
def daemon_factory(tmp_path):
    made = []

    def make(settings=None, extra="", start=True, sub="d"):
        path = tmp_path / sub
        path.mkdir(exist_ok=True)
        d = Daemon(path, settings, extra)
        made.append(d)
        return d.start() if start else d

    yield make
    for d in made:
        rc = d.stop()
        reports = d.sanitizer_reports()
        assert not reports, "vagentd printed sanitizer reports:\n" + "\n".join(reports[:20])
        assert rc in (0, None), "vagentd exited with status %s" % rc


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory()


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    """One private MariaDB server for the session, on a free port."""
    m = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    yield m
    if m.running():
        m.kill(signal.SIGCONT)  # in case a test left it stopped
        m.stop()


@pytest.fixture
def empty_db(mariadb, tmp_path):
    """A new, empty database for one test (ScratchDB), dropped afterwards."""
    if not mariadb.running():  # a crash test that did not restart it
        mariadb.restart()
    d = ScratchDB(mariadb, tmp_path).create()
    yield d
    if mariadb.running():
        mariadb.kill(signal.SIGCONT)  # in case the test left it stopped
        d.drop()


@pytest.fixture
def db(empty_db):
    """A new database migrated by `vagentctl db migrate` (ScratchDB)."""
    empty_db.migrate()
    return empty_db
