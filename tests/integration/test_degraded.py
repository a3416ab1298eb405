"""Issues 11 and 13: the local engine keeps answering when a provider fails.
Each provider's emulator is made to fail; the caller is still booked (LLM
down: the scripted dialog; TTS down: the local espeak-ng voice) or handed
back (STT down), and the providers' breaker sends new calls to the overflow
engine while the LLM fails, and back to the local engine once it recovers."""
import json
import os
import time

import pytest

from agent_harness import LocalStacks, caller_wav, context_file
from harness import make_wav, run_caller, wait_for
from test_agent import BOOKING_ARGS, heard_audio


@pytest.fixture
def stack(daemon_factory, db, tmp_path):
    """make(script, faults, sections=None) -> (daemon, emulators); the
    emulators can be restarted on the same ports with other faults."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    yield stacks.make
    stacks.stop()


# The overflow tests' breaker: two failing calls open it. A failing call's
# LLM fails 5 s before its caller falls silent; the call ends IDLE_S later
# and the next call must still find the breaker open, with the cool-down
# 7 s to spare; then the test waits the cool-down out for the probe.
COOLDOWN_S, IDLE_S = 15, 3


def overflow_settings(engine, **sections):
    """Settings for a daemon whose LLM breaker overflows to engine."""
    return dict({"llm": {"retries": "0"},
                 "breaker": {"failures": "2", "cooldown": str(COOLDOWN_S)},
                 "call": {"overflow_engine": engine, "idle_timeout": str(IDLE_S)}}, **sections)


def wait_out_cooldown(opened):
    """Sleeps until the breaker opened at most at monotonic time opened has cooled."""
    time.sleep(max(0.0, opened + COOLDOWN_S + 0.5 - time.monotonic()))


def place_call(d, tmp_path, parts, uid, extra=2):
    context_file(d, uid)
    wav = str(tmp_path / ("caller-%s.wav" % uid[:8]))
    caller_wav(wav, parts)
    heard = tmp_path / ("heard-%s.wav" % uid[:8])
    res = run_caller(d.port, "-u", uid, "-w", wav, "-d", str(extra), "-r", str(heard),
                     timeout=240)
    return res["results"][0], heard


def call_row(d, uid):
    rows = wait_for(lambda: d.db.sql("SELECT engine, outcome, latency FROM calls "
                                     "WHERE uuid = %s", (uid,)), 20, "the call row")
    engine, outcome, latency = rows[0]
    return engine, outcome, json.loads(latency) if latency else {}


def booking(d, uid):
    return wait_for(lambda: d.db.sql(
        "SELECT customer_name, postcode, address, problem_description, outcome, source "
        "FROM ai_agent_bookings WHERE call_uuid = %s", (uid,)), 20, "the booking")


def test_llm_down_the_scripted_dialog_books(stack, tmp_path):
    says = ["I have a leaking pipe under the kitchen sink.", "E5 9ES.", "42 Amhurst Road.",
            "Ahmed Lekan.", "Yes please."]
    d, _ = stack({"stt": says}, "openai:refuse@503", {"llm": {"retries": "0"}})
    uid = "5e1f0a2b-3c4d-4e5f-8a9b-000000000001"
    parts = [6.0]
    for s, gap in zip(says, [9.0, 7.0, 7.0, 14.0, 14.0]):
        parts += [s, gap]
    r, heard = place_call(d, tmp_path, parts, uid)
    assert r["outcome"] == "server_hangup", "the script says goodbye and hangs up"
    assert booking(d, uid) == [("Ahmed Lekan", "E5 9ES", "42 Amhurst Road",
                                "I have a leaking pipe under the kitchen sink", "booked",
                                "local")]
    engine, outcome, latency = call_row(d, uid)
    assert (engine, outcome, latency.get("degraded")) == ("local", "booked", ["llm"])
    assert heard_audio(heard) > 10.0
    assert "scripted booking" in d.log_text()


def test_tts_down_the_local_voice_speaks_and_books(stack, tmp_path):
    d, _ = stack({
        "stt": ["I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."],
        "llm": [{"content": "Booking that now.",
                 "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
                {"content": "That's booked. Goodbye.",
                 "tool_calls": [{"name": "end_call", "arguments": {}}]}]},
        "cartesia:refuse@503")
    uid = "5e1f0a2b-3c4d-4e5f-8a9b-000000000002"
    r, heard = place_call(d, tmp_path, [6.0, "I have a leaking pipe, postcode E5 9ES, "
                                        "42 Amhurst Road, I'm Ahmed Lekan.", 14.0], uid)
    assert r["outcome"] == "server_hangup"
    assert booking(d, uid)[0][:3] == ("Ahmed Lekan", "E5 9ES", "42 Amhurst Road")
    engine, outcome, latency = call_row(d, uid)
    assert (engine, outcome, latency.get("degraded")) == ("local", "booked", ["tts"])
    assert heard_audio(heard) > 2.0, "the caller heard the local voice"
    assert "switching to the local voice" in d.log_text()


def test_stt_down_says_so_and_hands_the_call_back(stack, tmp_path):
    d, _ = stack({"stt": []}, "deepgram:refuse@503")
    uid = "5e1f0a2b-3c4d-4e5f-8a9b-000000000003"
    r, heard = place_call(d, tmp_path, [25.0], uid)
    assert r["outcome"] == "server_hangup", "we close the connection"
    assert heard_audio(heard) > 2.0, "the caller was told"
    assert "handing the caller to a person (stt-down)" in d.log_text()
    engine, outcome, latency = call_row(d, uid)
    assert (engine, outcome, latency.get("degraded")) == ("local", "handoff:stt-down", ["stt"])


def test_llm_failing_overflows_then_recovers(stack, tmp_path):
    prompt = tmp_path / "callback.wav"
    make_wav(str(prompt), seconds=1.0)
    d, emu = stack({"stt": ["Hello, I need a plumber."] * 8,
                    "llm": [{"content": "Of course. What's the postcode?"}] * 8},
                   "openai:refuse@503",
                   overflow_settings("playback", playback={"file": str(prompt)}))
    parts = [3.0, "Hello, I need a plumber.", 3.0]
    uids = ["5e1f0a2b-3c4d-4e5f-8a9b-00000000001%d" % i for i in range(5)]
    for uid in uids[:2]:		# two failing calls open the LLM breaker
        place_call(d, tmp_path, parts, uid)
    opened = time.monotonic()	# at most this late: the second call's failure was before
    place_call(d, tmp_path, parts, uids[2])
    assert [call_row(d, u)[0] for u in uids[:3]] == ["local", "local", "playback"]
    assert call_row(d, uids[0])[2].get("degraded") == ["llm"]
    emu.restart()		# the LLM is back
    wait_out_cooldown(opened)
    for uid in uids[3:]:	# the first probes (cool-down long past), the next follows
        place_call(d, tmp_path, parts, uid)
    assert [call_row(d, u)[0] for u in uids[3:]] == ["local", "local"]
    assert "degraded" not in call_row(d, uids[4])[2]
    m = wait_for(lambda: (lambda m: m if m.get("vagent_calls_overflow_total") else None)(
        d.metrics()), 5, "the overflow counter")
    assert m["vagent_calls_overflow_total"] == 1
    prom = open(os.path.join(d.run_dir, "metrics.prom")).read()
    assert 'vagent_breaker_state{stage="llm"} 0' in prom
    assert 'vagent_breaker_opened_total{stage="llm"} 1' in prom
    assert "llm breaker half-open -> closed" in d.log_text()
