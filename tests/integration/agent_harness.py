"""Helpers for the local engine's tests: the provider emulators, caller
speech made with espeak-ng, and a vagentd whose calls go to the local engine."""
import json
import os
import subprocess
import tempfile
import urllib.request
import wave

from api_harness import api_daemon
from harness import BUILD, ROOT, free_port, wait_for, write_wav

EMU = os.path.join(BUILD, "vagent-emu")
RATE = 8000


class Emulators:
    """vagent-emu serving Deepgram, OpenAI and Cartesia on free ports."""

    def __init__(self, path, script, faults=None, **opts):
        self.dir = str(path)
        self.ports = {k: free_port() for k in ("deepgram", "openai", "cartesia")}
        self.script = os.path.join(self.dir, "script.json")
        with open(self.script, "w") as f:
            json.dump(script, f)
        args = [EMU, "--script", self.script, "--log", os.path.join(self.dir, "emu.log")]
        for k, p in self.ports.items():
            args += ["--" + k, str(p)]
        if faults:
            args += ["--faults", faults]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        line = self.proc.stdout.readline()
        assert "ready" in line, "vagent-emu did not start: %s" % line

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


def context_file(d, uid, did="442039962952", cli="447963155448"):
    with open(os.path.join(d.ctx_dir, "va_%s.json" % uid), "w") as f:
        json.dump({"did": did, "cli": cli}, f)
