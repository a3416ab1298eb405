"""Harness for vagent's black-box tests and benchmarks.

A Daemon is a real vagentd with a private directory, a free port and a
config written for the caller; helpers drive vagent-call and raw AudioSocket
connections. Everything waits for conditions (wait_for) instead of sleeping.
Shared by the pytest suite (conftest.py) and tests/bench/bench.py.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import time
import uuid
import wave
import random

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VAGENT_BUILD", os.path.join(ROOT, "build"))
VAGENTD = os.path.join(BUILD, "vagentd")
VAGENTCTL = os.path.join(BUILD, "vagentctl")
VAGENT_CALL = os.path.join(BUILD, "vagent-call")


def wait_for(cond, timeout=10.0, what="condition", interval=0.02):
    """Polls cond() until it returns something truthy; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# pytest-xdist runs the suite on several worker processes (Makefile,
# integration-run). A port is free only until its user binds it, so two
# workers must never be handed the same one: worker K of N takes only the
# kernel's free ports whose half is K modulo N (Linux's bind() to port 0
# picks ports of one parity), and none twice within a run.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_SLOT = int(_WORKER[2:]) if _WORKER[2:].isdigit() else 0
_SLOTS = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))
_handed_out = set()


def voluntary_switches(pid):
    """A process's voluntary context switches so far: its wake-ups."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches for %d" % pid)


def free_port():
    for _ in range(10000):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if (port >> 1) % _SLOTS == _SLOT % _SLOTS and port not in _handed_out:
            _handed_out.add(port)
            return port
    raise AssertionError("no free port for worker %s of %d" % (_WORKER, _SLOTS))


def make_wav(path, rate=8000, seconds=1.0, seed=1):
    """Writes a mono 16-bit WAV of seeded noise plus a tone; returns its bytes."""
    rng = random.Random(seed)
    n = int(rate * seconds)
    f = 200 + 40 * seed
    samples = []
    for i in range(n):
        v = 6000.0 * __import__("math").sin(2 * 3.14159265 * f * i / rate)
        samples.append(max(-32768, min(32767, int(v) + rng.randint(-3000, 3000))))
    data = struct.pack("<%dh" % n, *samples)
    write_wav(path, rate, data)
    return data


def write_wav(path, rate, data):
    """Writes mono 16-bit samples (bytes) as a WAV file."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)


def read_wav(path):
    with wave.open(path, "rb") as w:
        return w.getframerate(), w.readframes(w.getnframes())


