"""Load on the provider emulators alone, with no vagentd in between.

Each emulated call does what a local-engine call's worker does to its
providers: the caller's audio to Deepgram in 100 ms messages in real time;
for each final transcript (speech_final) a streamed chat completion, each
of its tokens to Cartesia as a continuation of one context, then the audio
back until the context is done; the greeting first. The driver times the
emulated stages as a worker sees them; their growth above the configured
delays, beside the emulators' CPU, says whether the emulators keep up at
call counts vagentd cannot reach on this box (issue 10: 1,000 calls on
one core).

The driver is asyncio, its calls split over two processes (one loop could
not carry 500 calls here). Its CPU and its own lateness (how late its 100
ms sends ran) are reported, so a run it could not keep up with is visible
as such rather than blamed on the emulators.
"""
import asyncio
import json
import os
import resource
import time

import websockets

from cost import TICK, cpu_ticks

BATCH_S = 0.1
RATE = 8000
SYSTEM = "You answer the phone for a plumbing business."
GREETING = "Hello, Home Services, good afternoon. How can I help?"
CART_HEAD = {"model_id": "sonic-3",
             "voice": {"mode": "id", "id": "a0e99841-438c-4a64-b679-ae501e7d6091"},
             "language": "en",
             "output_format": {"container": "raw", "encoding": "pcm_s16le",
                               "sample_rate": RATE}}


