"""The seed's "local v1" stack: Deepgram + an OpenAI-compatible model (Groq)
+ ElevenLabs TTS over its multi-stream-input websocket, against the
provider emulators: a whole booking call, barge-in during ElevenLabs speech,
and the TTS provider chosen per DID in one daemon."""
import json
import os
import re
import urllib.request

import pytest

from agent_harness import (BOOKING_ARGS, LONG, LocalStacks, context_file, caller_wav,
                           frames_of, script_file, start_emu, voiced_s)
from harness import free_port, read_wav, run_caller, wait_for

XI_KEY = "test-elevenlabs-key"
XI_VOICE = "JBFqnCBsd6RMkjVDRZzb"
GEORGE, SPARK = "442039962952", "442071234567"


class XiEmulator:
    """vagent-emu serving ElevenLabs TTS alone (one espeak-ng per process)."""

    def __init__(self, path, **opts):
        self.port = free_port()
        args = ["--script", script_file(path, "xi_script.json", {"stt": [], "llm": []}),
                "--log", os.path.join(str(path), "xi_emu.log"),
                "--elevenlabs", self.port, "--key-elevenlabs", XI_KEY]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), v]
        self.proc = start_emu(args)

    def requests(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/emu/requests" % self.port,
                                    timeout=5) as r:
            return json.load(r)

    def messages(self):
        return [r for r in self.requests() if "message" in r]

    def opens(self):
        return [r for r in self.requests() if r.get("event") == "open"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def v1_settings(xi):
    """The v1 stack as the seed ran it: nova-2, llama versatile, ElevenLabs
    Flash v2 with ulaw_8000 and the seed's voice settings."""
    return {"stt": {"model": "nova-2"},
            "llm": {"model": "llama-3.3-70b-versatile"},
            "tts": {"provider": "elevenlabs",
                    "elevenlabs_url": "ws://127.0.0.1:%d" % xi.port,
                    "elevenlabs_voice": XI_VOICE, "elevenlabs_model": "eleven_flash_v2",
                    "elevenlabs_output_format": "ulaw_8000",
                    "elevenlabs_stability": "0.4", "elevenlabs_similarity_boost": "0.85"}}


@pytest.fixture
def v1(daemon_factory, db, tmp_path):
    """make(script, sections=None, xi_faults=None, **emu_opts) -> (daemon, emulators, xi)."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)

    def make(script, sections=None, xi_faults=None, **opts):
        xi = XiEmulator(tmp_path, **dict(opts, **({"faults": xi_faults} if xi_faults else {})))
        stacks.made.append(xi)
        settings = v1_settings(xi)
        for k, v in (sections or {}).items():
            settings.setdefault(k, {}).update(v)
        os.environ["VAGENT_ELEVENLABS_API_KEY"] = XI_KEY
        d, e = stacks.make(script, sections=settings, **opts)
        return d, e, xi

    yield make
    stacks.stop()


def place_call(d, tmp_path, parts, uid, did=GEORGE, extra=2):
    context_file(d, uid, did=did)
    wav = str(tmp_path / ("caller_%s.wav" % uid[:8]))
    heard = tmp_path / ("heard_%s.wav" % uid[:8])
    caller_wav(wav, parts)
    res = run_caller(d.port, "-u", uid, "-w", wav, "-d", str(extra), "-r", str(heard),
                     timeout=180)
    return res["results"][0], heard


def contexts(msgs, tag):
    """{context id: [messages]} of one call's contexts (ids "<tag>-<n>")."""
    out = {}
    for r in msgs:
        m = r["message"]
        if isinstance(m, dict) and str(m.get("context_id", "")).startswith(tag + "-"):
            out.setdefault(m["context_id"], []).append(m)
    return out


def test_a_whole_booking_call_through_the_v1_stack(v1, tmp_path):
    d, emu, xi = v1({
        "stt": ["I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."],
        "llm": [{"content": "Booking that now.",
                 "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
                {"content": "That's booked, the plumber will be with you within the hour. Bye.",
                 "tool_calls": [{"name": "end_call", "arguments": {}}]}]})
    uid = "7a1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    r, heard = place_call(d, tmp_path, [5.0, "I have a leaking pipe, postcode E5 9ES, "
                                        "42 Amhurst Road, I'm Ahmed Lekan.", 14.0], uid)
    assert r["outcome"] == "server_hangup", "the agent hangs up after its goodbye"
    rows = wait_for(lambda: d.db.sql(
        "SELECT customer_name, postcode, address, outcome, source FROM ai_agent_bookings "
        "WHERE call_uuid = %s", (uid,)), 20, "the booking")
    assert rows == [("Ahmed Lekan", "E5 9ES", "42 Amhurst Road", "booked", "local")]
    assert voiced_s(frames_of(heard)) > 3.0, "the caller heard the agent"
    # One connection served every reply: greeting, "Booking that now.", goodbye.
    opens = xi.opens()
    assert len(opens) == 1, opens
    query = dict(opens[0]["query"])
    assert opens[0]["path"] == "/v1/text-to-speech/%s/multi-stream-input" % XI_VOICE
    assert (query["model_id"], query["output_format"]) == ("eleven_flash_v2", "ulaw_8000")
    ctxs = contexts(xi.messages(), uid[:8])
    assert len(ctxs) >= 3, list(ctxs)
    for cid, msgs in ctxs.items():
        first = msgs[0]
        assert first["text"] == " " and first["voice_settings"]["stability"] == 0.4, first
        assert all("voice_settings" not in m for m in msgs[1:]), "settings only once"
        texts = [m["text"] for m in msgs[1:] if m.get("text")]
        assert all(t.endswith(" ") and not t.endswith("  ") for t in texts), texts
        assert msgs[-1] == {"context_id": cid, "close_context": True}
        assert msgs[-2].get("flush") is True, "the reply's end is flushed"
    spoken = " ".join(m["text"] for ms in ctxs.values() for m in ms if m.get("text"))
    assert "Booking that now." in spoken and "within the hour." in spoken
    # The goodbye's first clause went out on its own, flushed: speech starts early.
    goodbye = [ms for ms in ctxs.values() if any("booked" in m.get("text", "") for m in ms)][0]
    assert goodbye[1] == {"text": "That's booked, ", "context_id": goodbye[0]["context_id"],
                          "flush": True}, goodbye[1]
    assert not emu.requests("cartesia"), "Cartesia is not used by this DID"


