"""Provider host names are looked up without stalling the call: a worker runs a
call on one thread, and libwebsockets 4.1 would resolve with a blocking
getaddrinfo() there. Here Deepgram's host is a name only a slow nameserver
knows ([vagentd] resolv_conf points the workers at it): the caller's audio
keeps its 20 ms pace while the answer is awaited, then the caller is heard."""
import csv
import socket
import struct
import threading
import time

import pytest

from agent_harness import Emulators, agent_daemon, caller_wav, context_file
from api_harness import seed_dids
from harness import run_caller

# Alone, after the parallel pass (conftest.py): it times the caller's
# frames while a name resolves.
pytestmark = pytest.mark.serial

NAME = "stt.vagent.test"
DELAY = 2.0


class SlowDNS:
    """A UDP nameserver on loopback that knows NAME (A 127.0.0.1) and answers
    every question DELAY seconds late. Keeps (time, name, qtype, answered)."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        self.log, self.lock = [], threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                q, peer = self.s.recvfrom(512)
            except OSError:
                return
            threading.Timer(DELAY, self._answer, (q, peer, time.monotonic())).start()

    def _answer(self, q, peer, asked):
        tid, _, qd = struct.unpack(">HHH", q[:6])[0:3]
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
        question = q[12:i + 5]          # echoed as asked (evdns randomizes case)
        name = ".".join(labels).lower()
        known = name == NAME
        answers = b""
        if known and qtype == 1:
            answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(
                "127.0.0.1")
        flags = 0x8180 | (0 if known else 3)    # response, RD+RA; NXDOMAIN if unknown
        head = struct.pack(">HHHHHH", tid, flags, 1, 1 if answers else 0, 0, 0)
        try:
            self.s.sendto(head + question + answers, peer)
        except OSError:
            return
        with self.lock:
            self.log.append((asked, time.monotonic(), name, qtype))

    def close(self):
        self.s.close()


def test_the_callers_audio_keeps_its_pace_while_a_provider_host_resolves(
        daemon_factory, db, tmp_path):
    seed_dids(db)
    dns = SlowDNS()
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1:%d\n" % dns.port)
    emus = Emulators(tmp_path, {"stt": ["Hello there."], "llm": [{"content": "Hello."}]})
    try:
        d = agent_daemon(daemon_factory, db, tmp_path, emus,
                         stt={"url": "ws://%s:%d/v1/listen" % (NAME, emus.ports["deepgram"])},
                         vagentd={"resolv_conf": str(conf)})
        uid = "5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
        context_file(d, uid)
        wav, times = str(tmp_path / "caller.wav"), str(tmp_path / "times.csv")
        caller_wav(wav, [4.0, "Hello there.", 4.0])
        t0 = time.monotonic()
        run_caller(d.port, "-u", uid, "-w", wav, "-d", "2", "-T", times, timeout=120)

        a = [e for e in dns.log if e[2] == NAME and e[3] == 1]
        assert a, "the worker asked the configured nameserver for %s" % NAME
        asked, answered = a[0][0], a[0][1]
        assert answered - asked >= DELAY - 0.05
        with open(times) as f:
            # t_us counts from the caller's connect, a few ms after t0.
            arrivals = [t0 + int(r["t_us"]) / 1e6 for r in csv.DictReader(f)
                        if r["kind"] == "16"]
        during = [t for t in arrivals if asked <= t <= answered]
        # 2 s is 100 frames: a loop blocked in the lookup would deliver none.
        assert len(during) >= 80, "%d frames while the name resolved" % len(during)
        gaps = [b - a for a, b in zip(during, during[1:]) if b - a > 0.060]
        assert not gaps, "gaps over 60 ms while the name resolved: %s" % gaps

        users = [m["content"] for q in emus.llm_requests() for m in q["messages"]
                 if m["role"] == "user"]
        assert users == ["Hello there."], "the caller was heard once the name resolved"
    finally:
        emus.stop()
        dns.close()
