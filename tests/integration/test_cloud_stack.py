"""The elevenlabs engine: a call to a DID routed to it is bridged to an
ElevenLabs agent (vagent-emu --xi-agent): context as dynamic variables, a
booking through the client tool, interruption by event id, ping/pong, and
the call ended when the conversation ends."""
import json
import os
import struct
import subprocess

import pytest

from agent_harness import CloudStacks, caller_wav, context_file
from harness import VAGENTD, read_wav, run_caller, wait_for

DID, CLI = "442039962952", "447963155448"
BOOKING_ARGS = {"customer_name": "Ahmed Lekan", "postcode": "e5 9es",
                "address": "42 Amhurst Road",
                "problem_description": "Leaking pipe under the kitchen sink",
                # What a model may pass; the call's own context wins.
                "customer_phone": "01234", "callout_fee": 1, "trade_type": "drainage"}


def booking_script(fmt):
    """The agent's script for a booking call, its audio in fmt both ways:
    a greeting (1.4 s) with a ping, then the caller's words, createBooking
    and the answer (1.0 s), and the agent ends the conversation."""
    return {
        "input_format": fmt, "output_format": fmt, "chunk_ms": 200,
        "turns": [{"say": "Hello, George The Plumber, how can I help?", "ms": 1400,
                   "ping": True},
                  {"user": "I have a leaking pipe, I'm Ahmed Lekan, 42 Amhurst Road, E5 9ES.",
                   "tool": {"name": "createBooking", "parameters": BOOKING_ARGS},
                   "say": "That's booked, the plumber will be with you within the hour.",
                   "ms": 1000, "end": True}]}


@pytest.fixture
def stack(daemon_factory, db, tmp_path):
    """make(script) -> (daemon, agent): DID 442039962952 goes to elevenlabs,
    every other call to echo; context from this daemon's own api."""
    stacks = CloudStacks(daemon_factory, db, tmp_path, DID)
    yield stacks.make
    stacks.stop()


def place_call(d, tmp_path, parts, uid):
    context_file(d, uid, DID, CLI)
    wav = str(tmp_path / "caller.wav")
    starts = caller_wav(wav, parts)
    res = run_caller(d.port, "-u", uid, "-w", wav, "-d", "3",
                     "-r", str(tmp_path / "heard.wav"), timeout=120)
    return res["results"][0], starts


