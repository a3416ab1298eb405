"""pytest fixtures: each test gets its own vagentd, stopped at the end whatever
happened (and the test fails if a worker outlives it). One private MariaDB
serves the whole session; each test that wants a database gets its own.

`make check` runs the suite on several pytest-xdist workers (Makefile,
integration-run): each worker is a session of its own, with its own MariaDB,
directories and ports (harness.free_port), so tests share nothing. Tests
marked `serial` (they time audio against a 20 ms clock, or load the whole
box) run afterwards in a pass of their own, alone."""
import signal

import pytest

from harness import *  # noqa: F401,F403  (tests import names from conftest)
from harness import Daemon, MariaDB, ScratchDB

# Modules whose tests place long real-time calls (up to two minutes each):
# collected first, so that parallel workers start on them rather than end on
# them while the other workers sit idle.
LONG_FIRST = ("test_overflow_cloud.py", "test_degraded.py", "test_v1_stack.py",
              "test_agent.py", "test_providers.py", "test_handoff.py", "test_writer.py")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: times audio or loads the box; run alone, not beside other tests")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's own load scheduler hands each worker a run of consecutive
    tests up front and keeps them there: the long calls, collected first,
    queue up on one worker while the others finish early and idle. Here a
    worker holds only the test it runs and the next one (xdist runs a test
    once it knows the next), and every other test waits for whichever worker
    is free first."""
    from xdist.scheduler import LoadScheduling

    class OneAhead(LoadScheduling):
        def _send_tests(self, node, num):
            super()._send_tests(node, min(num, 2 - len(self.node2pending[node])))

    return OneAhead(config, log)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.path.name
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)
    items.sort(key=rank)  # stable: the order within a module is kept


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
