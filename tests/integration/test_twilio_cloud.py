"""The elevenlabs engine behind Twilio Media Streams (issue 12: "the same
engines (local, elevenlabs) run behind it"). The emulated Twilio
(`vagent-emu twilio`) dials a DID routed to the elevenlabs engine; the
bridge talks to the agent emulator (vagent-emu --xi-agent) in the agent's
format while the call is 8 kHz mu-law: a booking through the client tool,
the agent's audio played to the caller, barge-in as exactly one clear, and
the call's own variables (customParameters) passed on as dynamic variables
without overriding the DID's context."""
import json

import pytest

from agent_harness import CloudStacks, voiced_s
from harness import wait_for
from test_cloud_stack import booking_script
from twilio_harness import CALLER, GEORGE, place, twilio_section


@pytest.fixture
def stack(daemon_factory, db, tmp_path):
    """make(script) -> (daemon, agent): a Twilio listener; DID 442039962952
    goes to elevenlabs, its context from this daemon's own api."""
    stacks = CloudStacks(daemon_factory, db, tmp_path, GEORGE, twilio=twilio_section(tmp_path))
    yield stacks.make
    stacks.stop()


def voiced_runs(frames):
    """[(first frame, length)] of each stretch of voiced 20 ms frames,
    gaps of up to 3 frames (a resampler's edge) bridged."""
    runs, start, last = [], None, None
    for i, f in enumerate(frames):
        if not any(f):
            continue
        if start is None or i - last > 4:
            if start is not None:
                runs.append((start, last - start + 1))
            start = i
        last = i
    if start is not None:
        runs.append((start, last - start + 1))
    return runs


@pytest.mark.parametrize("fmt", ["ulaw_8000", "pcm_16000", "pcm_8000"])
def test_a_booking_through_the_cloud_agent_over_media_streams(stack, tmp_path, fmt):
    """The agent's audio in its own format (u-law as is, 16 kHz resampled
    to the call's 8 kHz, 8 kHz PCM as is) reaches the caller whole; the
    caller's audio reaches the agent, which books through createBooking."""
    d, agent = stack(booking_script(fmt))
    r, frames, _ = place(d, tmp_path, [3.0, "I have a leaking pipe, I'm Ahmed Lekan.", 8.0])
    assert r["outcome"] == "server_closed", "the call ends when the conversation ends"
    sid = r["call_sid"]
    rows = wait_for(lambda: d.db.sql(
        "SELECT customer_name, postcode, address, did_number, company_name, outcome, source "
        "FROM ai_agent_bookings WHERE call_uuid = %s", (sid,)), 20, "the booking")
    assert rows == [("Ahmed Lekan", "E5 9ES", "42 Amhurst Road", GEORGE,
                     "George The Plumber", "booked", "cloud")]
    calls = wait_for(lambda: d.db.sql("SELECT engine, outcome, did, cli FROM calls "
                                      "WHERE uuid = %s", (sid,)), 20, "the call row")
    assert calls == [("elevenlabs", "booked", GEORGE, CALLER)]
    conv, = agent.state()
    res, = conv["tool_results"]
    assert res["is_error"] is False and json.loads(res["result"])["success"] is True
    assert conv["pings"] and conv["pongs"] == conv["pings"]
    assert conv["closed_by"] == "agent"
    width = 1 if fmt.startswith("ulaw") else 2
    rate = 16000 if fmt == "pcm_16000" else 8000
    assert conv["audio_in_bytes"] > rate * width * 4, "the caller's audio went up"
    # What Twilio played: the greeting (1.4 s) and the answer (1.0 s), whole,
    # each as one stretch; the answer after the caller spoke.
    runs = voiced_runs(frames)
    assert [n for _, n in runs] == pytest.approx([70, 50], abs=3), runs
    assert voiced_s(frames) == pytest.approx(2.4, abs=0.1)
    assert r["clears"] == 0, "no barge-in, no clear"
    assert r["marks_echoed"] == r["marks_in"] > 0, "all of it was played before the close"
    d.wait_log("the conversation ended")


def test_the_agents_interruption_sends_exactly_one_clear(stack, tmp_path):
    """A 6 s greeting, sent at once, is queued at vagentd; the caller talks
    over it at 1.5 s. The agent's interruption cancels the greeting: one
    clear to Twilio, then silence (not the rest, nor the late chunk the
    emulator sends after its interruption), then the whole answer."""
    d, agent = stack({
        "input_format": "pcm_16000", "output_format": "pcm_16000", "chunk_ms": 200,
        "turns": [{"say": "A long greeting about prices.", "ms": 6000, "ping": True},
                  {"user": "Stop, I just need a plumber now.",
                   "say": "Sure, what is your postcode?", "ms": 1600, "end": True}]})
    r, frames, starts = place(d, tmp_path, [1.5, "Stop, I just need a plumber now.", 6.0])
    assert r["outcome"] == "server_closed", r
    assert r["clears"] == 1, r
    conv, = agent.state()
    n, = conv["interruptions"]
    assert conv["late_audio"] == [n]
    at = r["clear_at_ms"][0] // 20
    t_speech = int(starts[0] * 50)
    assert t_speech < at < t_speech + 50, "the clear came while the caller spoke"
    assert voiced_s(frames[:at]) == pytest.approx(at / 50, abs=0.2), \
        "the greeting played until the clear"
    assert not any(any(f) for f in frames[at + 1:at + 20]), \
        "after the clear the caller hears silence, not the rest of the greeting"
    runs = voiced_runs(frames[at + 1:])
    assert len(runs) == 1 and runs[0][1] == pytest.approx(80, abs=3), \
        "then the answer alone, whole: %r" % runs
    calls = wait_for(lambda: d.db.sql("SELECT engine, outcome, barge_ins FROM calls "
                                      "WHERE uuid = %s", (r["call_sid"],)), 20, "the call row")
    assert calls == [("elevenlabs", "completed", 1)]
    d.wait_log("interruption at event %d" % n)


def test_the_calls_variables_reach_the_agent_but_not_over_the_context(stack, tmp_path):
    """customParameters beyond did and caller are the call's variables (an
    outbound call's --var): they go to the agent as dynamic variables; one
    named like a did_context field does not replace the DID's value."""
    d, agent = stack({
        "input_format": "ulaw_8000", "output_format": "ulaw_8000", "chunk_ms": 200,
        "turns": [{"say": "Hello Ahmed, about job JOB-4711.", "ms": 1000, "end": True}]})
    r, frames, _ = place(d, tmp_path, [3.0], "--param", "customer_name=Ahmed Lekan",
                         "--param", "job_ref=JOB-4711 & co",
                         "--param", "company_name=Not The Plumber",
                         "--param", "callout_fee=999")
    assert r["outcome"] == "server_closed", r
    conv, = agent.state()
    dv = conv["dynamic_variables"]
    assert dv["customer_name"] == "Ahmed Lekan" and dv["job_ref"] == "JOB-4711 & co"
    assert dv["company_name"] == "George The Plumber", "did_context's field wins"
    assert dv["callout_fee"] == 48 and dv["did_number"] == GEORGE
    assert dv["caller_id"] == CALLER.lstrip("+"), "did_context's, as it normalises it"
    assert dv["time_greeting"].startswith("good ") and dv["trade_type"] == "plumbing"
    assert voiced_s(frames) == pytest.approx(1.0, abs=0.1)
