"""A worker's death ends only its call; the slot is freed and a new worker appears."""
import os
import signal

from harness import make_wav, read_wav, start_caller, finish_caller, wait_for


def test_sigkill_of_busy_worker_ends_only_that_call(daemon, tmp_path):
    sent = [make_wav(str(tmp_path / ("in%d.wav" % i)), seconds=4.0, seed=i + 1)
            for i in range(4)]
    p = start_caller(daemon.port, "-n", "4", "-w", str(tmp_path / "in%d.wav"),
                     "-r", str(tmp_path / "out%d.wav"))
    calls = wait_for(lambda: (lambda c: c if len(c) == 4 and all(x["frames_out"] > 10 for x in c)
                               else None)(daemon.calls()),
                     what="4 calls with audio flowing both ways")
    before = set(daemon.worker_pids())
    victim = calls[0]
    os.kill(victim["pid"], signal.SIGKILL)

    res = finish_caller(p)
    by_uuid = {r["uuid"]: r for r in res["results"]}
    assert by_uuid[victim["uuid"]]["outcome"] == "server_closed"
    for r in res["results"]:
        if r["uuid"] == victim["uuid"]:
            continue
        assert r["outcome"] == "completed"
        assert read_wav(str(tmp_path / ("out%d.wav" % r["index"])))[1] == sent[r["index"]]
    st = daemon.status()
    assert st["failed_total"] == 1 and st["restarts_total"] == 1
    wait_for(lambda: daemon.available() == 8, what="the dead worker's slot to be freed")
    wait_for(lambda: set(daemon.worker_pids()) - before, what="a new worker")
    assert victim["pid"] not in daemon.worker_pids()
    daemon.wait_log("worker %d died during call" % victim["pid"])
    m = daemon.metrics()
    assert m["vagent_calls_failed_total"] == 1 and m["vagent_worker_restarts_total"] == 1


def test_idle_worker_death_is_replaced(daemon):
    victim = daemon.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in daemon.worker_pids() and len(daemon.worker_pids()) >= 2,
             what="a replacement worker")
    assert daemon.status()["failed_total"] == 0, "no call was lost"


def test_worker_retires_after_max_use(daemon_factory, tmp_path):
    d = daemon_factory({"vagentd": {"worker_max_use": "1", "min_spare": "1", "max_calls": "2"}})
    first = set(d.worker_pids())
    from harness import run_caller
    for _ in range(3):
        assert run_caller(d.port, "-d", "1")["completed"] == 1
    wait_for(lambda: not (set(d.worker_pids()) & first), what="the used workers to retire")
    assert d.status()["restarts_total"] == 0, "retiring is not a crash"


def test_next_call_in_a_killed_workers_slot_hears_only_itself(daemon_factory, tmp_path):
    """Regression: a SIGKILLed worker's leftover ring audio reached the next caller."""
    d = daemon_factory({"vagentd": {"max_calls": "1", "min_spare": "1", "max_spare": "1"}})
    make_wav(str(tmp_path / "a.wav"), seconds=5.0, seed=1)
    first = start_caller(d.port, "-w", str(tmp_path / "a.wav"))
    call = wait_for(lambda: [c for c in d.calls() if c["frames_out"] > 20], what="audio")[0]
    os.kill(call["pid"], signal.SIGKILL)
    finish_caller(first)
    wait_for(lambda: d.available() == 1 and d.status()["idle"] == 1, what="a new worker")
    sent = make_wav(str(tmp_path / "b.wav"), seconds=1.0, seed=2)
    from harness import run_caller
    res = run_caller(d.port, "-w", str(tmp_path / "b.wav"), "-r", str(tmp_path / "b-out.wav"))
    assert res["results"][0]["outcome"] == "completed"
    assert read_wav(str(tmp_path / "b-out.wav"))[1] == sent


def rttime_limits(pid):
    """(soft, hard) of RLIMIT_RTTIME in us, from /proc/pid/limits."""
    for line in open("/proc/%d/limits" % pid):
        if line.startswith("Max realtime timeout"):
            f = line.split()
            return f[3], f[4]
    return None


def test_workers_run_realtime_with_a_cap_and_the_supervisor_does_not(daemon_factory):
    """A worker's 20 ms pacer must wake on time beside a busy Asterisk: workers
    ask for SCHED_RR (allowed here: the suite runs as root, as CI does), cap
    it with RLIMIT_RTTIME so a looping one is killed, not left to starve the
    box; the supervisor stays in the normal class."""
    if os.geteuid() != 0:
        import pytest
        pytest.skip("SCHED_RR needs root or LimitRTPRIO")
    d = daemon_factory({"vagentd": {"realtime": "yes"}})
    pid = d.worker_pids()[0]
    assert os.sched_getscheduler(pid) == os.SCHED_RR | os.SCHED_RESET_ON_FORK
    assert os.sched_getparam(pid).sched_priority == 1
    assert rttime_limits(pid) == ("500000", "1000000")
    assert os.sched_getscheduler(d.proc.pid) == os.sched_getscheduler(0), \
        "the supervisor keeps the class it was started in"


def test_workers_stay_in_the_normal_class_by_default(daemon_factory):
    """Opt-in only: RR workers on an overloaded box starve Asterisk."""
    d = daemon_factory({})
    pid = d.worker_pids()[0]
    # Whatever class the daemon was started in (a suite run under chrt -i too).
    assert os.sched_getscheduler(pid) == os.sched_getscheduler(0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
