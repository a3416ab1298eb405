"""pytest fixtures: each test gets its own vagentd, stopped at the end whatever
happened (and the test fails if a worker outlives it)."""
import pytest

from harness import *  # noqa: F401,F403  (tests import names from conftest)
from harness import Daemon


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
        d.stop()


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory()