def heard_ids(path):
    """The agent event id of each 20 ms frame the caller heard (the emulator's
    audio is flat at 1000 + 100 * id), None for silence or a mixed frame."""
    rate, data = read_wav(str(path))
    n = rate // 50
    out = []
    for i in range(0, len(data) // 2 - n + 1, n):
        s = struct.unpack("<%dh" % n, data[2 * i:2 * (i + n)])
        lo, hi = min(s), max(s)
        mean = sum(s) / n
        k = round((mean - 1000) / 100)
        ok = hi - lo <= 60 and k >= 1 and abs(mean - 1000 - 100 * k) <= 40
        out.append(k if ok else None)
    return out


def test_a_booking_call_through_the_cloud_stack(stack, tmp_path):
    d, agent = stack(booking_script("ulaw_8000"))
    uid = "7c1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a01"
    r, _ = place_call(d, tmp_path, [3.0, "I have a leaking pipe, I'm Ahmed Lekan.", 6.0], uid)
    assert r["outcome"] == "server_hangup", "the call ends when the conversation ends"
    rows = wait_for(lambda: d.db.sql(
        "SELECT customer_name, customer_phone, postcode, address, problem_description, "
        "trade_type, callout_fee, did_number, company_name, is_repeat, outcome, source "
        "FROM ai_agent_bookings WHERE call_uuid = %s", (uid,)), 20, "the booking")
    assert rows == [("Ahmed Lekan", CLI, "E5 9ES", "42 Amhurst Road",
                     "Leaking pipe under the kitchen sink", "plumbing", 48, DID,
                     "George The Plumber", 0, "booked", "cloud")]
    calls = wait_for(lambda: d.db.sql("SELECT engine, outcome, transcript FROM calls "
                                      "WHERE uuid = %s", (uid,)), 20, "the call row")
    engine, outcome, transcript = calls[0]
    assert (engine, outcome) == ("elevenlabs", "booked")
    said = [(t["role"], t["text"]) for t in json.loads(transcript)]
    assert said == [("agent", "Hello, George The Plumber, how can I help?"),
                    ("caller", "I have a leaking pipe, I'm Ahmed Lekan, 42 Amhurst Road, "
                               "E5 9ES."),
                    ("agent", "That's booked, the plumber will be with you within the hour.")]
    conv, = agent.state()
    assert conv["signed"] and conv["agent_id"] == "agent_vagent_test"
    dv = conv["dynamic_variables"]
    assert (dv["company_name"], dv["trade_type"], dv["callout_fee"], dv["caller_id"],
            dv["did_number"], dv["is_repeat"]) == ("George The Plumber", "plumbing", 48, CLI,
                                                    DID, False)
    assert dv["trade_label"] and dv["greeting"].startswith("Hello, good ")
    assert conv["pings"] and conv["pongs"] == conv["pings"], "each ping answered with its id"
    res, = conv["tool_results"]
    assert res["is_error"] is False and json.loads(res["result"])["success"] is True
    assert conv["closed_by"] == "agent"
    assert conv["audio_in_bytes"] > 8000 * 4, "the caller's audio went up as u-law 8 kHz"
    # u-law's steps are coarser than the levels' (ids cannot be told apart):
    # count the agent's audio instead, 1.4 s and 1.0 s.
    rate, data = read_wav(str(tmp_path / "heard.wav"))
    fb = rate // 50 * 2
    frames = sum(1 for i in range(0, len(data) - fb + 1, fb) if any(data[i:i + fb]))
    assert 2.4 * 50 - 3 <= frames <= 2.4 * 50 + 3, "both replies were heard, whole"
    d.wait_log("the conversation ended")


def test_an_interruption_drops_exactly_the_audio_at_or_below_its_id(stack, tmp_path):
    """A 6 s greeting is sent at once (queued); the caller talks over it at
    1.5 s. Nothing of id <= N may play after the interruption N, not even
    the late chunk of id N that follows it; the answer (N+1 on) plays.
    pcm_16000 both ways: the call's 8 kHz is resampled each way."""
    d, agent = stack({
        "input_format": "pcm_16000", "output_format": "pcm_16000", "chunk_ms": 200,
        "turns": [{"say": "A long greeting about prices.", "ms": 6000, "ping": True},
                  {"user": "Stop, I just need a plumber now.",
                   "say": "Sure, what is your postcode?", "ms": 1600, "end": True}]})
    uid = "7c1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a02"
    r, starts = place_call(d, tmp_path, [1.5, "Stop, I just need a plumber now.", 5.0], uid)
    assert r["outcome"] == "server_hangup"
    conv, = agent.state()
    n, = conv["interruptions"]
    greeting, answer = conv["said"]
    assert n == greeting["audio_ids"][-1], "interrupted at the last id sent"
    assert conv["late_audio"] == [n]
    assert answer["audio_ids"][0] == n + 1
    ids = heard_ids(tmp_path / "heard.wav")
    t_speech = int(starts[0] * 50)
    before = [i for i in ids[:t_speech] if i]
    after = [i for i in ids[t_speech + 50:] if i]	# 1 s: the emulator hears 200 ms first
    assert before and max(before) <= n, "the greeting was playing"
    old = sorted({i for i in ids if i and i <= n})
    assert old == list(range(greeting["audio_ids"][0], old[-1] + 1)), \
        "the greeting up to the interruption, then none of it: not the late chunk %d" % n
    assert old[-1] < n - 10, "most of the greeting was still queued, and dropped"
    assert after, "the answer was heard"
    assert min(after) == n + 1, "nothing of id <= N after the interruption; N+1 played"
    assert sorted(set(after)) == answer["audio_ids"], "the whole answer played"
    assert conv["pongs"] == conv["pings"] and conv["pings"]
    calls = wait_for(lambda: d.db.sql("SELECT engine, outcome, barge_ins FROM calls "
                                      "WHERE uuid = %s", (uid,)), 20, "the call row")
    assert calls == [("elevenlabs", "completed", 1)]
    d.wait_log("interruption at event %d" % n)


def test_an_answer_queued_before_the_interruption_still_plays(stack, tmp_path):
    """The service answers (ids N+1...) before its interruption N arrives:
    the greeting's queued rest and late chunk go, the whole answer plays."""
    d, agent = stack({
        "input_format": "pcm_16000", "output_format": "pcm_16000", "chunk_ms": 200,
        "turns": [{"say": "A long greeting about prices.", "ms": 6000, "race_next": True},
                  {"say": "Sure, what is your postcode?", "ms": 1600, "end": True}]})
    uid = "7c1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a03"
    r, starts = place_call(d, tmp_path, [1.5, "Stop, I just need a plumber now.", 5.0], uid)
    assert r["outcome"] == "server_hangup"
    conv, = agent.state()
    n, = conv["interruptions"]
    greeting, answer = conv["said"]
    assert n == greeting["audio_ids"][-1] and answer["audio_ids"][0] == n + 1
    ids = heard_ids(tmp_path / "heard.wav")
    old = sorted({i for i in ids if i and i <= n})
    assert old and old[-1] < n - 10, "the greeting's queued rest was dropped"
    assert old == list(range(greeting["audio_ids"][0], old[-1] + 1)), "not the late chunk"
    new = [i for i in ids if i and i > n]
    assert sorted(set(new)) == answer["audio_ids"], "the answer queued first, whole"
    assert new == sorted(new), "in order"
    assert ids.index(new[0]) > ids.index(old[-1])
    assert "the newer response from event %d plays" % (n + 1) in d.log_text()
    assert "dropped with it" not in d.log_text()


def test_the_agent_id_comes_from_the_ids_file_else_vagentd_refuses(tmp_path):
    """A DID on the elevenlabs engine needs an agent: [elevenlabs] agent_id,
    else XI_AGENT_ID in the ids file `vagentctl provision` wrote."""
    ids = tmp_path / "elevenlabs.ids"
    text = ("[elevenlabs]\nids_file = %s\n[did:%s]\nengine = elevenlabs\n" % (ids, DID))
    env = dict(os.environ, VAGENT_API_KEY="config-test-key-0123456789")
    conf = tmp_path / "v.conf"
    conf.write_text(text)

    def check():
        return subprocess.run([VAGENTD, "-t", "-c", str(conf)], capture_output=True,
                              text=True, env=env)
    r = check()
    assert r.returncode != 0 and "[elevenlabs] agent_id" in r.stderr, r.stderr
    ids.write_text("# vagentctl provision elevenlabs\nXI_AGENT_ID=agent_abc\n"
                   "XI_TOOL_GET_CALL_CONTEXT=tool_1\nXI_TOOL_CREATE_BOOKING=tool_2\n")
    r = check()
    assert r.returncode == 0, r.stderr
