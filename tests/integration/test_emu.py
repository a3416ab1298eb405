"""vagent-emu, the provider test doubles: each emulator speaks its provider's
wire protocol (protocols.md sections 1-3), says what the script says, refuses
what the real service refuses, and injects the faults it is told to.

Every test starts its own vagent-emu on free ports and stops it with SIGTERM;
the exit status must be 0 (so an ASan/UBSan build fails the test on any
report)."""
import asyncio
import base64
import http.client
import json
import math
import os
import random
import signal
import socket
import struct
import subprocess
import time

import pytest
import websockets

from harness import BUILD, free_port, wait_for

EMU = os.path.join(BUILD, "vagent-emu")

SCRIPT = {
    "stt": ["I have a leaking pipe under the sink.", "E5 9ES"],
    "llm": [
        {"content": "Hello, thanks for calling. How can I help?"},
        {"content": "Let me book that.",
         "tool_calls": [{"name": "create_booking",
                         "arguments": {"customer_name": "Ahmed Lekan", "postcode": "E5 9ES"}}]},
        {"error": 429, "retry_after": 1},
        {"cut_after_tokens": 3, "content": "one two three four five six"},
        {"stream_error_after_tokens": 2, "content": "alpha beta gamma"},
    ],
}

VOICE = {"mode": "id", "id": "a0e99841-438c-4a64-b679-ae501e7d6091"}


