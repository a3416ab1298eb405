"""[call] send_silence = no (issue 10): while the agent says nothing, the
caller's line gets a silence frame a second instead of fifty, enough for
AudioSocket() (which gives up after 2 s with no frame either way), and the
call's worker reads the caller's audio in batches meanwhile instead of
waking for every frame. The booking and barge-in calls of test_agent.py
run both ways; these look at the line and the worker. A Twilio call reads
in batches while the agent is silent whatever send_silence says: Twilio
needs nothing from us then."""
import subprocess
import struct
import time

import pytest

from agent_harness import EMU, Emulators, LocalStacks, agent_daemon, caller_wav, context_file
from api_harness import seed_dids
from harness import RawCall, run_caller, voluntary_switches, wait_for, write_wav
from test_pacing import Listener, send_steady
from test_agent import heard_frames
from test_tap import read_stereo
from twilio_harness import CALLER, GEORGE, twilio_section

# Alone, after the parallel pass (conftest.py): they count wake-ups and
# frames against the clock.
pytestmark = pytest.mark.serial


def quiet_agent_call(daemon_factory, db, tmp_path, send_silence, kernel_pacing="yes"):
    """A local-engine call whose caller streams silence: the agent greets,
    then has nothing to say. -> (daemon, emulators, call, listener)."""
    seed_dids(db)
    emus = Emulators(tmp_path, {"stt": [], "llm": [{"content": "Unused."}]})
    d = agent_daemon(daemon_factory, db, tmp_path, emus,
                     call={"send_silence": send_silence, "kernel_pacing": kernel_pacing})
    c = RawCall(d.port)
    context_file(d, str(c.uuid))
    c.send_uuid()
    return d, emus, c, Listener(c)


def after_the_greeting(c, rx):
    """Streams the caller's silence until the greeting has been heard and
    a second has passed with no voiced frame; returns its end."""
    send_steady(c, 1.0)
    voiced = [t for t, k, n in rx.frames if k == 0x10]
    assert voiced, "the greeting was heard"
    send_steady(c, 3.0)
    return time.monotonic()


# With send_silence = yes the kernel paces the silence while no reply is
# near (test_kpace.py): the frames are the same, the wake-ups those of
# reading the caller in batches.
@pytest.mark.parametrize("send_silence,kernel_pacing,frames,wakeups",
                         [("yes", "no", (140, 160), (40, 80)),
                          ("yes", "yes", (140, 160), (0, 25)),
                          ("no", "yes", (2, 4), (0, 25))])
def test_a_silent_agent_sends_frames_and_wakes_as_configured(daemon_factory, db, tmp_path,
                                                            send_silence, kernel_pacing,
                                                            frames, wakeups):
    d, emus, c, rx = quiet_agent_call(daemon_factory, db, tmp_path, send_silence,
                                      kernel_pacing)
    try:
        after_the_greeting(c, rx)
        pid = wait_for(lambda: [x["pid"] for x in d.calls()], what="the call")[0]
        a, t0 = voluntary_switches(pid), time.monotonic()
        send_steady(c, 3.0)
        b, t1 = voluntary_switches(pid), time.monotonic()
        got = rx.audio(t0, t1)
        per_s = (b - a) / (t1 - t0)
        assert frames[0] <= len(got) <= frames[1], \
            "%d frames in 3 s of a silent agent" % len(got)
        assert wakeups[0] <= per_s <= wakeups[1], \
            "the worker woke %.1f times a second while the caller talked to a silent agent" % per_s
        gaps = [y[0] - x[0] for x, y in zip(got, got[1:])]
        assert max(gaps) < 1.2, "a frame at least every second: AudioSocket() waits 2 s"
        c.close()
    finally:
        emus.stop()


def test_without_silence_a_caller_on_hold_still_gets_a_frame_a_second(daemon_factory, db,
                                                                       tmp_path):
    """Neither side sends audio (the caller's channel suppresses silence,
    or is on hold): the frame a second is all that keeps AudioSocket()
    from giving up, and the call stays up."""
    d, emus, c, rx = quiet_agent_call(daemon_factory, db, tmp_path, "no")
    try:
        after_the_greeting(c, rx)
        t0 = time.monotonic()
        time.sleep(3.5)             # nothing from the caller
        t1 = time.monotonic()
        got = rx.audio(t0, t1)
        assert 3 <= len(got) <= 5, "%d frames in 3.5 s with both sides quiet" % len(got)
        assert max(y[0] - x[0] for x, y in zip(got, got[1:])) < 1.2
        assert not rx.eof and d.calls(), "the call is still up"
        send_steady(c, 0.5)
        assert d.calls(), "and goes on when the caller's audio comes back"
        c.close()
    finally:
        emus.stop()


