"""SIGUSR1 reopens the log file (logrotate), in the supervisor and the workers."""
import os
import signal

from harness import run_caller, wait_for


def test_usr1_reopens_log_file(daemon, tmp_path):
    rotated = daemon.log + ".1"
    os.rename(daemon.log, rotated)
    daemon.kill(signal.SIGUSR1)
    wait_for(lambda: os.path.exists(daemon.log), what="a new log file")
    res = run_caller(daemon.port, "-d", "1", "-u", "12345678-1234-1234-1234-123456789abc")
    assert res["completed"] == 1
    daemon.wait_log("call 12345678-1234-1234-1234-123456789abc: ended")
    with open(rotated) as f:
        assert "12345678-1234-1234-1234-123456789abc" not in f.read()