class Emu:
    def __init__(self, tmp_path, args=(), script=None):
        self.dir = tmp_path
        self.script = os.path.join(str(tmp_path), "script.json")
        with open(self.script, "w") as f:
            json.dump(script or SCRIPT, f)
        self.dg, self.oai, self.cart = free_port(), free_port(), free_port()
        self.log = os.path.join(str(tmp_path), "emu.log")
        # One TTS per emulator: Cartesia unless ElevenLabs' is asked for.
        tts = [] if "--elevenlabs" in args else ["--cartesia", str(self.cart)]
        cmd = [EMU, "--script", self.script, "--deepgram", str(self.dg), "--openai",
               str(self.oai)] + tts + ["--stt-final-ms", "50",
               "--ttft-ms", "20", "--tokens-per-s", "1000", "--tts-ttfb-ms", "30",
               "--log", self.log] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.strip() == "vagent-emu: ready", (line, self.proc.stderr.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        err = self.proc.stderr.read().decode()
        assert rc == 0, "vagent-emu exited %s: %s" % (rc, err[-3000:])

    # -- OpenAI --
    def post(self, body, path="/v1/chat/completions", headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.oai, timeout=10)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, json.dumps(body) if not isinstance(body, str) else body, h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def get(self, path, port=None):
        c = http.client.HTTPConnection("127.0.0.1", port or self.oai, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data)


@pytest.fixture
def emu_factory(tmp_path):
    made = []

    def make(*args, script=None, sub="e"):
        d = tmp_path / sub
        d.mkdir(exist_ok=True)
        e = Emu(d, args, script)
        made.append(e)
        return e

    yield make
    for e in made:
        e.stop()


@pytest.fixture
def emu(emu_factory):
    return emu_factory()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def raw_upgrade(port, target, headers=()):
    """A websocket upgrade by hand, to see a refusal's status, headers, body."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" % target)
    for k, v in headers:
        req += "%s: %s\r\n" % (k, v)
    s.sendall((req + "\r\n").encode())
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        data += d
        if data.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in data:
            break
    s.close()
    assert data.startswith(b"HTTP/1.1 "), data[:40]
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    return status, hdrs, body


# ---------------------------------------------------------------- Deepgram

def speech_pcm(rate=8000, seconds=1.0, silence=1.5, seed=1):
    """A loud tone-plus-noise burst, then silence: 16-bit LE samples."""
    rng = random.Random(seed)
    n = int(rate * seconds)
    s = [max(-32768, min(32767, int(7000 * math.sin(2 * math.pi * 220 * i / rate))
                         + rng.randint(-2500, 2500))) for i in range(n)]
    s += [rng.randint(-30, 30) for _ in range(int(rate * silence))]
    return s


def pcm16(samples):
    return struct.pack("<%dh" % len(samples), *samples)


def mulaw(samples):
    out = bytearray()
    for v in samples:
        sign = 0x80 if v < 0 else 0
        v = min(abs(v), 32635) + 0x84
        exp = max(0, v.bit_length() - 8)
        exp = min(exp, 7)
        mant = (v >> (exp + 3)) & 0x0F
        out.append(~(sign | (exp << 4) | mant) & 0xFF)
    return bytes(out)


DG_QUERY = ("/v1/listen?model=nova-3&language=en&encoding=linear16&sample_rate=8000&channels=1"
            "&interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true"
            "&smart_format=true&keyterm=leaking%20pipe&keyterm=sink")


async def dg_collect(ws, until, timeout=5.0):
    got = []
    deadline = time.monotonic() + timeout
    while True:
        m = await asyncio.wait_for(ws.recv(), max(0.05, deadline - time.monotonic()))
        j = json.loads(m)
        got.append(j)
        if until(j):
            return got


async def send_audio(ws, data, frame=320):
    for i in range(0, len(data), frame):
        await ws.send(data[i:i + frame])


def test_deepgram_hears_the_script_with_interim_final_and_utterance_end(emu_factory):
    e = emu_factory("--key-deepgram", "dgkey")

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d%s" % (e.dg, DG_QUERY),
                                      extra_headers={"Authorization": "Token dgkey"}) as ws:
            await send_audio(ws, pcm16(speech_pcm()))
            first = await dg_collect(ws, lambda j: j["type"] == "UtteranceEnd")
            await send_audio(ws, pcm16(speech_pcm(seed=2)))
            second = await dg_collect(ws, lambda j: j["type"] == "UtteranceEnd")
            await ws.send(json.dumps({"type": "CloseStream"}))
            rest = []
            async for m in ws:
                rest.append(json.loads(m))
            return first, second, rest, ws.close_code, ws.response_headers["dg-request-id"]

    first, second, rest, code, request_id = run(go())
    types = [j["type"] for j in first]
    assert types[0] == "SpeechStarted" and first[0]["channel"] == [0, 1]
    assert first[0]["timestamp"] == pytest.approx(0.0, abs=0.05)
    interims = [j for j in first if j["type"] == "Results" and not j["is_final"]]
    finals = [j for j in first if j["type"] == "Results" and j["is_final"]]
    assert len(interims) >= 3 and len(finals) == 1
    script = SCRIPT["stt"][0]
    for j in interims:
        t = j["channel"]["alternatives"][0]["transcript"]
        assert t and script.startswith(t) and not j["speech_final"]
    f = finals[0]
    alt = f["channel"]["alternatives"][0]
    assert f["speech_final"] is True and alt["transcript"] == script
    assert f["channel_index"] == [0, 1] and f["start"] == 0.0
    assert 1.2 <= f["duration"] <= 1.5  # 1 s of speech + 300 ms endpointing
    words = alt["words"]
    assert [w["punctuated_word"] for w in words] == script.split()
    assert words[0]["word"] == "i" and words[-1]["word"] == "sink"
    assert all(w["start"] < w["end"] for w in words)
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:]))
    assert f["metadata"]["request_id"] == request_id and "model_info" in f["metadata"]
    ue = first[-1]
    assert ue["channel"] == [0, 1] and ue["last_word_end"] == pytest.approx(words[-1]["end"])
    assert types.index("UtteranceEnd") > types.index("Results")

    # The second segment on the same socket hears the second utterance; times run on.
    f2 = [j for j in second if j["type"] == "Results" and j["is_final"] and
          j["channel"]["alternatives"][0]["transcript"]]
    assert f2 and f2[0]["channel"]["alternatives"][0]["transcript"] == "E5 9ES"
    assert f2[0]["channel"]["alternatives"][0]["words"][0]["start"] >= 2.4

    # CloseStream: remaining results, then Metadata, then a normal close.
    assert rest[-1]["type"] == "Metadata" and rest[-1]["duration"] == pytest.approx(5.0, abs=0.05)
    assert rest[-1]["request_id"] == request_id
    assert code == 1000


def test_deepgram_utterance_end_survives_speech_with_no_words(emu_factory):
    """Regression: a later segment that heard speech but no words (a cough)
    cancelled the UtteranceEnd owed for the words before it. Real Deepgram
    sends it once utterance_end_ms has passed since the last word."""
    e = emu_factory(script={"stt": ["I have a leaking pipe under the sink.", ""]})
    words = speech_pcm(seconds=1.0, silence=0.5)            # final at 1.3 s
    cough = speech_pcm(seconds=0.3, silence=1.5, seed=3)    # speech, no words

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d%s" % (e.dg, DG_QUERY)) as ws:
            await send_audio(ws, pcm16(words + cough))
            await ws.send(json.dumps({"type": "CloseStream"}))
            return [json.loads(m) async for m in ws]

    got = run(go())
    finals = [j for j in got if j["type"] == "Results" and j["is_final"]]
    assert [f["channel"]["alternatives"][0]["transcript"] for f in finals][:2] == \
        ["I have a leaking pipe under the sink.", ""], "two segments, the second with no words"
    ues = [j for j in got if j["type"] == "UtteranceEnd"]
    last = finals[0]["channel"]["alternatives"][0]["words"][-1]["end"]
    assert len(ues) == 1 and ues[0]["last_word_end"] == pytest.approx(last)


def test_deepgram_mulaw_and_finalize(emu):
    q = DG_QUERY.replace("linear16", "mulaw") + "&endpointing=false"

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d%s" % (emu.dg, q)) as ws:
            await send_audio(ws, mulaw(speech_pcm(silence=0.2)), 160)
            await ws.send(json.dumps({"type": "KeepAlive"}))
            await ws.send(json.dumps({"type": "Finalize"}))
            return await dg_collect(ws, lambda j: j["type"] == "Results" and j["is_final"])

    got = run(go())
    f = got[-1]
    assert f["from_finalize"] is True and f["speech_final"] is False
    assert f["channel"]["alternatives"][0]["transcript"] == SCRIPT["stt"][0]


def test_deepgram_refuses_what_deepgram_refuses(emu_factory):
    e = emu_factory("--key-deepgram", "dgkey")
    auth = [("Authorization", "Token dgkey")]

    status, hdrs, body = raw_upgrade(e.dg, "/v1/listen?model=nova-3&keywords=Acme:2", auth)
    j = json.loads(body)
    assert status == 400 and j["err_code"] == "INVALID_QUERY_PARAMETER"
    assert j["err_msg"] == "Keywords are not supported for Nova-3. Please use `keyterm` instead."
    assert j["request_id"] and hdrs["dg-error"] == j["err_msg"] and hdrs["dg-request-id"]

    for q in ("/v1/listen?model=nova-3&encoding=linear16",          # no sample_rate
              "/v1/listen?model=nova-3&utterance_end_ms=1000",     # no interim_results
              "/v1/listen?model=nova-2&keyterm=sink",              # keyterm is nova-3 only
              "/v1/listen?model=nova-3&interim_results=yes"):
        status, _, body = raw_upgrade(e.dg, q, auth)
        assert status == 400 and json.loads(body)["err_code"] == "INVALID_QUERY_PARAMETER", q

    # keywords are fine on nova-2; unknown parameters are ignored
    status, _, _ = raw_upgrade(e.dg, "/v1/listen?model=nova-2&keywords=Acme:2&source=x", auth)
    assert status == 101

    for h in ([("Authorization", "Token wrong")], [("Authorization", "Bearer dgkey")], []):
        status, _, body = raw_upgrade(e.dg, "/v1/listen?model=nova-3", h)
        assert status == 401 and json.loads(body)["err_code"] == "INVALID_AUTH"

    async def refused():
        with pytest.raises(websockets.InvalidStatusCode) as ex:
            await websockets.connect("ws://127.0.0.1:%d/v1/listen?model=nova-3" % e.dg,
                                     extra_headers={"Authorization": "Token wrong"})
        return ex.value.status_code

    assert run(refused()) == 401


def test_deepgram_closes_an_idle_stream_with_net_0001(emu_factory):
    e = emu_factory("--stt-idle-ms", "600")

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d%s" % (e.dg, DG_QUERY)) as ws:
            for _ in range(6):  # KeepAlive keeps it open past the idle time
                await ws.send(json.dumps({"type": "KeepAlive"}))
                await asyncio.sleep(0.2)
            assert ws.open
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(ws.recv(), 3)
            except websockets.ConnectionClosed:
                pass
            return ws.close_code, ws.close_reason, time.monotonic() - t0

    code, reason, waited = run(go())
    assert code == 1011 and reason == "NET-0001" and 0.3 < waited < 2.0


def test_deepgram_fault_once_close_then_reconnect_works(emu_factory):
    e = emu_factory("--faults", "deepgram:once:close@2")

    async def one():
        msgs = []
        async with websockets.connect("ws://127.0.0.1:%d%s" % (e.dg, DG_QUERY)) as ws:
            try:
                await send_audio(ws, pcm16(speech_pcm()))
            except websockets.ConnectionClosed:
                pass
            try:
                await dg_collect(ws, lambda j: msgs.append(j) or j["type"] == "UtteranceEnd")
            except websockets.ConnectionClosed:
                pass
            return msgs, ws.close_code

    msgs, code = run(one())
    assert len(msgs) == 2 and code == 1011
    msgs, code = run(one())
    assert msgs[-1]["type"] == "UtteranceEnd"
    finals = [j for j in msgs if j["type"] == "Results" and j["is_final"]]
    assert finals[0]["channel"]["alternatives"][0]["transcript"] == SCRIPT["stt"][0]
    _, recs = e.get("/emu/requests", e.dg)
    assert [r["event"] for r in recs if r["event"] == "open"] == ["open", "open"]
    # One connection, one number: its open, its messages and its close.
    by_conn = {}
    for r in recs:
        by_conn.setdefault(r["conn"], []).append(r["event"])
    assert sorted(by_conn) == [0, 1], by_conn
    assert all(ev[0] == "open" and ev[-1] == "close" for ev in by_conn.values()), by_conn


# ---------------------------------------------------------------- OpenAI / Groq

def raw_post(port, body, timeout=5.0):
    """POSTs by hand and reads until EOF (or timeout): (bytes, timed out)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(data) + data)
    raw, timed_out = b"", False
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            timed_out = True
            break
        if not d:
            break
        raw += d
    s.close()
    return raw, timed_out


