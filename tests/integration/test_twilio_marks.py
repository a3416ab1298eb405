"""What a Media Streams call costs while the agent speaks (issue 10): every
mark vagentd sends comes back on its own and wakes the call's worker, so
marks go a few a second, not one per media message, while what the caller
heard stays known to within a frame or two (barge-in: test_twilio_ms.py).
Counted, not timed: marks per second of agent audio, and the worker's
wake-ups per caller frame."""
import json
import subprocess
import time

import pytest

from agent_harness import EMU, frames_of
from harness import make_wav, voluntary_switches, wait_for, write_wav
from twilio_harness import twilio_section

# Alone, after the parallel pass (conftest.py): the wake-ups are counted
# per caller frame, which a crowded machine bunches together.
pytestmark = pytest.mark.serial

PROMPT_S = 7.0


@pytest.fixture
def playback(daemon_factory, tmp_path):
    """A daemon whose Twilio calls hear a PROMPT_S tone from the start."""
    make_wav(str(tmp_path / "prompt.wav"), seconds=PROMPT_S, seed=3)
    return daemon_factory({"call": {"engine": "playback"},
                           "twilio": twilio_section(tmp_path)},
                          extra="[playback]\nfile = %s\n" % (tmp_path / "prompt.wav"))


def start_caller(d, tmp_path, seconds):
    """Twilio dialling d, its speaker on a clock of its own as the real one's
    (--play-between), the caller silent for seconds; records what it played."""
    wav = str(tmp_path / "caller.wav")
    write_wav(wav, 8000, b"\0\0" * int(8000 * seconds))
    url = "ws://%s/twilio" % d.settings["twilio"]["listen"]
    return subprocess.Popen([EMU, "twilio", "--url", url, "--wav", wav, "--hold-ms", "0",
                             "--play-between", "--record", str(tmp_path / "heard.wav")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p):
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return json.loads(out)["results"][0]


def test_a_few_marks_a_second_and_the_whole_prompt_heard(playback, tmp_path):
    d = playback
    r = finish(start_caller(d, tmp_path, PROMPT_S + 3.0))
    assert r["outcome"] == "server_closed", "the agent hung up after its prompt: %r" % r
    heard_s = r["played_s"]
    assert heard_s >= PROMPT_S - 0.1, "the whole prompt was played: %r" % r
    frames = frames_of(tmp_path / "heard.wav")
    voiced = [i for i, f in enumerate(frames) if any(f)]
    assert len(voiced) == voiced[-1] - voiced[0] + 1, "no gap: Twilio never ran dry"
    # The lead by the clock as by the echoes: what Twilio held unplayed (what
    # a barge-in drops) stays at 240 ms; the slack is for a busy machine
    # that makes the emulated phone play late.
    assert r["max_queued_ms"] <= 360, r
    # Was one per 80 ms message (12.5 a second); now one per 240 ms of
    # audio and one where the audio ends.
    per_s = r["marks_in"] / heard_s
    assert per_s <= 5.0, "%.1f marks per second of agent audio" % per_s
    assert r["marks_echoed"] == r["marks_in"], "every mark came back"
    d.wait_log("marks sent")
    line = [l for l in d.log_text().splitlines() if "marks sent" in l][-1]
    assert "twilio: %d marks sent" % r["marks_in"] in line, "the worker counts them: " + line


def test_the_agent_speaking_costs_about_one_wakeup_per_caller_frame(playback, tmp_path):
    d = playback
    p = start_caller(d, tmp_path, PROMPT_S + 3.0)
    pid = wait_for(lambda: [x["pid"] for x in d.calls() if x["frames_in"] >= 50],
                   what="the call under way")[0]
    # Four seconds inside the prompt: the agent speaks all along.
    f0 = [x["frames_in"] for x in d.calls() if x["pid"] == pid][0]
    a = voluntary_switches(pid)
    time.sleep(4.0)
    b = voluntary_switches(pid)
    f1 = [x["frames_in"] for x in d.calls() if x["pid"] == pid][0]
    r = finish(p)
    assert r["outcome"] == "server_closed", r
    per_frame = (b - a) / max(f1 - f0, 1)
    # A caller frame is one wake-up; each echoed mark is another (1.25 a
    # frame with a mark per 80 ms message).
    assert per_frame <= 1.15, "%.2f wake-ups per caller frame (%d frames)" % (
        per_frame, f1 - f0)
