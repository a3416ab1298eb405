"""SIGTERM drains: calls in progress finish, new ones are closed at once, exit 0."""
import signal

from harness import make_wav, read_wav, run_caller, start_caller, finish_caller, wait_for


def test_sigterm_lets_calls_finish_and_refuses_new_ones(daemon, tmp_path):
    sent = [make_wav(str(tmp_path / ("in%d.wav" % i)), seconds=3.0, seed=i + 1)
            for i in range(3)]
    p = start_caller(daemon.port, "-n", "3", "-w", str(tmp_path / "in%d.wav"),
                     "-r", str(tmp_path / "out%d.wav"))
    wait_for(lambda: len(daemon.calls()) == 3, what="3 calls")
    daemon.kill(signal.SIGTERM)
    wait_for(lambda: daemon.status()["draining"], what="draining")
    wait_for(lambda: daemon.available() == 0, what="available 0 while draining")

    late = run_caller(daemon.port, "-d", "2")
    assert late["rejected"] == 1, "a new call while draining is closed at once"
    assert daemon.proc.poll() is None, "vagentd must wait for its calls"

    res = finish_caller(p)
    assert res["completed"] == 3
    for r in res["results"]:
        assert read_wav(str(tmp_path / ("out%d.wav" % r["index"])))[1] == sent[r["index"]]
    assert daemon.proc.wait(15) == 0
    assert "stopped" in daemon.log_text()


def test_drain_timeout_hangs_up_calls_that_will_not_end(daemon_factory, tmp_path):
    d = daemon_factory({"vagentd": {"drain_timeout": "1"}})
    p = start_caller(d.port, "-d", "30")
    wait_for(lambda: len(d.calls()) == 1, what="the call")
    d.kill(signal.SIGTERM)
    res = finish_caller(p, timeout=20)
    assert res["results"][0]["outcome"] == "server_hangup"
    assert d.proc.wait(15) == 0
    d.wait_log("drain_timeout reached")


def test_vagentctl_drain_and_resume(daemon, tmp_path):
    assert daemon.ctl("drain").stdout.strip() == "ok draining"
    # Answered "ok" means `available` already says 0 (a script may read it next).
    assert daemon.available() == 0
    assert run_caller(daemon.port, "-d", "1")["rejected"] == 1
    assert daemon.ctl("resume").stdout.strip() == "ok"
    wait_for(lambda: daemon.available() == 8, what="capacity back")
    assert run_caller(daemon.port, "-d", "1")["completed"] == 1
    assert daemon.proc.poll() is None
