"""The local agent engine against the provider emulators: a whole booking
call, barge-in, provider failures."""
import datetime
import http.server
import json
import os
import re
import struct
import threading
import time
import zoneinfo

import pytest

from agent_harness import BOOKING_ARGS, LONG, LocalStacks, caller_wav, context_file, speech
from harness import RawCall, free_port, read_wav, run_caller, wait_for


@pytest.fixture
def stack(daemon_factory, db, tmp_path):
    """Returns make(script, faults=None, sections=None, **emu_opts) -> (daemon, emulators)."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    yield stacks.make
    stacks.stop()


def place_call(d, tmp_path, parts, uid="5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", extra=2,
               ctx=None):
    """ctx: the context file's JSON as written, else the usual DID and CLI.
    What the caller heard goes to heard.wav, when each frame came to heard.csv."""
    if ctx is None:
        context_file(d, uid)
    else:
        with open(os.path.join(d.ctx_dir, "va_%s.json" % uid), "w") as f:
            f.write(ctx)
    wav = str(tmp_path / "caller.wav")
    starts = caller_wav(wav, parts)
    res = run_caller(d.port, "-u", uid, "-w", wav, "-d", str(extra),
                     "-r", str(tmp_path / "heard.wav"), "-T", str(tmp_path / "heard.csv"),
                     timeout=180)
    return uid, res["results"][0], starts


# send_silence = no: nothing between the agent's words but a frame a
# second, the caller's audio read in batches meanwhile; the call must go
# the same.
@pytest.mark.parametrize("send_silence", ["yes", "no"])
def test_a_whole_booking_call(stack, tmp_path, send_silence):
    d, emu = stack({
        "stt": ["I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."],
        "llm": [{"content": "Booking that now.",
                 "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
                {"content": "That's booked, the plumber will be with you within the hour. Bye.",
                 "tool_calls": [{"name": "end_call", "arguments": {}}]}]},
        sections={"call": {"send_silence": send_silence}})
    hours = {london_hour()}
    uid, r, _ = place_call(d, tmp_path, [5.0, "I have a leaking pipe, postcode E5 9ES, "
                                         "42 Amhurst Road, I'm Ahmed Lekan.", 14.0])
    hours.add(london_hour())
    assert r["outcome"] == "server_hangup", "the agent hangs up after its goodbye"
    rows = wait_for(lambda: d.db.sql(
        "SELECT customer_name, customer_phone, postcode, address, problem_description, "
        "trade_type, callout_fee, did_number, company_name, is_repeat, outcome, source "
        "FROM ai_agent_bookings WHERE call_uuid = %s", (uid,)), 20, "the booking")
    assert rows == [("Ahmed Lekan", "447963155448", "E5 9ES", "42 Amhurst Road",
                     "Leaking pipe under the kitchen sink", "plumbing", 48, "442039962952",
                     "George The Plumber", 0, "booked", "local")]
    calls = wait_for(lambda: d.db.sql("SELECT engine, outcome, did, cli, transcript, latency "
                                      "FROM calls WHERE uuid = %s", (uid,)), 20, "the call row")
    assert len(calls) == 1
    engine, outcome, did, cli, transcript, latency = calls[0]
    assert (engine, outcome, did, cli) == ("local", "booked", "442039962952", "447963155448")
    said = [(t["role"], t["text"]) for t in json.loads(transcript)]
    assert said[0] in {("agent", "Hello, George The Plumber, good %s. How can I help?" % p)
                       for p in parts_of_day(hours)}, said[0]
    assert ("caller", "I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, "
                      "I'm Ahmed Lekan.") in said
    assert json.loads(latency)["turns_ms"], "turn latencies are recorded"
    reqs = emu.llm_requests()
    first = reqs[0]
    system = first["messages"][0]["content"]
    assert "George The Plumber" in system and "48 pounds" in system and "{{" not in system
    names = [t["function"]["name"] for t in first["tools"]]
    assert names == ["create_booking", "end_call", "transfer_to_human"]
    params = first["tools"][0]["function"]["parameters"]["properties"]
    assert "customer_phone" not in params, "the phone number is never asked"
    tool_msgs = [m for m in reqs[1]["messages"] if m["role"] == "tool"]
    assert json.loads(tool_msgs[0]["content"])["success"] is True
    assert heard_audio(tmp_path / "heard.wav") > 3.0, "the caller heard the agent"


def london_hour():
    """The hour where the agent greets from ([api] time_zone, Europe/London)."""
    return datetime.datetime.now(zoneinfo.ZoneInfo("Europe/London")).hour


def parts_of_day(hours):
    """The greeting's part of the day for a call that began and ended in
    these hours (one that spans 12:00 or 18:00 may have either)."""
    return {"morning" if h < 12 else "afternoon" if h < 18 else "evening" for h in hours}


def heard_audio(path):
    """Seconds of non-silent 20 ms frames in a recording."""
    rate, data = read_wav(str(path))
    return voiced(data, rate)


def voiced(samples, rate=8000):
    """Seconds of non-silent 20 ms frames in 16-bit mono samples (bytes)."""
    n = rate // 50 * 2
    return sum(1 for i in range(0, len(samples) - n + 1, n) if any(samples[i:i + n])) / 50


def heard_frames(tmp_path):
    """The frames the caller heard, in the order sent: (arrival in seconds,
    samples) each, so that the n-th is outbound frame n. A run the kernel
    paces starts with a 1 ms lead-in (wrk_call.c): silence before a whole
    frame, left out here, or inside the agent's words the frame's own
    first millisecond, whose other 19 ms follow as a message of their own;
    those two are one frame, heard when its second part arrives."""
    rate, data = read_wav(str(tmp_path / "heard.wav"))
    fb = rate // 50 * 2
    with open(tmp_path / "heard.csv") as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    out, off, part = [], 0, b""
    for r in rows:
        n = int(r[3])
        if int(r[4]) == 0:
            continue
        chunk, off = data[off:off + n], off + n
        if n == fb:
            out.append((int(r[2]) / 1e6, chunk))
            part = b""
            continue
        part = part + chunk if len(part) + n <= fb else chunk
        if len(part) == fb:
            out.append((int(r[2]) / 1e6, part))
            part = b""
    return out


@pytest.mark.parametrize("send_silence", ["yes", "no"])
def test_barge_in_stops_the_agent_and_keeps_only_what_was_heard(stack, tmp_path, send_silence):
    """Regression: the kept part was the TTS's words joined with spaces,
    "the job , but", not a prefix of the reply. Tokens 50 ms apart make the
    TTS synthesise them one by one, so punctuation comes as words of its own
    every time, not only when the machine is slow."""
    d, emu = stack({"stt": ["Tell me about your prices.", "Stop, I just need a plumber now."],
                    "llm": [{"content": LONG}, {"content": "Sure, what is your postcode?"}]},
                   sections={"call": {"send_silence": send_silence}}, tokens_per_s=20)
    uid, r, starts = place_call(d, tmp_path, [5.0, "Tell me about your prices.", 4.0,
                                              "Stop, I just need a plumber now.", 8.0])
    d.wait_log("barge-in")
    frame = int(re.search(r"at outbound frame (\d+)", d.log_text()).group(1))
    heard = heard_frames(tmp_path)
    assert any(any(f) for _, f in heard[frame - 10:frame]), "the agent was speaking"
    # The frames sent before the barge-in was detected may still be on
    # their way (one, or the few a kernel-paced socket holds); after the
    # last of them, 400 ms of silence or of nothing at all (send_silence =
    # no). Counted from that frame, not from the next one heard: with
    # send_silence = no that is a keep-alive up to a second later, which
    # the next reply may follow within 400 ms.
    after = [f for t, f in heard[frame:] if t < heard[frame - 1][0] + 0.4]
    assert not any(any(f) for f in after), \
        "after the barge-in the caller hears silence, not the rest of the reply"
    reqs = emu.llm_requests()
    second = [q for q in reqs if sum(m["role"] == "user" for m in q["messages"]) == 2][0]
    kept = [m for m in second["messages"] if m["role"] == "assistant"][-1]["content"]
    assert kept and LONG.startswith(kept.rstrip(" .")) and len(kept) < len(LONG) * 0.8, kept
    assert second["messages"][-1]["content"].startswith("Stop, I just need a plumber")
    wait_for(lambda: d.db.sql("SELECT barge_ins FROM calls WHERE uuid = %s", (uid,)) == [(1,)],
             20, "the call row with one barge-in")
    assert "error" not in d.log_text().split("barge-in")[1], "a late done after cancel is harmless"
    assert heard_audio(tmp_path / "heard.wav") > 3.0


INTERRUPTION = ("Hang on, before you go any further, I need to tell you where I live "
                "and what is wrong with the boiler.")


@pytest.mark.parametrize("interrupted", ["greeting", "reply"])
def test_barge_in_before_the_first_word_then_the_next_turn_is_answered(stack, tmp_path,
                                                                       interrupted):
    """Regression (85 of 200 calls under load): a reply interrupted before
    any of it was heard was kept as an assistant message with content null,
    which the API refuses; every later turn of the call got the apology.
    The TTS's first audio comes 3 s after its text, so the caller's long
    interruption always lands before the first word."""
    after = "Sure, what is your postcode?"
    if interrupted == "greeting":
        script = {"stt": [INTERRUPTION], "llm": [{"content": after}]}
        parts = [0.3, INTERRUPTION, 9.0]
    else:
        script = {"stt": ["Tell me about your prices.", INTERRUPTION],
                  "llm": [{"content": "Our prices depend on the job."}, {"content": after}]}
        parts = [8.0, "Tell me about your prices.", 0.6, INTERRUPTION, 9.0]
    d, emu = stack(script, tts_ttfb_ms=3000)
    uid, r, _ = place_call(d, tmp_path, parts)
    d.wait_log("barge-in (")
    assert 'kept ""' in d.log_text().split("barge-in (", 1)[1].split("\n")[0], \
        "the barge-in came before the first word was heard"
    reqs = emu.llm_requests()
    answered = [q for q in reqs if q["messages"][-1]["content"] == INTERRUPTION]
    assert len(answered) == 1, "the turn after the barge-in was asked once, not retried"
    for m in answered[0]["messages"]:
        if m["role"] == "assistant":
            assert isinstance(m.get("content"), str) or m.get("tool_calls"), m
    spoken = "".join(m.get("message", m).get("transcript", "")
                     for m in emu.requests("cartesia"))
    assert after in spoken, "the next turn was answered"
    assert "could you say that again" not in spoken and "bear with me" not in spoken
    assert "attempt 1 failed" not in d.log_text()


@pytest.mark.parametrize("fault", ["openai:once:refuse@429", "openai:once:cut@3"])
def test_model_failure_gets_an_apology_and_a_retry(stack, tmp_path, fault):
    d, emu = stack({"stt": ["Hello, is anyone there?"],
                    "llm": [{"content": "Yes, sorry, how can I help you today?"}]}, fault)
    uid, r, _ = place_call(d, tmp_path, [5.0, "Hello, is anyone there?", 8.0])
    spoken = [m.get("message", m).get("transcript", "") for m in emu.requests("cartesia")]
    text = "".join(spoken)
    assert "Sorry, bear with me one moment." in text, "an apology, not dead air"
    assert "how can I help you today?" in text, "then the retried answer"
    assert len(emu.llm_requests()) == 2
    d.wait_log("attempt 1 failed")


def spoken_text(emu):
    """Everything the agent sent the TTS to say, in order."""
    return "".join(m.get("message", m).get("transcript", "") for m in emu.requests("cartesia"))


def test_the_configured_say_again_line_is_said_when_the_model_fails_for_good(stack, tmp_path):
    """[local] say_again replaced a hard-coded line (issue 9)."""
    d, emu = stack({"stt": ["Hello, is anyone there?"], "llm": [{"content": "Yes."}]},
                   "openai:refuse@400",
                   sections={"local": {"say_again": "Pardon me, once more please?"}})
    place_call(d, tmp_path, [5.0, "Hello, is anyone there?", 6.0])
    text = spoken_text(emu)
    assert "Pardon me, once more please?" in text, text
    assert "could you say that again" not in text


def test_the_configured_nudge_then_goodbye_end_a_silent_call(stack, tmp_path):
    """[local] nudge replaced a hard-coded line (issue 9): a caller silent
    for silence_timeout hears it, silent as long again hears the goodbye
    and is hung up on."""
    d, emu = stack({"stt": [], "llm": [{"content": "Unused."}]},
                   sections={"local": {"nudge": "Hello, are you on the line?",
                                       "silence_timeout": "3"}})
    uid, r, _ = place_call(d, tmp_path, [25.0])
    assert r["outcome"] == "server_hangup", "the agent hung up on the silent caller"
    text = spoken_text(emu)
    assert "Hello, are you on the line?" in text and "still there" not in text, text
    assert text.index("Hello, are you on the line?") < text.index("Thanks for calling. Goodbye.")
    assert emu.llm_requests() == [], "silence is not a turn for the model"


def test_stt_closed_by_provider_is_reopened(stack, tmp_path):
    # Deepgram drops the connection with its first message, as the caller
    # begins: what is said meanwhile waits in the ring for the new one. (A
    # drop mid-word loses that utterance's words said before it, as with
    # the real service; how many depends on how audio was batched.)
    d, emu = stack({"stt": ["First thing.", "Second thing."],
                    "llm": [{"content": "Got that."}, {"content": "And that too."}]},
                   "deepgram:once:close@1")
    uid, r, _ = place_call(d, tmp_path, [5.0, "First thing.", 5.0, "Second thing.", 6.0])
    # The caller goes quiet after its audio; the agent must not have hung up first.
    ended = d.wait_log("ended: ") and d.log_text().split("ended: ", 1)[1].split("\n")[0]
    assert ended.startswith("no frame from the caller"), ended
    opens = [m["conn"] for m in emu.requests("deepgram") if m.get("event") == "open"]
    assert len(opens) == 2 and opens[0] != opens[1], "a second Deepgram connection was opened"
    closed = d.wait_log("Deepgram closed") and \
        d.log_text().split("Deepgram closed", 1)[1].split("\n")[0]
    assert closed.endswith("; reconnecting"), closed
    assert "lost for good" not in d.log_text()
    users = [m["content"] for q in emu.llm_requests() for m in q["messages"]
             if m["role"] == "user"]
    assert any("Second thing" in u for u in users), "speech after the reconnect was heard"


LONG2 = ("Of course, we cover the whole of London and the home counties, seven days "
         "a week, including bank holidays, and our engineers carry the common parts "
         "in the van so most jobs are finished on the first visit.")


def test_two_interruptions_cancel_each_reply_once(stack, tmp_path):
    """Each interruption trips both detectors (level and words): one cancel.
    The first reply's late done arrives while the second plays: it must not
    end the second reply early."""
    d, emu = stack({"stt": ["Tell me about your prices.", "Stop, where do you cover?",
                            "Okay, thanks."],
                    "llm": [{"content": LONG}, {"content": LONG2}, {"content": "Bye now."}]})
    uid, r, _ = place_call(d, tmp_path, [5.0, "Tell me about your prices.", 4.0,
                                         "Stop, where do you cover?", 5.5,
                                         "Okay, thanks.", 6.0])
    wait_for(lambda: d.db.sql("SELECT barge_ins FROM calls WHERE uuid = %s", (uid,)) == [(2,)],
             20, "the call row with two barge-ins")
    lines = [l for l in d.log_text().splitlines() if "barge-in (" in l]
    assert len(lines) == 2, "one barge-in per interruption, however many detectors fire"
    kept = re.findall(r'kept "([^"]*)"', "\n".join(lines))
    assert LONG.startswith(kept[0]) and LONG2.startswith(kept[1])
    assert len(kept[1]) > 20, "the second reply played until it was interrupted"
    cancels = [m["message"] for m in emu.requests("cartesia")
               if m.get("message", {}).get("cancel")]
    assert len(cancels) == 2 and cancels[0]["context_id"] != cancels[1]["context_id"]
    users = [q for q in emu.llm_requests() if sum(m["role"] == "user"
                                                  for m in q["messages"]) == 3]
    assert users, "the conversation went on to a third turn"


class VoiceWatch:
    """Reads a RawCall's frames on a thread; voiced: when the agent's first
    non-silent frame came (None until then)."""

    def __init__(self, call):
        self.call, self.voiced = call, None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        buf = b""
        while True:
            try:
                d = self.call.s.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            while len(buf) >= 3 and len(buf) >= 3 + struct.unpack(">H", buf[1:3])[0]:
                n = struct.unpack(">H", buf[1:3])[0]
                if buf[0] == 0x10 and any(buf[3:3 + n]) and self.voiced is None:
                    self.voiced = time.monotonic()
                buf = buf[3 + n:]


def frames(payload, count):
    return (b"\x10" + struct.pack(">H", len(payload)) + payload) * count


def send_paced(c, payload, seconds):
    start = time.monotonic()
    for k in range(int(seconds * 50)):
        time.sleep(max(0.0, start + k * 0.02 - time.monotonic()))
        c.send_raw(frames(payload, 1))


def test_a_burst_of_the_callers_voice_counts_as_long_as_it_sounds(stack, tmp_path):
    """Barge-in takes bargein_ms (300) of the caller's voice: counted in
    audio, not by when the frames were read. A network stall delivers
    frames together, and the worker reads them in batches while the agent
    speaks (kernel pacing). Regression: counted by the clock, 15 loud
    frames read at once were no barge-in, while 14 read in batches were one
    when a batch came late (the agent talked over the caller, then stopped,
    in test_what_is_said_before_a_tool_call_is_heard_whole one run in five)."""
    quiet = b"\0\0" * 160
    loud = struct.pack("<160h", *[8000 if i % 8 < 4 else -8000 for i in range(160)])
    d, emu = stack({"stt": [], "llm": [{"content": "Unused."}]})
    c = RawCall(d.port)
    context_file(d, str(c.uuid))
    c.send_uuid()
    watch = VoiceWatch(c)
    try:
        deadline = time.monotonic() + 10
        while watch.voiced is None and time.monotonic() < deadline:
            send_paced(c, quiet, 0.1)
        assert watch.voiced is not None, "the greeting was heard"
        c.send_raw(frames(loud, 14))        # 280 ms of voice, all at once
        send_paced(c, quiet, 0.5)
        assert "barge-in" not in d.log_text(), "280 ms of voice is no barge-in"
        c.send_raw(frames(loud, 15))        # 300 ms
        send_paced(c, quiet, 0.2)
        d.wait_log("barge-in (the caller's voice over the agent)")
    finally:
        c.close()


def test_what_is_said_before_a_tool_call_is_heard_whole(stack, tmp_path):
    after = "That's booked, the plumber will be with you within the hour. Bye."
    d, emu = stack({
        "stt": ["I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."],
        "llm": [{"content": LONG,
                 "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
                {"content": after, "tool_calls": [{"name": "end_call", "arguments": {}}]}]})
    uid, r, _ = place_call(d, tmp_path, [3.0, "I have a leaking pipe, postcode E5 9ES, "
                                         "42 Amhurst Road, I'm Ahmed Lekan.", 30.0])
    assert r["outcome"] == "server_hangup"
    # The follow-up reply starts while the first is still being synthesised:
    # both must reach the caller in full, one after the other.
    expected = voiced(speech(LONG)) + voiced(speech(after))
    assert heard_audio(tmp_path / "heard.wav") > 0.8 * expected
    # One caller turn is one latency figure, not one per reply.
    latency = wait_for(lambda: d.db.sql("SELECT latency FROM calls WHERE uuid = %s",
                                        (uid,)), 20, "the call row")[0][0]
    turns = json.loads(latency)["turns_ms"]
    assert len(turns) == 1 and turns[0] < 2000, turns


class FakeContextApi:
    """A did_context endpoint answering one fixed body, as a PHP backend might."""

    def __init__(self, body):
        data = body.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


GOOD_CTX = '{"did": "442039962952", "cli": "447963155448"}'


@pytest.mark.parametrize("answer,ctx,company,booked", [
    # caller_id null crashed the worker; every other field of a wrong type
    ('{"company_name": "Nulls Ltd", "trade_type": null, "trade_label": 7, '
     '"callout_fee": "lots", "area": ["x"], "is_repeat": "yes", "did_number": null, '
     '"caller_id": null}', GOOD_CTX, "Nulls Ltd", True),
    ('{"company_name": "Types Ltd", "trade_type": {"a": 1}, "callout_fee": -3, '
     '"is_repeat": 1, "did_number": 442039962952, "caller_id": 447963155448}',
     GOOD_CTX, "Types Ltd", True),
    ('{"company_name": null, "caller_id": null}', GOOD_CTX, "Home Services", True),
    ('[null]', GOOD_CTX, "Home Services", True),
    # the dialplan's context file with nulls and wrong types: no DID, no lookup
    (None, '{"did": null, "cli": 5}', "Home Services", False),
    (None, '["did", "cli"]', "Home Services", False),
], ids=["nulls", "wrong-types", "no-company", "not-an-object", "ctx-file-nulls",
        "ctx-file-array"])
def test_context_with_nulls_and_wrong_types_goes_on_with_defaults(stack, tmp_path, answer,
                                                                  ctx, company, booked):
    """Regression: a did_context answer with caller_id null crashed the
    worker. Fields of the wrong type take the fallback's values (plumbing,
    plumber, 49 pounds), so the greeting, the prompt and the booking work."""
    api = FakeContextApi(answer or "{}")
    try:
        d, emu = stack({
            "stt": ["I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."],
            "llm": [{"content": "Booking that now.",
                     "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
                    {"content": "That's booked. Bye.",
                     "tool_calls": [{"name": "end_call", "arguments": {}}]}]},
            sections={"local": {"api_url": api.url}})
        uid, r, _ = place_call(d, tmp_path, [5.0, "I have a leaking pipe, postcode E5 9ES, "
                                             "42 Amhurst Road, I'm Ahmed Lekan.", 14.0], ctx=ctx)
    finally:
        api.stop()
    assert r["outcome"] == "server_hangup", "the call went on to the agent's goodbye"
    assert "died during call" not in d.log_text()
    spoken = "".join(m.get("message", m).get("transcript", "")
                     for m in emu.requests("cartesia"))
    assert spoken.startswith("Hello, %s, good " % company), spoken[:80]
    assert "That's booked. Bye." in spoken
    system = emu.llm_requests()[0]["messages"][0]["content"]
    assert "a plumbing business" in system and "49 pounds" in system, system
    assert "is a plumber" in system and "{{" not in system
    tool = [m for m in emu.llm_requests()[1]["messages"] if m["role"] == "tool"][0]
    assert json.loads(tool["content"])["success"] is booked, tool
    if booked:
        rows = wait_for(lambda: d.db.sql(
            "SELECT trade_type, callout_fee, company_name, is_repeat, customer_phone "
            "FROM ai_agent_bookings WHERE call_uuid = %s", (uid,)), 20, "the booking")
        assert rows == [("plumbing", 49, company, 0, "447963155448")]