def test_barge_in_during_elevenlabs_speech_stops_it_and_the_next_reply_plays(v1, tmp_path):
    """Tokens 125 ms apart: the caller talks over the first clauses while the
    model is still writing, so the reply's context is closed half sent."""
    after = "Sure, what is your postcode?"
    d, emu, xi = v1({"stt": ["Tell me about your prices.", "Stop, I just need a plumber now."],
                     "llm": [{"content": LONG}, {"content": after}]}, tokens_per_s=8)
    uid = "8b1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    r, heard = place_call(d, tmp_path, [5.0, "Tell me about your prices.", 4.0,
                                        "Stop, I just need a plumber now.", 8.0], uid)
    d.wait_log("barge-in")
    frame = int(re.search(r"at outbound frame (\d+)", d.log_text()).group(1))
    frames = frames_of(heard)
    assert any(any(f) for f in frames[frame - 10:frame]), "the agent was speaking"
    assert not any(any(f) for f in frames[frame + 1:frame + 20]), \
        "after the barge-in the caller hears silence, not the rest of the reply"
    assert voiced_s(frames[frame + 20:]) > 1.0, "the next reply was heard"
    ctxs = contexts(xi.messages(), uid[:8])
    long_ctx = [c for c, ms in ctxs.items() if any("Well, " == m.get("text") for m in ms)][0]
    sent = "".join(m.get("text", "") for m in ctxs[long_ctx][1:])
    assert ctxs[long_ctx][-1] == {"context_id": long_ctx, "close_context": True}
    assert len(sent) < len(LONG), "the interrupted reply was closed before all of it was sent"
    nxt = [c for c, ms in ctxs.items() if any(after.split(",")[0] in m.get("text", "")
                                             for m in ms)]
    assert nxt and nxt[0] != long_ctx, "the next reply is a context of its own"
    assert len(xi.opens()) == 1, "barge-in needs no new connection"
    wait_for(lambda: d.db.sql("SELECT barge_ins FROM calls WHERE uuid = %s", (uid,)) == [(1,)],
             20, "the call row with one barge-in")
    assert "error" not in d.log_text().split("barge-in")[1], "a late isFinal is harmless"


