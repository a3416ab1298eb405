"""[call] kernel_pacing (issue 10): a reply's frames are written a few
ahead and Linux's TCP sends them one every 20 ms, so the worker wakes once
per batch while the agent speaks instead of for every frame, and the
caller still gets one frame per 20 ms, never a burst of the frames written
together. With send_silence = yes, so does the silence while the caller
has the turn."""
import csv
import time

import pytest

from agent_harness import CloudStacks, LocalStacks, caller_wav, context_file
from harness import finish_caller, start_caller, voluntary_switches, wait_for

# Alone, after the parallel pass (conftest.py): they count wake-ups.
pytestmark = pytest.mark.serial

SAID = "My kitchen tap is leaking."
REPLY = ("Right, we can send a plumber round to you. " * 2 +
         "Someone will be with you tomorrow morning between eight and ten o'clock. " * 2)


def arrivals(path):
    """Each received frame's arrival (seconds) and samples, in order."""
    with open(path) as f:
        return [(int(r["t_us"]) / 1e6, int(r["bytes"]) // 2) for r in csv.DictReader(f)]


def start_call(stacks, tmp_path, script, sections, uid, caller_script):
    """A daemon of the local stack, and one call to it recording arrivals:
    the daemon, the caller, the worker's pid, when the call began, when
    each of the caller's words begins, and the arrivals file."""
    d, _ = stacks.make(script, sections=sections)
    context_file(d, uid)
    wav, times = str(tmp_path / "caller.wav"), str(tmp_path / "times.csv")
    starts = caller_wav(wav, caller_script)
    p = start_caller(d.port, "-u", uid, "-w", wav, "-T", times, "-L")
    pid = wait_for(lambda: [x["pid"] for x in d.calls()], what="the call")[0]
    return d, p, pid, time.monotonic(), starts, times


@pytest.mark.parametrize("kernel_pacing,wakeups", [("yes", (0, 32)), ("no", (40, 80))])
def test_a_reply_without_silence_is_paced_by_the_kernel(daemon_factory, db, tmp_path,
                                                       kernel_pacing, wakeups):
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    try:
        d, p, pid, t_call, starts, times = start_call(
            stacks, tmp_path, {"stt": [SAID], "llm": [{"content": REPLY}]},
            {"call": {"send_silence": "no", "kernel_pacing": kernel_pacing}},
            "7b3c1d2e-4f50-4b6c-9d7e-8f9a0b1c2d3e", [4.0, SAID, 14.0])
        # The reply is under way a second after the caller's words; the
        # caller is silent until the script's end.
        time.sleep(max(0.0, starts[0] + 3.0 - (time.monotonic() - t_call)))
        n0, f0, t0 = voluntary_switches(pid), d.calls()[0]["frames_out"], time.monotonic()
        time.sleep(3.0)
        n1, f1, t1 = voluntary_switches(pid), d.calls()[0]["frames_out"], time.monotonic()
        r = finish_caller(p, timeout=120)
        assert r["turns"] >= 1 and not r["errors"], r
        assert (f1 - f0) / (t1 - t0) > 45, "the agent spoke all through the window"
        per_s = (n1 - n0) / (t1 - t0)
        assert wakeups[0] <= per_s <= wakeups[1], \
            "the worker woke %.1f times a second while the agent spoke" % per_s
        rx = arrivals(times)
        # The window as the caller saw it: frames of 20 ms, one by one.
        reply = [t for t, n in rx if n == 160 and rx[0][0] + starts[0] + 3.0 <= t]
        gaps = [b - a for a, b in zip(reply, reply[1:150])]
        assert len(gaps) == 149, "the reply was heard"
        assert min(gaps) > 0.010, "frames written together left together"
        assert abs(sum(gaps) / len(gaps) - 0.020) < 0.001, "one frame per 20 ms"
    finally:
        stacks.stop()


@pytest.mark.parametrize("kernel_pacing,wakeups", [("yes", (0, 32)), ("no", (40, 80))])
def test_silence_between_replies_is_paced_by_the_kernel(daemon_factory, db, tmp_path,
                                                        kernel_pacing, wakeups):
    """With send_silence = yes the caller hears a frame every 20 ms while
    the agent is silent, but while no reply is near the worker writes that
    silence ahead and reads the caller in batches."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    try:
        d, p, pid, t_call, starts, times = start_call(
            stacks, tmp_path, {"stt": [SAID], "llm": [{"content": "Right."}]},
            {"call": {"send_silence": "yes", "kernel_pacing": kernel_pacing}},
            "8c4d2e3f-5061-4c7d-8e9f-a0b1c2d3e4f5", [9.0, SAID, 4.0])
        # The greeting is over; the caller says nothing for a while yet.
        time.sleep(max(0.0, 5.0 - (time.monotonic() - t_call)))
        n0, t0 = voluntary_switches(pid), time.monotonic()
        time.sleep(3.0)
        n1, t1 = voluntary_switches(pid), time.monotonic()
        r = finish_caller(p, timeout=120)
        assert r["turns"] >= 1 and not r["errors"], r
        per_s = (n1 - n0) / (t1 - t0)
        assert wakeups[0] <= per_s <= wakeups[1], \
            "the worker woke %.1f times a second while the agent was silent" % per_s
        rx = arrivals(times)
        quiet = [t for t, n in rx if n == 160 and
                 rx[0][0] + 5.0 <= t <= rx[0][0] + starts[0] - 0.5]
        gaps = [b - a for a, b in zip(quiet, quiet[1:])]
        assert len(gaps) > 150, "silence was sent while the agent was silent"
        assert min(gaps) > 0.010 and max(gaps) < 0.040, \
            "a frame every 20 ms: %.1f-%.1f ms apart" % (min(gaps) * 1e3, max(gaps) * 1e3)
        assert abs(sum(gaps) / len(gaps) - 0.020) < 0.001, "one frame per 20 ms"
    finally:
        stacks.stop()


GREETING = ("Hello, you are through to the plumbers. We cover the whole of the city "
            "and the villages around it, day and night, every day of the year. "
            "How can I help you today?")


@pytest.mark.parametrize("kernel_pacing,wakeups", [("yes", (0, 32)), ("no", (40, 80))])
def test_the_greeting_is_paced_by_the_kernel_once_under_way(daemon_factory, db, tmp_path,
                                                            kernel_pacing, wakeups):
    """A connection's first ten segments leave unpaced (as_kpace.h), so the
    greeting begins frame by frame; the kernel takes over while it plays,
    and the first millisecond of the frame it takes over with is that
    frame's own: nothing is put into the agent's speech."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    try:
        d, p, pid, t_call, _, times = start_call(
            stacks, tmp_path, {"stt": [], "llm": []},
            {"call": {"send_silence": "no", "kernel_pacing": kernel_pacing},
             "local": {"greeting": GREETING}},
            "9d5e3f40-6172-4d8e-9fa0-b1c2d3e4f5a6", [12.0])
        time.sleep(max(0.0, 1.5 - (time.monotonic() - t_call)))
        n0, t0 = voluntary_switches(pid), time.monotonic()
        time.sleep(3.0)
        n1, t1 = voluntary_switches(pid), time.monotonic()
        r = finish_caller(p, timeout=120)
        assert not r["errors"], r
        per_s = (n1 - n0) / (t1 - t0)
        assert wakeups[0] <= per_s <= wakeups[1], \
            "the worker woke %.1f times a second in the greeting" % per_s
        rx = arrivals(times)
        sizes = [n for _, n in rx]
        for i, n in enumerate(sizes[:-1]):
            if n == 8:
                assert sizes[i + 1] in (152, 160), sizes[i:i + 2]
        if kernel_pacing == "yes":
            # The greeting's frames written ahead began inside its speech.
            assert 152 in sizes, "the kernel took over the greeting under way"
        greeting = [t for t, n in rx if n == 160 and rx[0][0] + 1.5 <= t <= rx[0][0] + 4.5]
        gaps = [b - a for a, b in zip(greeting, greeting[1:])]
        assert len(gaps) > 140, "the greeting was heard"
        assert min(gaps) > 0.010 and max(gaps) < 0.040, \
            "a frame every 20 ms: %.1f-%.1f ms apart" % (min(gaps) * 1e3, max(gaps) * 1e3)
    finally:
        stacks.stop()


@pytest.mark.parametrize("kernel_pacing,wakeups", [("yes", (0, 32)), ("no", (40, 80))])
def test_a_cloud_agents_audio_and_the_silence_after_it_are_paced_by_the_kernel(
        daemon_factory, db, tmp_path, kernel_pacing, wakeups):
    """The bridge to a cloud agent (the elevenlabs engine) reads the caller
    in batches too, except in the quiet after the caller's voice: the kernel
    paces the agent's audio and, once nothing waits for an answer, the
    silence after it (send_silence = yes)."""
    did, uid = "442039962952", "7b3c1d2e-4f50-4b6c-9d7e-8f9a0b1c2d40"
    stacks = CloudStacks(daemon_factory, db, tmp_path, did,
                         call={"kernel_pacing": kernel_pacing})
    try:
        d, _ = stacks.make({"input_format": "ulaw_8000", "output_format": "ulaw_8000",
                            "chunk_ms": 200,
                            "turns": [{"say": "A long greeting.", "ms": 5000},
                                      {"user": "Never said.", "say": "Unused.", "ms": 500}]})
        context_file(d, uid, did)
        wav, times = str(tmp_path / "caller.wav"), str(tmp_path / "times.csv")
        caller_wav(wav, [12.0])
        p = start_caller(d.port, "-u", uid, "-w", wav, "-T", times, "-L")
        pid = wait_for(lambda: [x["pid"] for x in d.calls()], what="the call")[0]
        t_call = time.monotonic()
        rates, seen = [], []
        for start in (1.5, 7.0):        # inside the greeting, then after it
            time.sleep(max(0.0, start - (time.monotonic() - t_call)))
            n0, f0, t0 = voluntary_switches(pid), d.calls()[0]["frames_out"], time.monotonic()
            for _ in range(6):          # where in the window, should it fail
                time.sleep(0.5)
                seen.append("%.1f s: %d wake-ups, %d frames" % (
                    time.monotonic() - t_call, voluntary_switches(pid),
                    d.calls()[0]["frames_out"]))
            n1, f1, t1 = voluntary_switches(pid), d.calls()[0]["frames_out"], time.monotonic()
            assert (f1 - f0) / (t1 - t0) > 45, "a frame every 20 ms, voice or silence"
            rates.append((n1 - n0) / (t1 - t0))
        r = finish_caller(p, timeout=120)
        assert not r["errors"], r
        for what, per_s in zip(("greeting", "silence after it"), rates):
            assert wakeups[0] <= per_s <= wakeups[1], \
                "the worker woke %.1f times a second in the %s (%s)\n%s" % (
                    per_s, what, "; ".join(seen), d.log_text()[-3000:])
        rx = [t for t, n in arrivals(times) if n == 160]
        gaps = [b - a for a, b in zip(rx[100:], rx[101:400])]
        assert len(gaps) == 299 and min(gaps) > 0.010, "frames written together left together"
        assert abs(sum(gaps) / len(gaps) - 0.020) < 0.001, "one frame per 20 ms"
    finally:
        stacks.stop()