def raise_fd_limit():
    """Two sockets a call here and two in the emulator: lift the soft
    limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def speech_ends(pcm, vad_rms, endpointing_ms):
    """Seconds into pcm where each utterance ends: the end of the last
    20 ms frame above vad_rms before endpointing_ms below it: near enough
    to the Deepgram emulator's VAD to time its transcripts from."""
    import array
    import math
    s = array.array("h", pcm)
    n, quiet_need = RATE // 50, endpointing_ms // 20
    ends, last_voiced, quiet = [], None, 0
    for k in range(len(s) // n):
        f = s[k * n:(k + 1) * n]
        rms = math.sqrt(sum(x * x for x in f) / n)
        if rms >= vad_rms:
            last_voiced, quiet = (k + 1) * 0.02, 0
        elif last_voiced is not None:
            quiet += 1
            if quiet >= quiet_need:
                ends.append(last_voiced)
                last_voiced, quiet = None, 0
    if last_voiced is not None:
        ends.append(last_voiced)
    return ends


class Stats:
    def __init__(self):
        self.stt_ms, self.ttft_ms, self.ttfb_ms, self.lag_ms = [], [], [], []
        self.turns = self.errors = self.calls_done = 0
        self.error_kinds = {}

    def error(self, what):
        self.errors += 1
        self.error_kinds[what] = self.error_kinds.get(what, 0) + 1


async def completion(port, history, on_token):
    """POST a streamed chat completion; on_token(text) per content delta.
    Returns the whole reply."""
    body = json.dumps({"model": "llama-3.3-70b-versatile", "stream": True,
                       "temperature": 0.4, "max_tokens": 300,
                       "messages": [{"role": "system", "content": SYSTEM}] + history}).encode()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer bench\r\nContent-Type: application/json\r\n"
            b"Accept: text/event-stream\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)
    status = await r.readline()
    if b" 200 " not in status:
        w.close()
        raise RuntimeError("completion: " + status.decode(errors="replace").strip())
    reply = []
    while True:	# the emulator writes an event per HTTP chunk: size lines skipped
        line = await r.readline()
        if not line:
            break
        if not line.startswith(b"data: "):
            continue
        data = line[6:].strip()
        if data == b"[DONE]":
            break
        d = json.loads(data).get("choices") or [{}]
        text = (d[0].get("delta") or {}).get("content")
        if text:
            reply.append(text)
            await on_token(text)
    w.close()
    return "".join(reply)


class Call:
    """One emulated call's provider traffic."""

    def __init__(self, i, ports, pcm, ends, stats):
        self.i, self.ports, self.pcm, self.ends, self.stats = i, ports, pcm, ends, stats
        self.ctx_n, self.ctx_done = 0, asyncio.Event()
        self.first_text = self.first_chunk = None
        self.finals = asyncio.Queue()

    async def tts_reader(self, tts):
        # Only the message's type matters here: no JSON decoding of audio.
        async for m in tts:
            if '"type":"chunk"' in m:
                if self.first_chunk is None:
                    self.first_chunk = time.monotonic()
                    self.stats.ttfb_ms.append((self.first_chunk - self.first_text) * 1000)
            elif '"type":"done"' in m:
                self.ctx_done.set()
            elif '"type":"error"' in m:
                self.stats.error("tts: " + m[:80])
                self.ctx_done.set()

    async def dg_reader(self, dg):
        async for m in dg:
            if '"speech_final":true' not in m:
                continue
            text = json.loads(m)["channel"]["alternatives"][0]["transcript"]
            if text:
                await self.finals.put((time.monotonic(), text))

    async def send_audio(self, dg, t0):
        """The caller's audio in real time, a message per BATCH_S as a
        worker sends it; how late each went is the driver's own lag."""
        step = int(RATE * BATCH_S) * 2
        for k in range(0, len(self.pcm), step):
            due = t0 + k / 2 / RATE + BATCH_S
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            self.stats.lag_ms.append((time.monotonic() - due) * 1000)
            await dg.send(self.pcm[k:k + step])
        await dg.send(json.dumps({"type": "CloseStream"}))

    async def speak(self, tts, tokens_of):
        """Streams one reply's text into a new context as tokens_of(token)
        produces it, then waits until its audio is done. Returns the text."""
        self.ctx_n += 1
        ctx = "load%d-%d" % (self.i, self.ctx_n)
        self.ctx_done.clear()
        self.first_text = self.first_chunk = None

        async def token(text):
            if self.first_text is None:
                self.first_text = time.monotonic()
            await tts.send(json.dumps(dict(CART_HEAD, context_id=ctx, transcript=text,
                                           add_timestamps=True, **{"continue": True})))
        reply = await tokens_of(token)
        await tts.send(json.dumps(dict(CART_HEAD, context_id=ctx, transcript="",
                                       **{"continue": False})))
        await asyncio.wait_for(self.ctx_done.wait(), 30)
        return reply

    async def connect(self):
        p = self.ports
        dg = await websockets.connect(
            "ws://127.0.0.1:%d/v1/listen?model=nova-3&language=en-GB&encoding=linear16"
            "&sample_rate=%d&channels=1&interim_results=true&vad_events=true"
            "&smart_format=true&punctuate=true&endpointing=300&utterance_end_ms=1000"
            % (p["deepgram"], RATE), extra_headers={"Authorization": "Token bench"},
            compression=None, max_size=None, ping_interval=None)
        try:
            tts = await websockets.connect(
                "ws://127.0.0.1:%d/tts/websocket" % p["cartesia"],
                extra_headers={"X-API-Key": "bench", "Cartesia-Version": "2025-04-16"},
                compression=None, max_size=None, ping_interval=None)
        except BaseException:
            await dg.close()
            raise
        return dg, tts

    async def turn(self, tts, history):
        """One reply: the completion's tokens into a new TTS context."""
        t_req, first = time.monotonic(), []

        async def tokens_of(token):
            async def on_token(text):
                if not first:
                    first.append(time.monotonic())
                    self.stats.ttft_ms.append((first[0] - t_req) * 1000)
                await token(text)
            return await completion(self.ports["openai"], history, on_token)
        history.append({"role": "assistant", "content": await self.speak(tts, tokens_of)})
        self.stats.turns += 1

    async def converse(self, dg, tts, tasks):
        async def greeting(token):
            await token(GREETING)
            return GREETING
        await self.speak(tts, greeting)
        t0 = time.monotonic()
        tasks.append(asyncio.ensure_future(self.dg_reader(dg)))
        sender = asyncio.ensure_future(self.send_audio(dg, t0))
        tasks.append(sender)
        history = [{"role": "assistant", "content": GREETING}]
        for end in self.ends:
            t_final, text = await asyncio.wait_for(self.finals.get(), 30)
            self.stats.stt_ms.append((t_final - (t0 + end)) * 1000)
            history.append({"role": "user", "content": text})
            await self.turn(tts, history)
        await sender

    async def run(self, t_start):
        """The whole call; a failure is counted, never raised."""
        await asyncio.sleep(max(0.0, t_start - time.monotonic()))
        try:
            dg, tts = await self.connect()
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            self.stats.error("connect: " + type(e).__name__)
            return
        tasks = [asyncio.ensure_future(self.tts_reader(tts))]
        try:
            await self.converse(dg, tts, tasks)
            self.stats.calls_done += 1
        except (OSError, RuntimeError, KeyError, ValueError, asyncio.TimeoutError,
                websockets.exceptions.WebSocketException) as e:
            self.stats.error(type(e).__name__ + ": " + str(e)[:60])
        finally:
            for t in tasks:
                t.cancel()
            await dg.close()
            await tts.close()


def pct(xs, q):
    """The q quantile of xs (nearest rank), or None for none."""
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)