def voiced_frames(samples, rms=200):
    """Indexes of the 20 ms frames (8 kHz) louder than rms."""
    out = []
    for i in range(0, len(samples) - 319, 320):
        s = struct.unpack("<160h", samples[i:i + 320])
        if sum(x * x for x in s) / 160 > rms * rms:
            out.append(i // 320)
    return out


def test_without_silence_a_recording_keeps_both_sides_in_step(daemon_factory, db, tmp_path):
    """The silence the caller heard but was not sent is still in the
    recording: the agent's reply sits after the caller's words, where the
    caller heard it, not pulled forward over the gap."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    try:
        said = "It is a leaking tap."
        d, _ = stacks.make({"stt": [said], "llm": [{"content": "Right, we can sort that out."}]},
                           sections={"call": {"send_silence": "no", "record": "yes",
                                              "recording_dir": str(tmp_path / "rec")}})
        uid = "6a2b0c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
        context_file(d, uid)
        wav = str(tmp_path / "caller.wav")
        starts = caller_wav(wav, [6.0, said, 5.0])
        run_caller(d.port, "-u", uid, "-w", wav, "-r", str(tmp_path / "heard.wav"),
                   "-T", str(tmp_path / "heard.csv"), timeout=120)
        path = wait_for(lambda: db.sql("SELECT recording_path FROM calls WHERE uuid = %s",
                                       (uid,)), 20, "the calls row")[0][0]
        left, right = read_stereo(path)
        words_end = max(voiced_frames(left)) / 50 + 0.02
        agent = voiced_frames(right)
        reply = [i / 50 for i in agent if i / 50 > starts[0]]
        assert agent and agent[0] / 50 < 2.0, "the greeting at the start"
        assert reply, "the reply is in the recording"
        # endpointing, the emulated STT, model and TTS: ~0.5 s after the words
        assert words_end + 0.3 < reply[0] < words_end + 2.5, \
            "the reply at %.2f s, the caller's words ended at %.2f s" % (reply[0], words_end)
        # Where the caller heard it: the caller's audio starts on its first
        # 20 ms tick after connecting, arrivals count from the connect.
        heard = [t for t, f in heard_frames(tmp_path)
                 if t > starts[0] + 0.5 and max(abs(x) for x in struct.unpack("<160h", f)) > 600]
        assert heard, "the caller heard the reply"
        heard_gap = heard[0] - 0.01 - words_end
        assert abs((reply[0] - words_end) - heard_gap) < 0.06, \
            "the reply %.2f s after the caller's words in the recording, %.2f s as heard" % (
                reply[0] - words_end, heard_gap)
        assert abs(len(left) - len(right)) <= 16000, "the two sides within a second"
    finally:
        stacks.stop()


def test_a_twilio_caller_talking_to_a_silent_agent_is_read_in_batches(daemon_factory, db,
                                                                      tmp_path):
    seed_dids(db)
    emus = Emulators(tmp_path, {"stt": [], "llm": [{"content": "Unused."}]})
    try:
        d = agent_daemon(daemon_factory, db, tmp_path, emus, twilio=twilio_section(tmp_path))
        wav = str(tmp_path / "caller.wav")
        write_wav(wav, 8000, b"\0\0" * 8000 * 12)
        p = subprocess.Popen([EMU, "twilio", "--url", "ws://%s/twilio" %
                              d.settings["twilio"]["listen"], "--wav", wav, "--did", GEORGE,
                              "--caller", CALLER, "--hold-ms", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The greeting is over well before 8 s; then 3 s of a silent agent.
        pid = wait_for(lambda: [x["pid"] for x in d.calls() if x["frames_in"] >= 400],
                       15, "the call 8 s in: %r" % d.calls())[0]
        a, t0 = voluntary_switches(pid), time.monotonic()
        time.sleep(3.0)
        per_s = (voluntary_switches(pid) - a) / (time.monotonic() - t0)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert per_s <= 25, "the worker woke %.1f times a second for a caller's 50 media " \
            "messages a second to a silent agent" % per_s
    finally:
        emus.stop()
