"""Helpers for the engines' tests: the provider emulators (vagent-emu),
caller speech made with espeak-ng and what the caller heard, and a vagentd
whose calls go to the local engine or to an ElevenLabs agent."""
import json
import os
import subprocess
import tempfile
import urllib.request
import wave

from api_harness import api_daemon, seed_dids
from harness import BUILD, ROOT, free_port, read_wav, secret, write_wav

EMU = os.path.join(BUILD, "vagent-emu")
RATE = 8000

# What the scripted model books with on the local engine.
BOOKING_ARGS = {"customer_name": "Ahmed Lekan", "postcode": "e5 9es",
                "address": "42 Amhurst Road",
                "problem_description": "Leaking pipe under the kitchen sink"}

# A reply long enough to be talked over.
LONG = ("Well, our prices depend on the job, but there is a callout fee of forty eight "
        "pounds, and after that the plumber looks at the problem and gives you a fixed "
        "price before any work starts, so there are never any surprises on the bill.")


def script_file(path, name, script=None):
    """Writes an emulator script (JSON; {} by default) to path/name; returns its path."""
    p = os.path.join(str(path), name)
    with open(p, "w") as f:
        json.dump({} if script is None else script, f)
    return p


def start_emu(args, stderr=subprocess.STDOUT):
    """vagent-emu run with args (text pipes), once it has said it is ready."""
    proc = subprocess.Popen([EMU] + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=stderr, text=True)
    line = proc.stdout.readline()
    if line.strip() != "vagent-emu: ready":
        err = proc.stderr.read() if stderr == subprocess.PIPE else ""
        raise AssertionError("vagent-emu did not start: %s%s" % (line, err))
    return proc


class Emulators:
    """vagent-emu serving Deepgram, OpenAI and Cartesia on free ports."""

    def __init__(self, path, script, faults=None, **opts):
        self.dir = str(path)
        self.ports = {k: free_port() for k in ("deepgram", "openai", "cartesia")}
        self.script = script_file(self.dir, "script.json", script)
        self.opts = opts
        self.proc = self.start(faults, "emu.log")

    def start(self, faults, log):
        args = ["--script", self.script, "--log", os.path.join(self.dir, log)]
        for k, p in self.ports.items():
            args += ["--" + k, p]
        if faults:
            args += ["--faults", faults]
        for k, v in self.opts.items():
            args += ["--" + k.replace("_", "-"), v]
        return start_emu(args)

    def restart(self, faults=None):
        """Starts again on the same ports, with these faults (none: healthy)."""
        self.stop()
        self.proc = self.start(faults, "emu2.log")

    def settings(self):
        p = self.ports
        return {"stt": {"url": "ws://127.0.0.1:%d/v1/listen" % p["deepgram"]},
                "llm": {"url": "http://127.0.0.1:%d/openai/v1" % p["openai"]},
                "tts": {"url": "ws://127.0.0.1:%d/tts/websocket" % p["cartesia"],
                        "voice": "a0e99841-438c-4a64-b679-ae501e7d6091"}}

    def requests(self, service):
        with urllib.request.urlopen("http://127.0.0.1:%d/emu/requests"
                                    % self.ports[service], timeout=5) as r:
            return json.load(r)

    def llm_requests(self):
        return [r.get("body", r) for r in self.requests("openai")]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class XiAgent:
    """vagent-emu serving one ElevenLabs agent (websocket and signed URL)."""

    KEY = "xi-test-key-0123456789"

    def __init__(self, path, script, key=KEY):
        self.dir, self.key = str(path), key
        self.port = free_port()
        args = ["--script", script_file(path, "empty.json"), "--xi-agent", self.port,
                "--xi-agent-script", script_file(path, "xi_script.json", script),
                "--log", os.path.join(self.dir, "emu.log")]
        if key:
            args += ["--key-xi-agent", key]
        self.proc = start_emu(args)

    def settings(self):
        """vagentd's [elevenlabs] section for this agent, its key in a file."""
        return {"url": "http://127.0.0.1:%d" % self.port,
                "api_key_file": secret(self.dir, "xi.key", self.key, 0o640),
                "agent_id": "agent_vagent_test"}

    def state(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/emu/state" % self.port,
                                    timeout=5) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class CloudStacks:
    """Daemons whose calls to one DID go to the elevenlabs engine, each
    bridged to an XiAgent of its own, every other call to echo; context
    from the daemon's own api, on one database with the example DIDs. A
    fixture yields make and calls stop at the end."""

    def __init__(self, daemon_factory, db, tmp_path, did, **sections):
        seed_dids(db)
        self.args = (daemon_factory, db, tmp_path)
        self.did, self.sections = did, sections
        self.made = []

    def make(self, script):
        """-> (daemon, agent): the agent plays script."""
        daemon_factory, db, tmp_path = self.args
        agent = XiAgent(tmp_path, script)
        self.made.append(agent)
        api_port = free_port()
        sections = {"call": {"engine": "echo", "idle_timeout": "10"},
                    "api": {"listen": "127.0.0.1:%d" % api_port},
                    "local": {"api_url": "http://127.0.0.1:%d" % api_port},
                    "elevenlabs": agent.settings(),
                    "did:" + self.did: {"engine": "elevenlabs"}}
        for k, v in self.sections.items():
            sections.setdefault(k, {}).update(v)
        d = api_daemon(daemon_factory, db, tmp_path, **sections)
        d.db = db
        return d, agent

    def stop(self):
        for a in self.made:
            a.stop()


