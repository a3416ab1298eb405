"""What a Media Streams call costs while the agent speaks (issue 10): every
mark vagentd sends comes back on its own and wakes the call's worker, so
marks go a few a second, not one per media message, while what the caller
heard stays known to within a frame or two (barge-in: test_twilio_ms.py).
The local agent's replies are paced in batches, Twilio's buffer topped up
once a batch rather than on every caller frame, and never run dry.
Counted, not timed: marks per second of agent audio, the worker's
wake-ups per caller frame, and the emulated phone's gaps."""
import json
import subprocess
import time

import pytest

from agent_harness import EMU, LONG, LocalStacks, caller_wav, frames_of
from harness import make_wav, voluntary_switches, wait_for, write_wav
from twilio_harness import CALLER, GEORGE, twilio_section

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


def start_caller(d, tmp_path, seconds=None, *extra):
    """Twilio dialling d, its speaker on a clock of its own as the real one's
    (--play-between), the caller silent for seconds (None: tmp_path's
    caller.wav is the caller); records what it played."""
    wav = str(tmp_path / "caller.wav")
    if seconds is not None:
        write_wav(wav, 8000, b"\0\0" * int(8000 * seconds))
    url = "ws://%s/twilio" % d.settings["twilio"]["listen"]
    return subprocess.Popen([EMU, "twilio", "--url", url, "--wav", wav, "--hold-ms", "0",
                             "--play-between", "--record", str(tmp_path / "heard.wav")] +
                            list(extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wakeups_per_frame(d, after, seconds):
    """The call's worker's wake-ups per caller frame for seconds, once the
    call has had after frames -> (that, the frames before and after)."""
    pid = wait_for(lambda: [x["pid"] for x in d.calls() if x["frames_in"] >= after],
                   30, "the call %d frames in" % after)[0]
    frames = lambda: [x["frames_in"] for x in d.calls() if x["pid"] == pid][0]  # noqa: E731
    f0, a = frames(), voluntary_switches(pid)
    time.sleep(seconds)
    b, f1 = voluntary_switches(pid), frames()
    return (b - a) / max(f1 - f0, 1), f0, f1


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
    # Four seconds inside the prompt: the agent speaks all along.
    per_frame, f0, f1 = wakeups_per_frame(d, 50, 4.0)
    r = finish(p)
    assert r["outcome"] == "server_closed", r
    # A caller frame is one wake-up; each echoed mark is another (1.25 a
    # frame with a mark per 80 ms message).
    assert per_frame <= 1.15, "%.2f wake-ups per caller frame (%d frames)" % (
        per_frame, f1 - f0)


@pytest.fixture
def local(daemon_factory, db, tmp_path):
    """make(script, **emu_opts) -> (daemon, emulators): the local engine
    behind a Twilio listener."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    yield lambda script, **opts: stacks.make(
        script, sections={"twilio": twilio_section(tmp_path)}, **opts)
    stacks.stop()


def test_a_long_reply_is_paced_in_batches_and_never_runs_dry(local, tmp_path):
    # Twilio plays from its own buffer, so while the local agent speaks the
    # worker tops it up once per batch (a fifth of bargein_ms), not on each
    # caller frame; a caller frame used to be a wake-up of its own.
    d, _ = local({"stt": ["Tell me about your prices."], "llm": [{"content": LONG}]})
    caller_wav(str(tmp_path / "caller.wav"), [3.0, "Tell me about your prices.", 14.0])
    p = start_caller(d, tmp_path, None, "--did", GEORGE, "--caller", CALLER)
    # The reply starts about 6 s in and lasts about 10 s: count 3 s of it.
    per_frame, f0, f1 = wakeups_per_frame(d, 400, 3.0)
    r = finish(p)
    frames = frames_of(tmp_path / "heard.wav")
    voiced = [i for i, f in enumerate(frames) if any(f)]
    assert voiced and voiced[0] <= f0 and voiced[-1] >= f1, \
        "the agent spoke all through the count: frames %d-%d voiced, counted %d-%d" % (
            voiced[0] if voiced else -1, voiced[-1] if voiced else -1, f0, f1)
    assert r["gaps"] == 0, "Twilio's speaker never ran dry inside the reply: %r" % r
    assert r["max_queued_ms"] <= 360, "the lead, a batch more than 240 ms: %r" % r
    assert per_frame <= 0.6, "%.2f wake-ups per caller frame while the agent spoke" % (
        per_frame)


def test_a_tts_slower_than_real_time_leaves_gaps_that_the_phone_counts(local, tmp_path):
    # What keeps the test above from passing vacuously: with the TTS making
    # a second of audio every 1.5 s, no lead can keep Twilio's speaker fed,
    # and the emulated phone counts each time it ran dry inside the reply.
    d, _ = local({"stt": ["Tell me about your prices."],
                  "llm": [{"content": "Sure. A visit is forty pounds an hour, plus the parts "
                                      "we fit, and there is no charge for the quote."}]},
                 tts_rtf="1.5")
    caller_wav(str(tmp_path / "caller.wav"), [3.0, "Tell me about your prices.", 10.0])
    r = finish(start_caller(d, tmp_path, None, "--did", GEORGE, "--caller", CALLER))
    assert r["gaps"] >= 3 and r["gap_ms"] >= 20 * r["gaps"], \
        "Twilio's speaker ran dry inside the reply, and each time was counted: %r" % r
