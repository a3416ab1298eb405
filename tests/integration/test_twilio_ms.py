"""Twilio Media Streams (issue 12 item 1): Twilio dials vagentd over a
websocket on [twilio] listen, and the call runs like an AudioSocket call.
The Twilio side is vagent-emu's (`vagent-emu twilio`): it plays the caller
from a WAV, plays what vagentd sends as a phone would, echoes marks once
that audio has played and honours clear."""
import os
import struct
import wave

import pytest

from agent_harness import BOOKING_ARGS, LONG, LocalStacks, voiced_s
from harness import make_wav, read_wav, wait_for
from test_silence import voiced_frames
from test_tap import read_stereo
from twilio_harness import (CALLER, GEORGE, TOKEN, assert_booked_once, dial, place,
                            twilio_section)


@pytest.fixture
def local(daemon_factory, db, tmp_path):
    """make(script, **emu_opts) -> (daemon, emulators): the local engine
    behind a Twilio listener, Cartesia for the voice."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    yield lambda script, **opts: stacks.make(
        script, sections={"twilio": twilio_section(tmp_path)}, **opts)
    stacks.stop()


def test_a_whole_booking_call_over_media_streams(local, tmp_path):
    d, emu = local({
        "stt": ["I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."],
        "llm": [{"content": "Booking that now.",
                 "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
                {"content": "That's booked, the plumber will be with you within the hour. Bye.",
                 "tool_calls": [{"name": "end_call", "arguments": {}}]}]})
    r, frames, _ = place(d, tmp_path, [5.0, "I have a leaking pipe, postcode E5 9ES, "
                                       "42 Amhurst Road, I'm Ahmed Lekan.", 14.0])
    assert r["outcome"] == "server_closed", "the agent ends the call after its goodbye"
    assert_booked_once(d, r["call_sid"], GEORGE, CALLER,
                       "DID and caller came from customParameters")
    assert voiced_s(frames) > 3.0, "the caller heard the agent"
    assert r["marks_echoed"] == r["marks_in"] > 0, "every mark was played before the close"
    assert r["clears"] == 0
    # Each reply after a pause starts Twilio's lead afresh: 240 ms of it
    # unplayed there (test_twilio_marks.py), a batch more (300 ms) while the
    # worker reads in batches, not twice that; the slack is for a busy
    # machine that makes the emulated phone play late.
    assert r["max_queued_ms"] <= 360, r
    # The goodbye was heard to its end before vagentd closed the stream.
    assert any(any(f) for f in frames[-60:]), "the goodbye's last words were played"
    # What reached the model: the DID's company from did_context.
    system = emu.llm_requests()[0]["messages"][0]["content"]
    assert "George The Plumber" in system


def test_barge_in_sends_exactly_one_clear_and_the_agent_audio_stops(local, tmp_path):
    after = "Sure, what is your postcode?"
    d, emu = local({"stt": ["Tell me about your prices.", "Stop, I just need a plumber now."],
                    "llm": [{"content": LONG}, {"content": after}]}, tokens_per_s=8)
    r, frames, _ = place(d, tmp_path, [5.0, "Tell me about your prices.", 4.0,
                                       "Stop, I just need a plumber now.", 8.0])
    assert r["clears"] == 1, r
    at = r["clear_at_ms"][0] // 20
    assert any(any(f) for f in frames[at - 10:at]), "the agent was speaking"
    assert not any(any(f) for f in frames[at + 1:at + 20]), \
        "after the clear the caller hears silence, not the rest of the reply"
    assert voiced_s(frames[at + 20:]) > 1.0, "the next reply was heard"
    d.wait_log("barge-in")
    wait_for(lambda: d.db.sql("SELECT barge_ins FROM calls WHERE uuid = %s",
                              (r["call_sid"],)) == [(1,)], 20, "the call row, one barge-in")
    # The model's history keeps only what was heard of the long reply.
    history = emu.llm_requests()[-1]["messages"]
    said = [m["content"] for m in history if m["role"] == "assistant" and m.get("content")]
    cut = [s for s in said if s.startswith("Well")]
    assert cut and len(cut[0]) < len(LONG), said


def test_dtmf_reaches_the_engine(local, tmp_path):
    d, emu = local({"stt": [], "llm": [{"content": "Thanks, noted."}]})
    # Keys are typed input: 4, 2 then # become one turn (agent_keypad.c).
    r, _, _ = place(d, tmp_path, [8.0], "--dtmf", "4@3000", "--dtmf", "2@3300",
                    "--dtmf", "#@3600")
    assert r["outcome"] == "completed", r
    d.wait_log("DTMF #")
    users = [m["content"] for req in emu.llm_requests() for m in req["messages"]
             if m["role"] == "user"]
    assert any("42 (typed on the keypad)" in u for u in users), users


@pytest.fixture
def echo(daemon_factory, tmp_path):
    def make(token=None):
        return daemon_factory({"twilio": twilio_section(tmp_path, token)})
    return make


def test_stop_ends_the_call_cleanly(echo, tmp_path):
    d = echo()
    wav = str(tmp_path / "tone.wav")
    make_wav(wav, seconds=1.0)
    rep = dial(d, "--wav", wav, "--hold-ms", 500, "--did", GEORGE, "--caller", CALLER)
    r = rep["results"][0]
    assert r["outcome"] == "completed", "vagentd closed the stream after stop"
    d.wait_log("ended: caller hung up (Twilio stop)")
    assert r["media_in"] > 0 and r["bytes_in"] >= 8000 * 0.9, "the echo came back"
    wait_for(lambda: d.status()["idle"] >= 2, what="the worker idle again")
    assert "warn call" not in d.log_text() and "error" not in d.log_text().split("ended:")[1]


def test_a_peer_that_never_echoes_marks_still_hears_everything(echo, tmp_path):
    """Marks pace the agent's audio; without their echoes the call must not
    stall after the first 240 ms: vagentd gives up on them, says so once, and
    sends the rest as it comes."""
    d = echo()
    wav = str(tmp_path / "tone.wav")
    make_wav(wav, seconds=4.0)
    rep = dial(d, "--wav", wav, "--hold-ms", 1000, "--no-marks")
    r = rep["results"][0]
    assert r["outcome"] == "completed" and r["marks_echoed"] == 0, r
    assert r["bytes_in"] >= 8000 * 4 * 0.9, "the whole echo came back"
    assert d.log_text().count("no mark echoed") == 1


def test_a_wrong_signature_on_the_upgrade_is_refused(echo, tmp_path):
    d = echo(token=TOKEN)
    wav = str(tmp_path / "tone.wav")
    make_wav(wav, seconds=0.5)
    url = "wss://voice.example.com/twilio"
    bad = dial(d, "--wav", wav, "--token", "not-the-token", "--sign-url", url)
    assert bad["results"][0]["outcome"] == "refused", bad
    assert bad["results"][0]["http_status"] == 403, "refused with a status, not a bare close"
    d.wait_log("wrong X-Twilio-Signature")
    none = dial(d, "--wav", wav)
    assert none["results"][0]["outcome"] == "refused", "an unsigned upgrade is refused too"
    assert none["results"][0]["http_status"] == 403
    d.wait_log("no X-Twilio-Signature")
    other_url = dial(d, "--wav", wav, "--token", TOKEN, "--sign-url", url + "x")
    assert other_url["results"][0]["outcome"] == "refused", "the URL is part of what is signed"
    good = dial(d, "--wav", wav, "--token", TOKEN, "--sign-url", url, "--hold-ms", 200)
    r = good["results"][0]
    assert r["outcome"] == "completed" and r["media_in"] > 0, good
    assert "started:" in d.log_text() and d.log_text().count("started:") == 1, \
        "only the signed call started"


def samples(raw):
    return struct.unpack("<%dh" % (len(raw) // 2), raw)


def test_a_recorded_twilio_call_keeps_what_the_caller_heard_on_the_right(daemon_factory,
                                                                         tmp_path):
    """[call] record on a Media Streams call: the stereo WAV's right channel is
    the agent's audio as sent to Twilio (mu-law, decoded), not silence."""
    rec = tmp_path / "rec"
    d = daemon_factory({"twilio": twilio_section(tmp_path),
                        "call": {"record": "yes", "recording_dir": str(rec)}})
    wav = str(tmp_path / "tone.wav")
    make_wav(wav, seconds=2.0, seed=7)
    heard = tmp_path / "heard.wav"
    rep = dial(d, "--wav", wav, "--hold-ms", 1000, "--record", heard)
    r = rep["results"][0]
    assert r["outcome"] == "completed" and r["bytes_in"] >= 8000 * 2 * 0.9, r
    path = str(rec / (r["call_sid"] + ".wav"))
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 44 + 4 * 8000,
             10, "the recording")
    d.wait_log("ended:")
    with wave.open(path, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        s = samples(w.readframes(w.getnframes()))
    left, right = s[0::2], s[1::2]
    voiced_right = [v for v in right if v]
    assert len(voiced_right) >= 8000 * 2 * 0.9, "the echoed tone was recorded on the right"
    # The echo the phone played, sample for sample, is what the right channel holds.
    played = [v for v in samples(read_wav(str(heard))[1]) if v]
    assert voiced_right == played
    assert sum(1 for v in left if v) >= 8000 * 2 * 0.9, "the caller side too"



@pytest.fixture
def recorded(daemon_factory, db, tmp_path):
    """call(script, parts, **emu_opts) -> (result, frames heard, sentence
    starts, recording's left, right): a recorded Media Streams call to the
    local engine."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)

    def call(script, parts, **opts):
        d, _ = stacks.make(script, sections={"twilio": twilio_section(tmp_path),
                                             "call": {"record": "yes",
                                                      "recording_dir": str(tmp_path / "rec")}},
                           **opts)
        r, frames, starts = place(d, tmp_path, parts)
        left, right = read_stereo(str(tmp_path / "rec" / (r["call_sid"] + ".wav")))
        return r, frames, starts, left, right
    yield call
    stacks.stop()


def test_a_recorded_twilio_reply_sits_where_the_caller_heard_it(recorded):
    """Twilio buffers what it plays and is sent nothing while the agent is
    silent, so the recording cannot take the agent's side as sent: a reply
    goes into the recording where the phone played it, after the caller's
    words, not pulled forward over the gap between them."""
    said = "It is a leaking tap."
    r, frames, starts, left, right = recorded(
        {"stt": [said], "llm": [{"content": "Right, we can sort that out."}]}, [6.0, said, 5.0])
    words_end = max(voiced_frames(left)) / 50 + 0.02
    reply = [i / 50 for i in voiced_frames(right) if i / 50 > starts[0]]
    assert reply, "the reply is in the recording"
    # The phone's speaker ticks with the caller's frames: frame i of what
    # it played is frame i of the call.
    heard = [i / 50 for i, f in enumerate(frames)
             if i / 50 > starts[0] + 0.5 and max(samples(f)) > 600]
    assert heard, "the caller heard the reply"
    assert abs((reply[0] - words_end) - (heard[0] - words_end)) < 0.06, \
        "the reply %.2f s after the caller's words in the recording, %.2f s as heard" % (
            reply[0] - words_end, heard[0] - words_end)
    assert abs(len(left) - len(right)) <= 16000, "the two sides within a second"


def test_a_recorded_twilio_barge_in_keeps_only_what_was_played(recorded):
    """On a barge-in Twilio drops what it held of the reply (clear): the
    recording's right channel stops where the caller stopped hearing it,
    not a lead's worth of unplayed audio later."""
    r, frames, _, _, right = recorded(
        {"stt": ["Tell me about your prices.", "Stop, I just need a plumber now."],
         "llm": [{"content": LONG}, {"content": "Sure, what is your postcode?"}]},
        [5.0, "Tell me about your prices.", 4.0, "Stop, I just need a plumber now.", 8.0],
        tokens_per_s=8)
    assert r["clears"] == 1, r
    at = r["clear_at_ms"][0] / 1000
    cut = max(i / 50 for i in voiced_frames(right) if i / 50 < at + 0.2)
    heard = max(i / 50 for i, f in enumerate(frames) if any(f) and i / 50 < at + 0.2)
    assert abs(cut - heard) < 0.06, \
        "the cut reply ends at %.2f s in the recording, %.2f s as heard" % (cut, heard)