def drive(ports, pcm, ends, indices, t_start, stagger_s):
    """The calls numbered indices, on this process's own asyncio loop,
    the i'th started at t_start + i * stagger_s. Returns their Stats."""
    stats = Stats()

    async def main():
        await asyncio.gather(*(Call(i, ports, pcm, ends, stats).run(t_start + i * stagger_s)
                               for i in indices))
    asyncio.run(main())
    return stats


def fork_driver(ports, pcm, ends, indices, t_start, stagger_s):
    """drive() in a child process; returns (pid, the read end of a pipe
    that carries its Stats as JSON)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        return pid, r
    os.close(r)
    code = 1
    try:
        st = drive(ports, pcm, ends, indices, t_start, stagger_s)
        with os.fdopen(w, "w") as f:
            json.dump(st.__dict__, f)
        code = 0
    except BaseException:	# said here; the parent counts its calls as errors
        import traceback
        traceback.print_exc()
    finally:
        os._exit(code)


def collect(children):
    """Every child's Stats merged into one (a child that died counts as
    one error per call it carried)."""
    total = Stats()
    for pid, r, carried in children:
        with os.fdopen(r) as f:
            data = f.read()
        os.waitpid(pid, 0)
        if not data:
            total.errors += carried
            total.error_kinds["driver died"] = total.error_kinds.get("driver died", 0) + carried
            continue
        part = json.loads(data)
        for k in ("stt_ms", "ttft_ms", "ttfb_ms", "lag_ms"):
            getattr(total, k).extend(part[k])
        for k in ("turns", "errors", "calls_done"):
            setattr(total, k, getattr(total, k) + part[k])
        for k, v in part["error_kinds"].items():
            total.error_kinds[k] = total.error_kinds.get(k, 0) + v
    return total


def run(ports, emu_pid, n, pcm, vad_rms, endpointing_ms, procs=2):
    """n emulated calls against the emulators on ports, from procs driver
    processes (one asyncio loop cannot carry 500 calls here); returns a
    dict of figures. CPU counts from the last call's start to the first
    call's end: every call up at once."""
    raise_fd_limit()
    stagger_s = min(0.01, 5.0 / n)	# every call up within 5 s at most
    ends = speech_ends(pcm, vad_rms, endpointing_ms)
    t_start = time.monotonic() + 0.5
    procs = max(1, min(procs, n))
    children = [fork_driver(ports, pcm, ends, range(k, n, procs), t_start, stagger_s) + (
                len(range(k, n, procs)),) for k in range(procs)]

    def cpu():
        return (time.monotonic(), cpu_ticks(emu_pid) / TICK,
                sum(cpu_ticks(pid) for pid, _, _ in children) / TICK)
    time.sleep(max(0.0, t_start + n * stagger_s + 3.0 - time.monotonic()))
    t_a, e_a, d_a = cpu()
    time.sleep(max(1.0, len(pcm) / 2 / RATE - n * stagger_s - 4.0))
    t_b, e_b, d_b = cpu()
    stats = collect(children)
    wall = t_b - t_a
    return {"calls": n, "completed": stats.calls_done, "turns": stats.turns,
            "expected_turns": n * len(ends),
            "errors": stats.errors, "error_kinds": stats.error_kinds,
            "window_s": round(wall, 1),
            "emu_cpu_share": round((e_b - e_a) / wall, 3),
            "emu_cpu_ms_per_call_min": round((e_b - e_a) * 1000 / (n * wall / 60), 1),
            "driver_procs": procs,
            "driver_cpu_share": round((d_b - d_a) / wall, 3),
            "driver_lag_p99_ms": pct(stats.lag_ms, 0.99) or 0.0,
            "stt_p50_ms": pct(stats.stt_ms, 0.5), "stt_p99_ms": pct(stats.stt_ms, 0.99),
            "ttft_p50_ms": pct(stats.ttft_ms, 0.5), "ttft_p99_ms": pct(stats.ttft_ms, 0.99),
            "ttfb_p50_ms": pct(stats.ttfb_ms, 0.5), "ttfb_p99_ms": pct(stats.ttfb_ms, 0.99)}