class Daemon:
    def __init__(self, tmp_path, settings=None, extra="", run_dir=None):
        self.dir = str(tmp_path)
        self.run_dir = run_dir or os.path.join(self.dir, "run")
        self.ctx_dir = os.path.join(self.dir, "ctx")
        os.makedirs(self.ctx_dir, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "vagent.conf")
        self.log = os.path.join(self.dir, "vagentd.log")
        self.settings = {
            "vagentd": {"listen": "127.0.0.1:%d" % self.port, "run_dir": self.run_dir,
                        "max_calls": "8", "min_spare": "2", "max_spare": "8",
                        "drain_timeout": "30", "log_level": "info", "log_file": self.log},
            "call": {"engine": "echo", "context_dir": self.ctx_dir, "idle_timeout": "5"},
            # No database unless a test gives one: the writer journals and waits.
            "db": {"host": "127.0.0.1", "port": str(free_port())},
            "writer": {"journal_dir": os.path.join(self.dir, "journal")},
            "api": {"enabled": "no"},
        }
        for sect, kv in (settings or {}).items():
            self.settings.setdefault(sect, {}).update(kv)
        self.extra = extra
        self.proc = None
        self.output = None
        self.write_conf()

    def write_conf(self, raw=None):
        if raw is None:
            lines = []
            for sect, kv in self.settings.items():
                lines.append("[%s]" % sect)
                lines += ["%s = %s" % (k, v) for k, v in kv.items()]
            raw = "\n".join(lines) + "\n" + self.extra
        with open(self.conf, "w") as f:
            f.write(raw)

    def start(self):
        self.proc = subprocess.Popen([VAGENTD, "-f", "-c", self.conf],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # A readiness wait, not a figure: with the suite's parallel workers
        # each starting MariaDB and daemons, a start took over 10 s once.
        wait_for(lambda: os.path.exists(os.path.join(self.run_dir, "available"))
                 or self.proc.poll() is not None, 30, what="vagentd to start")
        assert self.proc.poll() is None, "vagentd exited: %s" % self.proc.stdout.read()
        want = int(self.settings["vagentd"]["min_spare"])
        wait_for(lambda: self.status()["idle"] >= want, what="%d idle workers" % want)
        return self

    def ctl(self, *args, check=True):
        r = subprocess.run([VAGENTCTL, "-r", self.run_dir] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, "vagentctl %s: %s%s" % (args, r.stdout, r.stderr)
        return r

    def status(self):
        return json.loads(self.ctl("status", "-j").stdout)

    def calls(self):
        return json.loads(self.ctl("calls", "-j").stdout)

    def available(self):
        with open(os.path.join(self.run_dir, "available")) as f:
            return int(f.read())

    def metrics(self):
        """metrics.prom as {name: value} for unlabelled samples."""
        out = {}
        with open(os.path.join(self.run_dir, "metrics.prom")) as f:
            for line in f:
                if line.startswith("#") or "{" in line or not line.strip():
                    continue
                k, v = line.split()
                out[k] = float(v)
        return out

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def wait_log(self, needle, timeout=10.0):
        return wait_for(lambda: needle in self.log_text(), timeout, "log line %r" % needle)

    def kill(self, sig):
        self.proc.send_signal(sig)

    def worker_pids(self):
        """The call workers: vagentd's children but the writer (and the api)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                             text=True).stdout.split()
        st = self.status()
        others = {st.get("writer_pid"), st.get("api_pid")}
        return [int(p) for p in out if int(p) not in others]

    def sanitizer_reports(self):
        """What ASan/UBSan/LSan printed (vagentd's stderr: logs go to its file)."""
        if self.output is None and self.proc and self.proc.poll() is not None:
            self.output = self.proc.stdout.read().decode(errors="replace")
        marks = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
        return [l for l in (self.output or "").splitlines() if any(m in l for m in marks)]

    def stop(self, timeout=40):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        pids = self.worker_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for p in pids:
            wait_for(lambda: not os.path.exists("/proc/%d" % p) or
                     open("/proc/%d/stat" % p).read().split()[2] == "Z",
                     5, "worker %d to exit" % p)
        return rc


class RawCall:
    """A hand-driven AudioSocket connection, for frames vagent-call won't send."""

    def __init__(self, port, uid=None):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.uuid = uid or uuid.uuid4()
        self.s.settimeout(5)

    def send_uuid(self):
        self.s.sendall(b"\x01\x00\x10" + self.uuid.bytes)

    def send(self, kind, payload):
        self.s.sendall(bytes([kind]) + struct.pack(">H", len(payload)) + payload)

    def send_raw(self, data):
        self.s.sendall(data)

    def read_frames(self, until_closed=True, timeout=5.0):
        """Reads until EOF (or timeout); returns [(kind, payload)] and whether EOF came."""
        buf = b""
        self.s.settimeout(timeout)
        eof = False
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    eof = True
                    break
                buf += d
        except (socket.timeout, ConnectionResetError):
            pass
        frames = []
        while len(buf) >= 3:
            n = struct.unpack(">H", buf[1:3])[0]
            if len(buf) < 3 + n:
                break
            frames.append((buf[0], buf[3:3 + n]))
            buf = buf[3 + n:]
        return frames, eof

    def close(self):
        self.s.close()


def run_caller(port, *args, timeout=120):
    """Runs vagent-call -j; returns its JSON summary."""
    r = subprocess.run([VAGENT_CALL, "-a", "127.0.0.1:%d" % port, "-j", "-q"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    assert r.stdout.strip(), "vagent-call printed nothing: %s" % r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def start_caller(port, *args, prefix=()):
    """prefix: a command vagent-call runs under (chrt, say)."""
    return subprocess.Popen(list(prefix) + [VAGENT_CALL, "-a", "127.0.0.1:%d" % port, "-j", "-q"] +
                            list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_caller(p, timeout=120):
    out, err = p.communicate(timeout=timeout)
    assert out.strip(), "vagent-call printed nothing: %s" % err
    return json.loads(out.strip().splitlines()[-1])


# --- MariaDB -----------------------------------------------------------------

MARIADB_SH = os.path.join(ROOT, "tests", "mariadb.sh")
SQL_DIR = os.path.join(ROOT, "sql")


class MariaDB:
    """A private MariaDB server (tests/mariadb.sh) with everything under dir.

    root connects over dir/mysqld.sock with no password (sql(), connect());
    user vagent, password vagent, connects over TCP 127.0.0.1:port (what
    vagent's own processes use, through db_settings()). Test credentials.
    """

    def __init__(self, path, port=None):
        self.dir = str(path)
        self.port = port or free_port()
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pid_file = os.path.join(self.dir, "mysqld.pid")
        self.password_file = os.path.join(self.dir, "vagent.password")

    def _script(self, *args, timeout=120):
        r = subprocess.run(["sh", MARIADB_SH] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        assert r.returncode == 0, "mariadb.sh %s: %s%s" % (" ".join(args), r.stdout, r.stderr)
        return r

    def start(self):
        """Starts the server (initialising dir the first time); returns self."""
        os.makedirs(self.dir, exist_ok=True)
        self._script("start", self.dir, str(self.port))
        if not os.path.exists(self.password_file):
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, b"vagent\n")
            os.close(fd)
        return self

    def stop(self):
        """Clean shutdown; waits until the process is gone."""
        self._script("stop", self.dir)

    def pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self):
        pid = self.pid()
        if not pid:
            return False
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except OSError:
            return False

    def kill(self, sig=signal.SIGKILL):
        """SIGKILL (a crash: waits until the process is gone), or any other
        signal as is: SIGSTOP / SIGCONT for a server that hangs and comes back."""
        if sig == signal.SIGKILL:
            self._script("kill", self.dir)
        else:
            os.kill(self.pid(), sig)

    def restart(self):
        """Starts it again on the same port and data after stop() or kill()."""
        if self.running():
            self.kill(signal.SIGCONT)
            self.stop()
        return self.start()

    def connect(self, database=None, **kw):
        import pymysql  # python3-pymysql; imported here so other tests need not have it
        kw.setdefault("connect_timeout", 10)
        kw.setdefault("read_timeout", 60)
        return pymysql.connect(unix_socket=self.socket, user="root", password="",
                               database=database, charset="utf8mb4", autocommit=True, **kw)

    def sql(self, query, args=None, database=None):
        """Runs one statement as root; returns its rows as a list of tuples."""
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def create_database(self, name):
        self.sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" % name)
        self.sql("GRANT ALL PRIVILEGES ON `%s`.* TO 'vagent'@'127.0.0.1', 'vagent'@'localhost'"
                 % name)

    def drop_database(self, name):
        self.sql("DROP DATABASE IF EXISTS `%s`" % name)

    def db_settings(self, dbname):
        """A [db] section for a Daemon's or vagentctl's settings."""
        return {"db": {"host": "127.0.0.1", "port": str(self.port), "user": "vagent",
                       "password_file": self.password_file, "database": dbname,
                       "connect_timeout": "5"}}


def secret(directory, name, value, mode=0o600):
    """Writes value to directory/name as a key file (one line, mode);
    returns its path."""
    p = os.path.join(str(directory), name)
    with open(p, "w") as f:
        f.write(value + "\n")
    os.chmod(p, mode)
    return p


def write_settings(path, settings):
    """Writes {section: {key: value}} as an ini file."""
    lines = []
    for sect, kv in settings.items():
        lines.append("[%s]" % sect)
        lines += ["%s = %s" % (k, v) for k, v in kv.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class ScratchDB:
    """One database of a MariaDB, for one test: its name, a vagentctl config
    with its [db] section (conf), sql() as root inside it, ctl() to run
    vagentctl against it. create() makes it empty; drop() removes it."""

    def __init__(self, mariadb, path, name=None):
        self.mariadb = mariadb
        self.name = name or "vt_" + uuid.uuid4().hex[:16]
        self.conf = os.path.join(str(path), "db-%s.conf" % self.name)
        # vagentctl loads the whole file; without an API key the api must be off.
        write_settings(self.conf, dict(mariadb.db_settings(self.name), api={"enabled": "no"}))

    def create(self):
        self.mariadb.create_database(self.name)
        return self

    def drop(self):
        self.mariadb.drop_database(self.name)

    def settings(self):
        return self.mariadb.db_settings(self.name)

    def sql(self, query, args=None):
        return self.mariadb.sql(query, args, database=self.name)

    def ctl(self, *args, check=True, conf=None, env=None, timeout=120):
        r = subprocess.run([VAGENTCTL, "-c", conf or self.conf] + list(args),
                           capture_output=True, text=True, timeout=timeout, env=env)
        if check:
            assert r.returncode == 0, "vagentctl %s: %s%s" % (args, r.stdout, r.stderr)
        return r

    def migrate(self, sql_dir=SQL_DIR, check=True, **kw):
        return self.ctl("db", "migrate", "-s", sql_dir, check=check, **kw)