def test_the_tts_provider_is_chosen_per_did(v1, tmp_path):
    """[tts] provider = elevenlabs for all, [did:SPARK] tts = cartesia: each
    call's voice comes from its own provider, in the same daemon."""
    d, emu, xi = v1({"stt": [], "llm": []},
                    sections={"did:" + SPARK: {"tts": "cartesia"}})
    a = "9c1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    b = "ad1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    ra, heard_a = place_call(d, tmp_path, [6.0], a, did=GEORGE)
    rb, heard_b = place_call(d, tmp_path, [6.0], b, did=SPARK)
    assert voiced_s(frames_of(heard_a)) > 1.0 and voiced_s(frames_of(heard_b)) > 1.0, \
        "both callers heard a greeting"
    xi_said = " ".join(m["text"] for ms in contexts(xi.messages(), a[:8]).values()
                       for m in ms if m.get("text"))
    assert "George The Plumber" in xi_said
    assert not contexts(xi.messages(), b[:8]), "the cartesia DID never reached ElevenLabs"
    cart = [r.get("message", {}) for r in emu.requests("cartesia")]
    cart_ids = {m.get("context_id", "").split("-")[0] for m in cart if isinstance(m, dict)}
    assert b[:8] in cart_ids and a[:8] not in cart_ids, cart_ids
    spoken = "".join(m.get("transcript", "") for m in cart if isinstance(m, dict))
    assert "Spark Electrical" in spoken


def test_a_16khz_call_gets_pcm_16000_at_its_own_rate(v1, tmp_path):
    """ulaw_8000 is configured; a 16 kHz call asks for pcm_16000, so its
    audio is never resampled, and the caller hears the greeting."""
    d, emu, xi = v1({"stt": [], "llm": []})
    uid = "be1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    context_file(d, uid)
    heard = tmp_path / "heard16.wav"
    run_caller(d.port, "-u", uid, "-R", "16000", "-d", "6", "-r", str(heard), timeout=60)
    rate, data = read_wav(str(heard))
    assert rate == 16000
    fb = rate // 50 * 2
    assert sum(1 for i in range(0, len(data) - fb + 1, fb) if any(data[i:i + fb])) / 50 > 1.0
    assert [dict(o["query"])["output_format"] for o in xi.opens()] == ["pcm_16000"]


def test_elevenlabs_dropping_the_socket_mid_reply_is_survived(v1, tmp_path):
    """The first connection is cut after 4 messages (mid-greeting): the reply
    is given up, the next one opens a new connection and is heard."""
    d, emu, xi = v1({"stt": ["Do you do boilers?"],
                     "llm": [{"content": "Yes, we service and repair boilers."}]},
                    xi_faults="elevenlabs:once:close@4")
    uid = "cf1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    r, heard = place_call(d, tmp_path, [5.0, "Do you do boilers?", 6.0], uid)
    assert len(xi.opens()) == 2, "a new connection for the next reply"
    said = [m["text"] for m in xi.messages() if m["conn"] == 1
            for m in [dict(m["message"], conn=m["conn"])] if m.get("text", " ") != " "]
    assert any("boilers" in t for t in said), said
    frames = frames_of(heard)
    assert voiced_s(frames[:250]) < 1.0, "the greeting was cut with its connection"
    assert voiced_s(frames[250:]) > 1.0, "the answer after the reconnect was heard"
    assert "ElevenLabs closed (code 1011" in d.log_text()
    assert "lost for good" not in d.log_text()


def test_a_refused_key_goes_on_in_the_local_voice_instead_of_dead_air(v1, tmp_path):
    d, emu, xi = v1({"stt": [], "llm": []}, xi_faults="elevenlabs:refuse@401")
    uid = "d01f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    r, heard = place_call(d, tmp_path, [8.0], uid)
    log = d.log_text()
    assert "HTTP 401" in log and "switching to the local voice" in log
    assert log.count("giving up") == 1 and "reconnecting" not in log, "one refusal, no retry"
    assert voiced_s(frames_of(heard)) > 1.0, "the greeting was heard in the local voice"
