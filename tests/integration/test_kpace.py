"""[call] kernel_pacing (issue 10): with send_silence = no, a reply's
frames are written a few ahead and Linux's TCP sends them one every 20 ms,
so the worker wakes once per batch while the agent speaks instead of for
every frame, and the caller still gets one frame per 20 ms, never a burst
of the frames written together."""
import csv
import time

import pytest

from agent_harness import LocalStacks, caller_wav, context_file
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


@pytest.mark.parametrize("kernel_pacing,wakeups", [("yes", (0, 32)), ("no", (40, 80))])
def test_a_reply_without_silence_is_paced_by_the_kernel(daemon_factory, db, tmp_path,
                                                       kernel_pacing, wakeups):
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    try:
        d, _ = stacks.make({"stt": [SAID], "llm": [{"content": REPLY}]},
                           sections={"call": {"send_silence": "no",
                                              "kernel_pacing": kernel_pacing}})
        uid = "7b3c1d2e-4f50-4b6c-9d7e-8f9a0b1c2d3e"
        context_file(d, uid)
        wav, times = str(tmp_path / "caller.wav"), str(tmp_path / "times.csv")
        starts = caller_wav(wav, [4.0, SAID, 14.0])
        p = start_caller(d.port, "-u", uid, "-w", wav, "-T", times, "-L")
        pid = wait_for(lambda: [x["pid"] for x in d.calls()], what="the call")[0]
        t_call = time.monotonic()
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
