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
    r = place_call(d, tmp_path, [4.0, "Hello there.", 5.0])
    assert r["outcome"] != "failed", r
    opens = [m for m in emu.requests("deepgram") if m.get("event") == "open"]
    assert opens, "the Deepgram connection was opened"
    assert url_len(emu, opens[0]) > 1024, "the URL is longer than the old buffer"
    sent = [v for k, v in opens[0]["query"] if k == "keyterm"]
    assert sent == terms, "every key term, URL-encoded once"
    spoken = "".join(m.get("message", m).get("transcript", "") for m in emu.requests("cartesia"))
    assert "how can I help?" in spoken, "the call went on to an answer"
    no_worker_died(d)
