"""Outbound pacing (issue 10): the agent's audio goes out on the caller's frame
wake-ups, yet keeps its 20 ms pace when the caller stops sending (silence
suppression, hold) and never bursts when the caller's frames come in a burst."""
import struct
import threading
import time

import pytest

from agent_harness import Emulators, agent_daemon, context_file
from api_harness import seed_dids
from harness import RawCall, make_wav, voluntary_switches, wait_for

# Alone, after the parallel pass (conftest.py): they count the agent's
# frames against the 20 ms clock.
pytestmark = pytest.mark.serial

FRAME_8K = b"\0\0" * 160


class Listener:
    """Reads a RawCall's frames on a thread: [(arrival monotonic s, kind, length)]."""

    def __init__(self, call):
        self.call, self.frames, self.eof = call, [], False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        buf, s = b"", self.call.s
        s.settimeout(30)
        while True:
            try:
                d = s.recv(65536)
            except OSError:
                break
            if not d:
                break
            now = time.monotonic()
            buf += d
            while len(buf) >= 3:
                n = struct.unpack(">H", buf[1:3])[0]
                if len(buf) < 3 + n:
                    break
                self.frames.append((now, buf[0], n))
                buf = buf[3 + n:]
        self.eof = True

    def audio(self, t0, t1):
        return [f for f in self.frames if f[1] in (0x10, 0x12) and t0 <= f[0] < t1]


def send_steady(call, seconds, frame=FRAME_8K, sent=None):
    """One caller frame every 20 ms on an absolute schedule, as Asterisk does;
    each one's time goes into sent, if given."""
    start = time.monotonic()
    for k in range(int(seconds * 50)):
        delay = start + k * 0.02 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        call.send(0x10, frame)
        if sent is not None:
            sent.append(time.monotonic())


def playback_call(daemon_factory, tmp_path, seconds=8.0):
    make_wav(str(tmp_path / "prompt.wav"), seconds=seconds, seed=3)
    d = daemon_factory({"call": {"engine": "playback"}},
                       extra="[playback]\nfile = %s\n" % (tmp_path / "prompt.wav"))
    c = RawCall(d.port)
    c.send_uuid()
    return d, c, Listener(c)


def test_agent_audio_keeps_its_pace_while_the_caller_is_quiet(daemon_factory, tmp_path):
    d, c, rx = playback_call(daemon_factory, tmp_path)
    send_steady(c, 1.0)
    quiet_from = time.monotonic()
    time.sleep(1.6)                 # the caller sends nothing: hold, silence suppression
    quiet_to = time.monotonic()
    send_steady(c, 0.5)
    # 1.6 s at 20 ms is 80 frames; only a stopped or bursting pacer is far off.
    got = len(rx.audio(quiet_from + 0.1, quiet_to))
    assert 60 <= got <= 85, "%d frames of agent audio in 1.5 s without caller frames" % got
    c.close()


def test_the_agent_talks_and_keeps_silence_flowing_while_the_caller_is_quiet(
        daemon_factory, db, tmp_path):
    seed_dids(db)
    emus = Emulators(tmp_path, {"stt": [], "llm": [{"content": "Unused."}]})
    try:
        d = agent_daemon(daemon_factory, db, tmp_path, emus)
        c = RawCall(d.port)
        context_file(d, str(c.uuid))
        c.send_uuid()
        rx = Listener(c)
        send_steady(c, 1.0)         # the greeting starts meanwhile
        quiet_from = time.monotonic()
        time.sleep(2.0)             # nothing from the caller: the greeting, then silence
        quiet_to = time.monotonic()
        send_steady(c, 0.3)
        got = len(rx.audio(quiet_from + 0.1, quiet_to))
        assert 75 <= got <= 105, "%d frames in 1.9 s without caller frames" % got
        assert any(n for _, k, n in rx.frames if k == 0x10), "audio frames, not a hangup"
        c.close()
    finally:
        emus.stop()


def test_a_burst_of_caller_frames_sends_no_burst_of_audio(daemon_factory, tmp_path):
    d, c, rx = playback_call(daemon_factory, tmp_path)
    send_steady(c, 1.0)
    time.sleep(0.3)                 # a network hiccup: the frames queue up...
    burst_at = time.monotonic()
    c.send_raw((b"\x10\x01\x40" + FRAME_8K) * 20)   # ...and arrive together
    send_steady(c, 1.0)
    after = rx.audio(burst_at, burst_at + 1.0)
    # A burst would show here as ~20 frames at once; paced audio is ~50 a second.
    assert 40 <= len(after) <= 56, "%d frames in the second after the burst" % len(after)
    for t in (burst_at + i * 0.1 for i in range(9)):
        n = len(rx.audio(t, t + 0.1))
        assert n <= 8, "%d frames within 100 ms after %.1f s" % (n, t - burst_at)
    c.close()


def wakeups_per_frame_sent(d, c, lead=0.0, seconds=4.0):
    """Feeds the call steady frames (after lead s of quiet) and counts its
    worker's wake-ups per frame sent over two seconds in the middle."""
    time.sleep(lead)
    sent = []
    feeder = threading.Thread(target=send_steady, args=(c, seconds, FRAME_8K, sent), daemon=True)
    feeder.start()
    pid = wait_for(lambda: [x["pid"] for x in d.calls() if x["frames_in"] >= 25],
                   what="the call under way")[0]
    time.sleep(0.3)
    a, t0 = voluntary_switches(pid), time.monotonic()
    time.sleep(2.0)
    b, t1 = voluntary_switches(pid), time.monotonic()
    feeder.join()
    # Per frame sent, not per second: a caller starved on a busy machine
    # sends fewer.
    return (b - a) / max(len([t for t in sent if t0 <= t < t1]), 1), (t0, t1)


def test_a_steady_call_costs_one_wakeup_per_caller_frame(daemon_factory, tmp_path):
    d, c, rx = playback_call(daemon_factory, tmp_path)
    c.send(0x10, FRAME_8K)          # the call starts its clock half a period
    per_frame, (t0, t1) = wakeups_per_frame_sent(d, c, lead=0.01)  # before the caller's rhythm
    # One each; a separate pacer timer would double it.
    assert per_frame < 1.4, "%.2f wake-ups per caller frame in a steady call" % per_frame
    assert len(rx.audio(t0, t1)) >= 80, "the agent's audio flowed meanwhile"
    c.close()


@pytest.mark.parametrize("late_ms", [12, 17])
def test_a_caller_whose_rhythm_moves_late_costs_one_wakeup_per_frame(daemon_factory, tmp_path,
                                                                      late_ms):
    """Issue 10: its frames now come just after the watchdog has served their
    tick; the clock must move onto them, not serve every tick from a timer."""
    d, c, rx = playback_call(daemon_factory, tmp_path)
    send_steady(c, 1.0)             # the call's clock takes the caller's phase...
    per_frame, (t0, t1) = wakeups_per_frame_sent(d, c, lead=0.02 + late_ms / 1000)
    assert per_frame < 1.4, "%.2f wake-ups per caller frame after a move of %d ms" % (
        per_frame, late_ms)
    assert len(rx.audio(t0, t1)) >= 80, "the agent's audio flowed meanwhile"
    c.close()
