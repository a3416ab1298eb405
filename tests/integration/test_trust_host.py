"""Process boundaries of the host: what vagentd trusts on its own machine.

Protects (each a regression test for an item of the host-trust issue):
* started as root, vagentd never follows a link, blocks on a FIFO, or
  writes a file with another name in the service user's directories: the
  pidfile and the log file are refused and their targets left untouched;
* a worker that sends descriptors on its channel is killed, logged once and
  counted, and the supervisor keeps none of them (600 used to exhaust it);
* a FIFO at a call's context path neither wedges the worker nor costs a
  slot; a worker whose loop stops (SIGSTOP) is killed by the watchdog and
  its slot is used again;
* run as the service user, the supervisor is out of reach of that uid (not
  dumpable: no /proc/<pid>/fd, no ptrace) and its segment has no name.
Tests run as root, as the integration suite does.
"""
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import uuid

import pytest

from harness import (Daemon, VAGENTD, finish_caller, run_caller, start_caller,
                     wait_for)

SERVICE_USER = "nobody"
CHAN_MAGIC = 0x7661636E
CHAN_CALL = 2


@pytest.fixture
def public_dir():
    """A directory the service user can traverse (pytest's tmp is root's 0700)."""
    d = tempfile.mkdtemp(prefix="vg-trust-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start_expecting_refusal(d, timeout=20):
    """Runs vagentd as root; it must exit at once with status 1. Returns its output."""
    p = subprocess.Popen([VAGENTD, "-f", "-c", d.conf], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # its workers too: they hold the pipe
        p.communicate(timeout=10)
        pytest.fail("vagentd did not refuse to start (it blocked or kept running)")
    if p.returncode == 0:
        pytest.fail("vagentd exited 0 instead of refusing: %s" % out)
    assert p.returncode == 1, out
    return out.decode(errors="replace")


def victim_file(path):
    with open(path, "w") as f:
        f.write("root's own file\n")
    os.chmod(path, 0o600)
    return os.stat(path)


def assert_untouched(path, before):
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == \
        (before.st_uid, before.st_gid, stat.S_IMODE(before.st_mode)), "owner or mode changed"
    with open(path) as f:
        assert f.read() == "root's own file\n", "the target was written"


def root_daemon(public_dir):
    return Daemon(public_dir, {"vagentd": {"user": SERVICE_USER}})


def test_pidfile_symlink_in_run_dir_is_refused_and_target_untouched(public_dir, tmp_path):
    d = root_daemon(public_dir)
    os.makedirs(d.run_dir)
    victim = str(tmp_path / "victim")
    before = victim_file(victim)
    os.symlink(victim, os.path.join(d.run_dir, "vagentd.pid"))
    out = start_expecting_refusal(d)
    assert "pidfile" in out and "symbolic link" in out, out
    assert_untouched(victim, before)

    # A dangling link: following it would create a root-owned file there.
    os.unlink(os.path.join(d.run_dir, "vagentd.pid"))
    target = str(tmp_path / "made-by-vagentd")
    os.symlink(target, os.path.join(d.run_dir, "vagentd.pid"))
    start_expecting_refusal(d)
    assert not os.path.lexists(target)


def test_pidfile_hard_link_to_a_root_file_is_refused(public_dir):
    d = root_daemon(public_dir)
    os.makedirs(d.run_dir)
    victim = os.path.join(public_dir, "victim")  # same filesystem as run_dir
    before = victim_file(victim)
    os.link(victim, os.path.join(d.run_dir, "vagentd.pid"))
    out = start_expecting_refusal(d)
    assert "other names" in out, out
    assert_untouched(victim, before)


def test_log_file_symlink_is_refused_and_target_untouched(public_dir, tmp_path):
    d = root_daemon(public_dir)
    victim = str(tmp_path / "victim")
    before = victim_file(victim)
    os.symlink(victim, d.log)
    out = start_expecting_refusal(d)
    assert "log file" in out and "symbolic link" in out, out
    assert_untouched(victim, before)


def test_log_file_fifo_does_not_hang_start_up(public_dir):
    d = root_daemon(public_dir)
    os.mkfifo(d.log)
    out = start_expecting_refusal(d)
    assert "log file" in out and "not a regular file" in out, out


# --- a hostile worker --------------------------------------------------------

def unix_seqpacket_inodes():
    out = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[4] == "0005":  # SOCK_SEQPACKET
                out.add(parts[6])
    return out


def steal_channel(pid):
    """A copy of worker pid's channel socket (pidfd_getfd: root may, as ptrace)."""
    seq = unix_seqpacket_inodes()
    fds = []
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in seq:
            fds.append(int(name))
    assert len(fds) == 1, "worker %d: expected one SOCK_SEQPACKET, found %s" % (pid, fds)
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        fd = libc.syscall(438, pidfd, fds[0], 0)  # SYS_pidfd_getfd
        assert fd >= 0, "pidfd_getfd: %s" % os.strerror(ctypes.get_errno())
    finally:
        os.close(pidfd)
    return socket.socket(fileno=fd)


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_worker_sending_descriptors_is_killed_and_leaks_none(daemon_factory, tmp_path):
    d = daemon_factory({"vagentd": {"max_calls": "4", "min_spare": "1", "max_spare": "1"}})
    sup = d.proc.pid
    # A small table makes the old leak visible as refused calls, not just a count.
    resource.prlimit(sup, resource.RLIMIT_NOFILE, (256, 256))
    base = open_fds(sup)
    victim = d.worker_pids()[0]
    chan = steal_channel(victim)
    bait = os.open("/dev/null", os.O_RDONLY)
    msg = struct.pack("<IHHIIQqiI", CHAN_MAGIC, CHAN_CALL, 0, 1, 0, 1, 0, 0, 0)
    sent = 0
    try:
        while sent < 600:
            try:
                socket.send_fds(chan, [msg], [bait])
                sent += 1
            except BlockingIOError:
                select.select([], [chan], [], 1.0)  # the supervisor reads at its pace
            except (BrokenPipeError, ConnectionResetError, ConnectionRefusedError):
                break
    finally:
        os.close(bait)
        chan.close()
    wait_for(lambda: victim not in d.worker_pids(), what="the hostile worker to be killed")
    d.wait_log("worker %d sent a malformed message or a descriptor; killed it" % victim)
    assert d.log_text().count("worker %d" % victim) == 1, "logged once"
    wait_for(lambda: open_fds(sup) <= base + 2, what="no descriptor kept by the supervisor")
    assert d.metrics()["vagent_workers_killed_total"] == 1
    res = run_caller(d.port, "-d", "1")
    assert res["completed"] == 1 and res["results"][0]["frames_received"] > 0
    wait_for(lambda: d.status()["idle"] >= 1, what="a replacement worker")


# --- wedged workers ----------------------------------------------------------

def one_slot(extra=None):
    s = {"vagentd": {"max_calls": "1", "min_spare": "1", "max_spare": "1"}}
    s["vagentd"].update(extra or {})
    return s


def test_fifo_at_context_path_neither_wedges_the_call_nor_costs_the_slot(daemon_factory):
    d = daemon_factory(one_slot())
    uid = uuid.uuid4()
    os.mkfifo(os.path.join(d.ctx_dir, "va_%s.json" % uid))
    res = run_caller(d.port, "-u", str(uid), "-d", "1", timeout=30)
    assert res["completed"] == 1
    assert res["results"][0]["frames_received"] > 0, "the call went on (echo)"
    d.wait_log("context %s/va_%s.json: not a regular file, ignored" % (d.ctx_dir, uid))
    wait_for(lambda: d.available() == 1, what="the slot back")
    assert run_caller(d.port, "-d", "1")["completed"] == 1


def test_stopped_worker_is_killed_by_watchdog_and_its_slot_reused(daemon_factory):
    d = daemon_factory(one_slot({"watchdog": "2"}))
    uid = str(uuid.uuid4())
    p = start_caller(d.port, "-u", uid, "-d", "30")
    call = wait_for(lambda: [c for c in d.calls() if c["frames_out"] > 5], what="the call")[0]
    os.kill(call["pid"], signal.SIGSTOP)
    res = finish_caller(p, timeout=30)
    assert res["results"][0]["outcome"] == "server_closed"
    d.wait_log("call %s: worker %d made no progress for" % (uid, call["pid"]))
    wait_for(lambda: d.available() == 1 and d.status()["idle"] == 1, what="the slot back")
    st = d.status()
    assert st["failed_total"] == 1 and st["restarts_total"] == 1
    assert d.metrics()["vagent_workers_killed_total"] == 1
    assert run_caller(d.port, "-d", "1")["completed"] == 1


# --- the service user's reach ------------------------------------------------

PROBE = r"""
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for pid in map(int, sys.argv[1:]):
    r = {}
    try:
        os.listdir("/proc/%d/fd" % pid)
        r["fd"] = "listed"
    except OSError as e:
        r["fd"] = e.errno
    if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        r["ptrace"] = "attached"
        libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
    else:
        r["ptrace"] = ctypes.get_errno()
    out[pid] = r
print(json.dumps(out))
"""


def shm_name(run_dir):
    h = 2166136261
    for b in os.path.realpath(run_dir).encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return "vagent.%08x" % h


def test_service_user_cannot_reach_the_supervisor_or_the_segment(public_dir):
    d = root_daemon(public_dir).start()
    try:
        sup = d.proc.pid
        with open("/proc/%d/status" % sup) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        nobody = int(subprocess.run(["id", "-u", SERVICE_USER], capture_output=True,
                                    text=True).stdout)
        assert all(int(u) == nobody for u in uids), "vagentd became %s" % SERVICE_USER
        assert not os.path.exists("/dev/shm/" + shm_name(d.run_dir)), "segment has a name"

        writer = d.status()["writer_pid"]
        targets = [sup, writer] + d.worker_pids()
        r = subprocess.run([sys.executable, "-c", PROBE] + [str(t) for t in targets],
                           user=SERVICE_USER, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        for pid, res in json.loads(r.stdout).items():
            assert res["fd"] != "listed", "uid %s read /proc/%s/fd" % (SERVICE_USER, pid)
            assert res["ptrace"] != "attached", "uid %s ptraced %s" % (SERVICE_USER, pid)

        # root still reads the segment; the service user is told why it cannot.
        assert d.status()["capacity"] == 8
        # A copy the service user can execute: the checkout may sit under a
        # directory it cannot enter (a clone in /root, as on a fresh machine).
        ctl = os.path.join(public_dir, "vagentctl")
        shutil.copy(os.path.join(os.path.dirname(VAGENTD), "vagentctl"), ctl)
        os.chmod(ctl, 0o755)
        r = subprocess.run([ctl, "-r", d.run_dir, "status"], user=SERVICE_USER,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "needs root" in r.stderr, r.stderr
        assert d.ctl("drain").stdout.strip() == "ok draining"
    finally:
        assert d.stop() == 0