_speech_cache = {}


def speech(text):
    """8 kHz 16-bit mono samples of text spoken by espeak-ng (bytes)."""
    if text not in _speech_cache:
        with tempfile.TemporaryDirectory() as d:
            raw, out = os.path.join(d, "a.wav"), os.path.join(d, "b.wav")
            subprocess.run(["espeak-ng", "-v", "en-gb", "-w", raw, text], check=True)
            subprocess.run(["sox", raw, "-r", str(RATE), "-c", "1", "-b", "16", out],
                           check=True)
            with wave.open(out) as w:
                _speech_cache[text] = w.readframes(w.getnframes())
    return _speech_cache[text]


def silence(seconds):
    return b"\0\0" * int(RATE * seconds)


def caller_wav(path, parts):
    """parts: seconds of silence (numbers) and sentences (strings), in order.
    Returns {sentence index: start second} and writes the WAV."""
    data, starts, n = b"", {}, 0
    for p in parts:
        if isinstance(p, (int, float)):
            data += silence(p)
        else:
            starts[n] = len(data) / 2 / RATE
            data += speech(p)
            n += 1
    write_wav(path, RATE, data)
    return starts


def agent_daemon(daemon_factory, db, tmp_path, emus, **sections):
    """A vagentd answering with the local engine; the agent asks this
    daemon's own api for each call's context, as in production."""
    api_port = free_port()
    settings = dict(emus.settings())
    settings["call"] = {"engine": "local", "idle_timeout": "10"}
    settings["vagentd"] = {"max_calls": "8", "min_spare": "2", "max_spare": "8"}
    settings["api"] = {"listen": "127.0.0.1:%d" % api_port}
    settings["local"] = {"prompt_file": os.path.join(ROOT, "conf", "prompts", "local.md"),
                         "api_url": "http://127.0.0.1:%d" % api_port}
    for k, v in sections.items():
        settings.setdefault(k, {}).update(v)
    os.environ.setdefault("VAGENT_STT_API_KEY", "test-stt-key")
    os.environ.setdefault("VAGENT_LLM_API_KEY", "test-llm-key")
    os.environ.setdefault("VAGENT_TTS_API_KEY", "test-tts-key")
    return api_daemon(daemon_factory, db, tmp_path, **settings)


class LocalStacks:
    """Local-engine daemons, each with its own emulators, on one database
    with the example DIDs: a fixture yields make and calls stop at the end."""

    def __init__(self, daemon_factory, db, tmp_path, emulators=Emulators):
        seed_dids(db)
        self.args = (daemon_factory, db, tmp_path)
        self.emulators = emulators
        self.made = []

    def make(self, script, faults=None, sections=None, **opts):
        """-> (daemon, emulators); sections: more settings by section."""
        daemon_factory, db, tmp_path = self.args
        e = self.emulators(tmp_path, script, faults, **opts)
        self.made.append(e)
        d = agent_daemon(daemon_factory, db, tmp_path, e, **(sections or {}))
        d.db = db
        return d, e

    def stop(self):
        for e in self.made:
            e.stop()


def frames_of(path):
    """The 20 ms frames of a recording (bytes each)."""
    rate, data = read_wav(str(path))
    fb = rate // 50 * 2
    return [data[i:i + fb] for i in range(0, len(data) - fb + 1, fb)]


def voiced_s(frames):
    """Seconds of frames that are not silence."""
    return sum(1 for f in frames if any(f)) / 50


def context_file(d, uid, did="442039962952", cli="447963155448"):
    with open(os.path.join(d.ctx_dir, "va_%s.json" % uid), "w") as f:
        json.dump({"did": did, "cli": cli}, f)
