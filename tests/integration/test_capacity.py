"""At max_calls the next call is closed at once and counted; capacity files track it."""
import pytest

from harness import run_caller, start_caller, finish_caller, wait_for

# Alone, after the parallel pass (conftest.py): fifty calls at once
# load the whole box.
pytestmark = pytest.mark.serial


def test_call_beyond_max_calls_is_closed_and_counted(daemon_factory, tmp_path):
    d = daemon_factory({"vagentd": {"max_calls": "50", "min_spare": "10", "max_spare": "50"}})
    assert d.available() == 50
    p = start_caller(d.port, "-n", "50", "-d", "8")
    wait_for(lambda: d.status()["active"] == 50, 20, "50 active calls")
    wait_for(lambda: d.available() == 0, what="available to read 0")
    m = wait_for(lambda: (lambda m: m if m["vagent_calls_active"] == 50 else None)(d.metrics()),
                 what="metrics to show 50 calls")
    assert m["vagent_calls_capacity"] == 50 and m["vagent_calls_available"] == 0

    extra = run_caller(d.port, "-d", "2")
    assert extra["rejected"] == 1, extra
    assert extra["results"][0]["frames_received"] == 0
    assert d.status()["rejected_total"] == 1
    wait_for(lambda: d.metrics()["vagent_calls_rejected_total"] == 1, what="metrics rejected 1")
    assert d.status()["active"] == 50, "turning one away must not disturb the others"

    res = finish_caller(p)
    assert res["completed"] == 50
    wait_for(lambda: d.available() == 50, what="capacity to come back")
    m = wait_for(lambda: (lambda m: m if m["vagent_calls_active"] == 0 else None)(d.metrics()),
                 what="metrics to show no call")
    assert m["vagent_calls_total"] == 50 and m["vagent_calls_available"] == 50


def test_available_counts_down_per_call(daemon, tmp_path):
    p = start_caller(daemon.port, "-n", "3", "-d", "3")
    wait_for(lambda: daemon.available() == 5, what="available 8 - 3")
    finish_caller(p)
    wait_for(lambda: daemon.available() == 8, what="available back to 8")