def user(text):
    return {"role": "user", "content": text}


def chat(*msgs, **kw):
    body = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "system", "content": "sys"}]
            + list(msgs), "stream": True}
    body.update(kw)
    return body


def sse_events(data):
    """(event name or None, data) per SSE event."""
    out = []
    for block in data.decode().split("\n\n"):
        if not block.strip():
            continue
        ev, payload = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                payload = line[6:]
        out.append((ev, payload))
    return out


def test_openai_streams_content_token_by_token(emu):
    r, data = emu.post(chat(user("hi")))
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    assert r.getheader("x-ratelimit-remaining-requests")
    ev = sse_events(data)
    assert ev[-1] == (None, "[DONE]")
    chunks = [json.loads(p) for _, p in ev[:-1]]
    first = chunks[0]
    assert first["object"] == "chat.completion.chunk" and first["id"].startswith("chatcmpl-")
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["id"] == first["id"] and c["model"] == "llama-3.3-70b-versatile" for c in chunks)
    assert all(c["choices"][0]["logprobs"] is None for c in chunks)
    text = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert len(text) > 8 and "".join(text) == SCRIPT["llm"][0]["content"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

    r, data = emu.post(chat(user("hi"), stream=False))
    j = json.loads(data)
    assert j["object"] == "chat.completion" and j["usage"]["total_tokens"] > 0
    assert j["choices"][0]["message"] == {"role": "assistant", "content": SCRIPT["llm"][0]["content"]}


def assemble_calls(chunks):
    calls = {}
    for c in chunks:
        for tc in c["choices"][0]["delta"].get("tool_calls") or []:
            cur = calls.setdefault(tc["index"], {"id": None, "name": None, "arguments": ""})
            if tc.get("id"):
                cur["id"] = tc["id"]
            fn = tc.get("function") or {}
            if fn.get("name"):
                cur["name"] = fn["name"]
            cur["arguments"] += fn.get("arguments") or ""
    return calls


def test_openai_fragments_tool_calls_and_groq_sends_them_whole(emu):
    want = SCRIPT["llm"][1]["tool_calls"][0]
    for path, fragmented in (("/v1/chat/completions", True), ("/openai/v1/chat/completions", False)):
        r, data = emu.post(chat(user("hi"), user("book it")), path=path)
        ev = sse_events(data)
        chunks = [json.loads(p) for _, p in ev[:-1]]
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
        calls = assemble_calls(chunks)
        assert list(calls) == [0]
        assert calls[0]["id"].startswith("call_") and calls[0]["name"] == want["name"]
        assert json.loads(calls[0]["arguments"]) == want["arguments"]
        head = deltas[0]["tool_calls"][0]
        assert head["type"] == "function" and head["id"] == calls[0]["id"]
        if fragmented:
            assert head["function"] == {"name": "create_booking", "arguments": ""}
            assert len(deltas) >= 8
            assert all(set(d["tool_calls"][0]) == {"index", "function"} for d in deltas[1:])
        else:
            assert len(deltas) == 1
            assert chunks[-1]["x_groq"]["usage"]["total_tokens"] > 0
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        assert text == "Let me book that."


def test_openai_validates_like_the_real_api(emu):
    call = {"id": "call_abc", "type": "function",
            "function": {"name": "create_booking", "arguments": "{\"a\":1}"}}
    tools = [{"type": "function", "function": {"name": "create_booking", "description": "d",
                                               "parameters": {"type": "object"}}}]
    good = chat(user("hi"), {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_abc", "content": "{\"ok\":true}"},
                tools=tools)
    r, data = emu.post(good)
    assert r.status == 200, data

    bad = [
        (chat(user("hi"), {"role": "tool", "tool_call_id": "call_zzz", "content": "x"}),
         "messages.[2].role", None),
        (chat(user("hi"), {"role": "assistant", "tool_calls": [call]},
              {"role": "tool", "tool_call_id": "call_other", "content": "x"}, tools=tools),
         "messages.[3].role", None),
        (chat(user("hi"), {"role": "assistant", "tool_calls": [call]}, user("again")),
         "messages.[2].role", None),
        (chat(user("hi"), {"role": "assistant", "tool_calls": [
            dict(call, function={"name": "create_booking", "arguments": {"a": 1}})]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "x"}),
         "messages[2].tool_calls[0].function.arguments", "invalid_type"),
        (chat(user("hi"), tools=[{"type": "function", "function": {"name": "bad name!"}}]),
         "tools[0].function.name", "invalid_value"),
        (chat(user("hi"), n=2), "n", None),
        ({"messages": [user("hi")]}, None, None),
        (chat({"role": "robot", "content": "x"}), "messages[1].role", "invalid_value"),
        (chat(user("hi"), foo=1), None, None),
        (chat(user("hi"), tool_choice="auto"), "tool_choice", None),
    ]
    for body, param, code in bad:
        r, data = emu.post(body)
        assert r.status == 400, (body, data)
        err = json.loads(data)["error"]
        assert err["type"] == "invalid_request_error" and err["message"]
        assert set(err) == {"message", "type", "param", "code"}
        assert err["param"] == param and err["code"] == code, err
    r, data = emu.post("{not json")
    assert r.status == 400 and "parse the JSON body" in json.loads(data)["error"]["message"]
    r, data = emu.post(dict(chat(user("hi")), messages=[]))
    assert json.loads(data)["error"]["code"] == "empty_array"


def test_openai_scripted_429_cut_and_midstream_error(emu):
    turns = [user("a"), user("b"), user("c")]
    r, data = emu.post(chat(*turns))
    assert r.status == 429 and r.getheader("retry-after") == "1"
    assert r.getheader("x-ratelimit-remaining-tokens") == "0"
    err = json.loads(data)["error"]
    assert err["code"] == "rate_limit_exceeded" and "try again in 1s" in err["message"]

    # cut: three content tokens, then the connection closes mid-body (no [DONE])
    raw, timed_out = raw_post(emu.oai, chat(*turns, user("d")))
    assert not timed_out and raw.startswith(b"HTTP/1.1 200") and b"[DONE]" not in raw
    assert not raw.endswith(b"0\r\n\r\n")  # no final chunk: an aborted transfer
    contents = [json.loads(line[6:])["choices"][0]["delta"].get("content")
                for line in raw.decode(errors="replace").split("\r\n") if line.startswith("data: {")]
    assert "".join(c for c in contents if c) == "one two three"

    # Groq's in-stream error: event: error, then data: {"error":{...}}, no [DONE]
    r, data = emu.post(chat(*turns, user("d"), user("e")), path="/openai/v1/chat/completions")
    ev = sse_events(data)
    assert ev[-1][0] == "error" and (None, "[DONE]") not in ev
    e = json.loads(ev[-1][1])["error"]
    assert e["status_code"] == 400 and e["code"] == "tool_use_failed" and e["message"]
    assert "".join(json.loads(p)["choices"][0]["delta"].get("content") or "" for _, p in ev[:-1]) == "alpha beta"


def test_openai_auth_faults_and_request_record(emu_factory):
    e = emu_factory("--key-openai", "sk-test", "--faults", "openai:once:refuse@503")
    r, data = e.post(chat(user("hi")), headers={"Authorization": "Bearer sk-test"})
    assert r.status == 503 and json.loads(data)["error"]["type"] == "internal_server_error"
    r, data = e.post(chat(user("hi")))
    assert r.status == 401 and json.loads(data)["error"]["message"].startswith("You didn't provide")
    r, data = e.post(chat(user("hi")), headers={"Authorization": "Bearer sk-nope"},
                     path="/openai/v1/chat/completions")
    assert r.status == 401 and json.loads(data)["error"]["code"] == "invalid_api_key"
    r, data = e.post(chat(user("hi"), user("barge-in kept?")),
                     headers={"Authorization": "Bearer sk-test"})
    assert r.status == 200 and data.endswith(b"data: [DONE]\n\n")
    status, recs = e.get("/emu/requests")
    assert status == 200 and len(recs) == 4
    assert recs[-1]["messages"][-1]["content"] == "barge-in kept?"


def test_openai_stall_and_malformed_faults(emu_factory):
    e = emu_factory("--faults", "openai:malformed@2")
    r, data = e.post(chat(user("hi")))
    ev = sse_events(data)
    assert ev[-1] == (None, "[DONE]")
    bad = [p for _, p in ev if p != "[DONE]" and not p.endswith("}")]
    assert len(bad) == 1 and ev.index((None, bad[0])) == 2  # after two good events

    e = emu_factory("--faults", "openai:once:stall@1", sub="stall")
    raw, timed_out = raw_post(e.oai, chat(user("hi")), timeout=1.0)
    assert timed_out and raw.startswith(b"HTTP/1.1 200")
    assert raw.count(b"data: ") == 1 and b'"role":"assistant"' in raw  # then silence
    r, data = e.post(chat(user("hi")))  # once: the next request streams normally
    assert data.endswith(b"data: [DONE]\n\n")


# ---------------------------------------------------------------- Cartesia

def gen(ctx, text, cont=True, fmt=("pcm_s16le", 8000), **kw):
    m = {"model_id": "sonic-2", "transcript": text, "voice": VOICE, "language": "en",
         "context_id": ctx, "output_format": {"container": "raw", "encoding": fmt[0],
                                              "sample_rate": fmt[1]},
         "continue": cont}
    m.update(kw)
    return json.dumps(m)


def cart_url(e, version="2025-04-16"):
    return "ws://127.0.0.1:%d/tts/websocket?cartesia_version=%s" % (e.cart, version)


async def cart_until_done(ws, ctx, timeout=10):
    got = []
    while True:
        j = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        got.append(j)
        if j.get("context_id") == ctx and j["done"]:
            return got


def test_cartesia_streams_paced_audio_chunks_then_done(emu_factory):
    e = emu_factory("--key-cartesia", "ck")

    async def go():
        async with websockets.connect(cart_url(e), extra_headers={"X-API-Key": "ck"}) as ws:
            t0 = time.monotonic()
            for piece in ("Thanks for calling, ", "how can I ", "help you today?"):
                await ws.send(gen("turn1", piece, add_timestamps=True))
            await ws.send(gen("turn1", "", cont=False))
            got = await cart_until_done(ws, "turn1")
            return got, time.monotonic() - t0

    got, took = run(go())
    chunks = [j for j in got if j["type"] == "chunk"]
    assert got[-1] == {"type": "done", "context_id": "turn1", "status_code": 200, "done": True}
    assert len(chunks) > 10
    total = 0
    for c in chunks:
        assert c["context_id"] == "turn1" and c["status_code"] == 206 and c["done"] is False
        assert isinstance(c["step_time"], float)
        audio = base64.b64decode(c["data"])
        assert len(audio) % 2 == 0 and 0 < len(audio) <= 640  # <= 40 ms of s16le at 8 kHz
        total += len(audio)
    secs = total / 16000.0
    assert 1.0 < secs < 6.0
    assert took > secs * 0.25 * 0.8  # paced at --tts-rtf 0.25
    ts = [j for j in got if j["type"] == "timestamps"]
    words = sum((t["word_timestamps"]["words"] for t in ts), [])
    assert " ".join(words) == "Thanks for calling, how can I help you today?"


def test_cartesia_cancel_stops_audio_and_contexts_interleave(emu_factory):
    e = emu_factory("--tts-rtf", "1.0", "--key-cartesia", "ck")

    async def go():
        async with websockets.connect(cart_url(e) + "&api_key=ck") as ws:
            await ws.send(gen("a", "This is a long answer that the caller will interrupt quite "
                                   "soon, so most of it is never heard. ", fmt=("pcm_mulaw", 8000)))
            first = json.loads(await ws.recv())
            assert first["type"] == "chunk" and first["context_id"] == "a"
            await ws.send(json.dumps({"context_id": "a", "cancel": True}))
            await ws.send(gen("b", "Sorry, go ahead.", cont=False, fmt=("pcm_mulaw", 8000)))
            got = await cart_until_done(ws, "b")
            late = []
            try:
                while True:
                    late.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
            except asyncio.TimeoutError:
                pass
            return got + late

    got = run(go())
    after_a = [j for j in got if j.get("context_id") == "a"]
    assert len(after_a) <= 3 and all(j["type"] == "chunk" for j in after_a)  # no done for "a"
    b = [j for j in got if j.get("context_id") == "b"]
    assert b[-1]["type"] == "done" and len([j for j in b if j["type"] == "chunk"]) > 5


def test_cartesia_flush_and_other_formats(emu_factory):
    e = emu_factory("--tts-rtf", "0")

    async def go():
        async with websockets.connect(cart_url(e), extra_headers={"X-API-Key": "any"}) as ws:
            f32 = ("pcm_f32le", 48000)
            await ws.send(gen("f", "One two.", fmt=f32))
            await ws.send(gen("f", "", fmt=f32, flush=True))
            await ws.send(gen("f", " Three four.", fmt=f32))
            await ws.send(gen("f", "", cont=False, fmt=f32))
            return await cart_until_done(ws, "f")

    got = run(go())
    kinds = [j["type"] for j in got]
    assert kinds.count("flush_done") == 1 and kinds[-1] == "done"
    fd = got[kinds.index("flush_done")]
    assert fd["flush_id"] == 1 and fd["flush_done"] is True and fd["done"] is False
    assert "chunk" in kinds[:kinds.index("flush_done")] and "chunk" in kinds[kinds.index("flush_done"):]
    for j in got:
        if j["type"] == "chunk":
            assert len(base64.b64decode(j["data"])) % 4 == 0  # float32 samples


async def until_quiet(ws, quiet_s=1.5):
    """Every message until the socket closes or says nothing for quiet_s, and
    the last one raw (a malformed one is not JSON)."""
    got, raw = [], None
    try:
        while True:
            raw = await asyncio.wait_for(ws.recv(), quiet_s)
            got.append(json.loads(raw))
    except (websockets.ConnectionClosed, asyncio.TimeoutError, ValueError):
        pass
    return got, raw


@pytest.mark.parametrize("fault", ["close", "stall", "malformed"])
def test_cartesia_faults_come_after_their_count_of_messages(emu_factory, fault):
    """The emulator writes a reply's chunks as they fall due, several in one
    pass when they can; a fault still comes after exactly n messages."""
    e = emu_factory("--tts-rtf", "0", "--faults", "cartesia:%s@3" % fault)

    async def go():
        async with websockets.connect(cart_url(e), extra_headers={"X-API-Key": "any"}) as ws:
            await ws.send(gen("f", "One two three four five six seven eight nine ten.",
                              cont=False))
            got, raw = await until_quiet(ws)
            return got, raw, ws.close_code, ws.close_reason

    got, raw, code, reason = run(go())
    assert [j["type"] for j in got[:3]] == ["chunk"] * 3
    if fault == "close":
        assert len(got) == 3 and (code, reason) == (1011, "vagent-emu fault: close")
    elif fault == "stall":
        assert len(got) == 3 and code is None     # silent, still open
    else:
        assert len(got) == 3 and raw.startswith('{"type":"chunk","data":"AAAA')


@pytest.mark.parametrize("fault", ["close", "stall", "malformed"])
def test_elevenlabs_tts_faults_come_after_their_count_of_messages(emu_factory, fault):
    """As Cartesia's, on ElevenLabs' stream-input (the same send path)."""
    port = free_port()
    emu_factory("--tts-rtf", "0", "--elevenlabs", str(port), "--faults",
                "elevenlabs:%s@3" % fault)
    url = ("ws://127.0.0.1:%d/v1/text-to-speech/voice1/stream-input"
           "?model_id=eleven_flash_v2_5&output_format=pcm_8000" % port)

    async def go():
        async with websockets.connect(url, extra_headers={"xi-api-key": "any"}) as ws:
            await ws.send(json.dumps({"text": " "}))
            await ws.send(json.dumps({"text": "One two three four five six seven eight nine "
                                              "ten eleven twelve. ", "flush": True}))
            got, raw = await until_quiet(ws)
            return got, raw, ws.close_code, ws.close_reason

    got, raw, code, reason = run(go())
    assert len(got) == 3 and all(j.get("audio") for j in got), got
    if fault == "close":
        assert (code, reason) == (1011, "vagent-emu fault: close")
    elif fault == "stall":
        assert code is None     # silent, still open
    else:
        assert raw.startswith('{"audio":"AAAA')


@pytest.mark.parametrize("fault", ["close", "stall", "malformed"])
def test_deepgram_faults_come_after_their_count_of_messages(emu_factory, fault):
    """Deepgram's results are written as they fall due, several in one pass
    when they can (the audio here comes faster than real time); a fault
    still comes after exactly n messages."""
    e = emu_factory("--faults", "deepgram:%s@3" % fault)

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d%s" % (e.dg, DG_QUERY)) as ws:
            try:
                await send_audio(ws, pcm16(speech_pcm()))
            except websockets.ConnectionClosed:
                pass
            got, raw = await until_quiet(ws)
            return got, raw, ws.close_code

    got, raw, code = run(go())
    assert len(got) == 3, got
    if fault == "close":
        assert code == 1011
    elif fault == "stall":
        assert code is None     # silent, still open
    else:
        assert raw.startswith('{"type":"Results","channel_index":[0,')


def test_cartesia_errors_in_the_real_shapes(emu_factory):
    e = emu_factory("--key-cartesia", "ck")

    async def go(version):
        async with websockets.connect(cart_url(e, version), extra_headers={"X-API-Key": "ck"}) as ws:
            out = []
            await ws.send(json.dumps({"transcript": "hi", "context_id": "x1", "voice": VOICE}))
            out.append(json.loads(await ws.recv()))
            await ws.send(gen("x2", "hi", fmt=("mp3", 8000)))
            out.append(json.loads(await ws.recv()))
            await ws.send(gen("x3", "Hi.", cont=False))
            await cart_until_done(ws, "x3")
            await ws.send(gen("x3", "again"))
            out.append(json.loads(await ws.recv()))
            return out

    old = run(go("2025-04-16"))
    assert [j["context_id"] for j in old] == ["x1", "x2", "x3"]
    for j in old:
        assert j["type"] == "error" and j["status_code"] == 400 and j["done"] is True
        assert j["error"]
    new = run(go("2026-03-01"))
    for j in new:
        assert j["type"] == "error" and j["done"] is True and j["message"] and j["title"]
        assert "error_code" in j and j["request_id"]

    status, _, body = raw_upgrade(e.cart, "/tts/websocket", [("X-API-Key", "ck")])
    assert status == 400 and b"Cartesia-Version" in body
    status, _, body = raw_upgrade(e.cart, "/tts/websocket?cartesia_version=2026-03-01",
                                  [("X-API-Key", "nope")])
    assert status == 401 and json.loads(body)["error_code"] and json.loads(body)["request_id"]
    status, _, _ = raw_upgrade(e.cart, "/tts/websocket", [("Authorization", "Bearer ck"),
                                                          ("Cartesia-Version", "2025-04-16")])
    assert status == 101
    _, recs = e.get("/emu/requests", e.cart)
    assert any((r.get("message") or {}).get("context_id") == "x3" for r in recs)
