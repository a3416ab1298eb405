"""The provider clients (Deepgram STT, OpenAI-compatible LLM, Cartesia TTS)
against the emulators, for the failures a provider or a config can cause:
a URL longer than any fixed buffer, a stream that ends badly. Each test names
the issue item it protects."""
import urllib.parse

import pytest

from agent_harness import Emulators, agent_daemon, caller_wav, context_file
from api_harness import seed_dids
from harness import run_caller, wait_for

UID = "7a1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def stack(daemon_factory, db, tmp_path):
    """make(script, faults=None, emu_opts={}, **sections) -> (daemon, emulators)."""
    seed_dids(db)
    made = []

    def make(script, faults=None, emu_opts=None, **sections):
        # A short greeting: on a loaded machine the caller's first words
        # must not land on it (a barge-in is not what these tests are about).
        sections.setdefault("local", {}).setdefault("greeting", "Hello.")
        e = Emulators(tmp_path, script, faults, **(emu_opts or {}))
        made.append(e)
        d = agent_daemon(daemon_factory, db, tmp_path, e, **sections)
        d.db = db
        return d, e

    yield make
    for e in made:
        e.stop()


def place_call(d, tmp_path, parts, uid=UID, extra=2):
    context_file(d, uid)
    wav = str(tmp_path / "caller.wav")
    caller_wav(wav, parts)
    res = run_caller(d.port, "-u", uid, "-w", wav, "-d", str(extra), timeout=180)
    return res["results"][0]


def no_worker_died(d):
    assert "died" not in d.log_text(), [l for l in d.log_text().splitlines() if "died" in l]


def replies(emu):
    """{text of each TTS context: whether it was finished (continue false)}."""
    text, done = {}, {}
    for m in emu.requests("cartesia"):
        m = m.get("message", m)
        ctx = m.get("context_id")
        if ctx and "transcript" in m:
            text[ctx] = text.get(ctx, "") + m["transcript"]
            done[ctx] = done.get(ctx, False) or m.get("continue") is False
    return {text[c]: done[c] for c in text}


def long_keyterms(limit=188):
    """As many terms as a config line holds (inih reads 199 bytes a line),
    three characters each that all need URL-encoding: each term costs
    "&keyterm=" and nine bytes, a URL over 1,024 bytes in under 60 query
    parameters (the emulator's websocket server takes no more than 80)."""
    chars, terms = "&%+#/?=;@", []
    while len(",".join(terms + ["xxx"])) <= limit:
        n = len(terms)
        terms.append(chars[n % 9] + chars[(n // 9 + 1) % 9] + chars[(n + 4) % 9])
    return terms


def url_len(emu, open_event):
    """The length of the URL the worker opened, as the emulator saw it."""
    base = len("ws://127.0.0.1:%d%s" % (emu.ports["deepgram"], open_event["path"]))
    return base + sum(len(k) + 2 + len(urllib.parse.quote(v, safe=""))
                      for k, v in open_event["query"])


def test_issue1_long_keyterms_list_call_works(stack, tmp_path):
    """Issue item 1: a keyterms list whose URL passes the old 1,024-byte
    buffer crashed the worker (STT start failed, the agent spoke through a
    TTS client not yet made). Now the URL is sized from the config, every
    term reaches Deepgram, and the call is answered."""
    terms = long_keyterms()
    d, emu = stack({"stt": ["Hello there."], "llm": [{"content": "Hi, how can I help?"}]},
                   stt={"keyterms": ",".join(terms)})
    r = place_call(d, tmp_path, [5.0, "Hello there.", 5.0])
    assert r["outcome"] != "failed", r
    opens = [m for m in emu.requests("deepgram") if m.get("event") == "open"]
    assert opens, "the Deepgram connection was opened"
    assert url_len(emu, opens[0]) > 1024, "the URL is longer than the old buffer"
    sent = [v for k, v in opens[0]["query"] if k == "keyterm"]
    assert sent == terms, "every key term, URL-encoded once"
    users = [m["content"] for q in emu.llm_requests() for m in q["messages"]
             if m["role"] == "user"]
    assert any("Hello there" in u for u in users), "the caller was heard through that URL"
    no_worker_died(d)


@pytest.mark.parametrize("fault", ["openai:once:cut@999", "openai:once:stall@999"])
def test_issue3_whole_stream_then_transport_error_is_done(stack, tmp_path, fault):
    """Issue item 3: a stream that came whole ([DONE]) followed by a reset
    (cut) or a timeout (stall: the response never ends) called neither
    on_done nor on_error; the dialog kept the freed request and freed it
    again at the next turn. Now the reply counts as done: it is finished,
    and the next turn gets its answer."""
    d, emu = stack({"stt": ["First thing.", "Second thing."],
                    "llm": [{"content": "Got that."}, {"content": "And that too."}]},
                   fault, llm={"timeout_ms": "1500"})
    r = place_call(d, tmp_path, [5.0, "First thing.", 5.0, "Second thing.", 5.0])
    assert r["outcome"] != "failed", r
    said = replies(emu)
    assert said.get("Got that.") is True, "the first reply was spoken and finished"
    assert said.get("And that too.") is True, "the second turn was answered"
    assert len(emu.llm_requests()) == 2, "no retry of a reply that came whole"
    assert "attempt 1 failed" not in d.log_text()
    no_worker_died(d)


@pytest.mark.parametrize("svc,status", [("cartesia", 402), ("deepgram", 404)])
def test_issue2_a_permanent_refusal_ends_the_provider_at_once(stack, tmp_path, svc, status):
    """Issue item 2: one rule says which statuses are permanent. A 402 (no
    credit) from Cartesia was retried at every reply, a 404 from Deepgram
    five times; now either ends that provider at once, and the call goes on
    without it (the local voice for the TTS; a hand-back for STT) instead
    of in silence."""
    d, emu = stack({"stt": ["Hello there."], "llm": [{"content": "Hi."}]},
                   "%s:refuse@%d" % (svc, status))
    r = place_call(d, tmp_path, [3.0, "Hello there.", 8.0])
    assert r["outcome"] != "failed", r
    name = {"cartesia": "Cartesia", "deepgram": "Deepgram"}[svc]
    lines = [l for l in d.log_text().splitlines()
             if name + " closed" in l and ("giving up" in l or "reconnecting" in l)]
    assert len(lines) == 1 and "giving up" in lines[0], lines
    d.wait_log("switching to the local voice" if svc == "cartesia" else "lost for good")
    no_worker_died(d)
