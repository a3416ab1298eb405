"""vagentctl provision elevenlabs (issue 11, item 4): the cloud agent's two
server tools and the agent are created once and found by name afterwards,
pointing at our api with our key; --dry-run needs no network; the IDs land in
a 0600 file; a bad ElevenLabs key is a clear error; no key is ever printed.

ElevenLabs is vagent-emu --xi-api (protocols.md 5.6), whose /emu/state says
what it holds and how many creates and updates it saw."""
import http.client
import json
import os
import signal
import stat
import subprocess

import pytest

from agent_harness import script_file, start_emu
from harness import VAGENTCTL, free_port, secret, write_settings

XI_KEY = "sk_xi_test_0123456789abcdef"
API_KEY = "our-api-key-0123456789abcdef"
PUBLIC = "https://vagent.example.com"
PROMPT = "You answer the phone for {{company_name}}. Use createBooking."


class XiEmu:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.proc = start_emu(["--script", script_file(tmp_path, "script.json"),
                               "--xi-api", self.port, "--key-xi-api", XI_KEY,
                               "--log", os.path.join(str(tmp_path), "emu.log")],
                              stderr=subprocess.PIPE)

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        return body

    def post(self, path, body, key=XI_KEY):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", path, json.dumps(body),
                  {"xi-api-key": key, "Content-Type": "application/json"})
        r = c.getresponse()
        out = (r.status, json.loads(r.read()))
        c.close()
        return out

    def state(self):
        return self.get("/emu/state")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        assert rc == 0, self.proc.stderr.read()[-2000:]


@pytest.fixture
def xi(tmp_path):
    e = XiEmu(tmp_path)
    yield e
    e.stop()


def make_conf(tmp_path, url, xi_key=XI_KEY, **extra):
    prompt = os.path.join(str(tmp_path), "cloud.md")
    with open(prompt, "w") as f:
        f.write(PROMPT)
    ids = os.path.join(str(tmp_path), "state", "elevenlabs.ids")
    os.makedirs(os.path.dirname(ids), exist_ok=True)
    xi_sect = {"url": url, "api_key_file": secret(tmp_path, "xi.key", xi_key),
               "agent_name": "Acme Voice Agent", "voice": "voice123",
               "public_url": PUBLIC + "/", "prompt_file": prompt, "ids_file": ids}
    xi_sect.update(extra)
    conf = os.path.join(str(tmp_path), "vagent.conf")
    write_settings(conf, {"api": {"api_key_file": secret(tmp_path, "api.key", API_KEY)},
                          "elevenlabs": xi_sect})
    return conf, ids


def provision(conf, *args):
    env = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
              "all_proxy", "VAGENT_ELEVENLABS_API_KEY", "VAGENT_API_KEY"):
        env.pop(k, None)
    r = subprocess.run([VAGENTCTL, "-c", conf, "provision", "elevenlabs"] + list(args),
                       capture_output=True, text=True, timeout=60, env=env)
    out = r.stdout + r.stderr
    assert XI_KEY not in out and API_KEY not in out, "a key was printed:\n" + out
    return r


def json_docs(text):
    """The JSON values written one after the other in text."""
    dec, docs, i = json.JSONDecoder(), [], 0
    while text[i:].strip():
        while text[i].isspace():
            i += 1
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)
    return docs


def test_dry_run_prints_bodies_without_network_or_keys(tmp_path):
    # Nothing listens there: any request would fail the command.
    conf, ids = make_conf(tmp_path, "http://127.0.0.1:%d" % free_port())
    r = provision(conf, "--dry-run")
    assert r.returncode == 0, r.stderr
    docs = json_docs("\n".join(l for l in r.stdout.splitlines() if not l.startswith("#")))
    names = [d["tool_config"]["name"] for d in docs if "tool_config" in d]
    assert names == ["getCallContext", "createBooking"]
    urls = [d["tool_config"]["api_schema"]["url"] for d in docs if "tool_config" in d]
    assert urls == [PUBLIC + "/api/voice-agent/did_context",
                    PUBLIC + "/api/voice-agent/create_booking"]
    agent = [d for d in docs if "conversation_config" in d][0]
    assert agent["name"] == "Acme Voice Agent"
    assert agent["conversation_config"]["agent"]["prompt"]["prompt"] == PROMPT
    assert agent["conversation_config"]["tts"]["voice_id"] == "voice123"
    assert not os.path.exists(ids)


def test_provision_twice_creates_once_then_updates(tmp_path, xi):
    conf, ids = make_conf(tmp_path, "http://127.0.0.1:%d" % xi.port)

    r = provision(conf)
    assert r.returncode == 0, r.stderr
    s = xi.state()
    assert (s["tool_created"], s["agent_created"], s["tool_updated"], s["agent_updated"]) == \
        (2, 1, 0, 0)
    assert stat.S_IMODE(os.stat(ids).st_mode) == 0o600
    with open(ids) as f:
        first = dict(l.strip().split("=", 1) for l in f if "=" in l)
    tools = {t["tool_config"]["name"]: t for t in s["tools"]}
    assert first["XI_TOOL_GET_CALL_CONTEXT"] == tools["getCallContext"]["id"]
    assert first["XI_TOOL_CREATE_BOOKING"] == tools["createBooking"]["id"]
    assert first["XI_AGENT_ID"] == s["agents"][0]["agent_id"]
    # The tools call our api with our key; the agent uses both tools.
    ctx = tools["getCallContext"]["tool_config"]["api_schema"]
    assert ctx["url"] == PUBLIC + "/api/voice-agent/did_context"
    assert ctx["request_headers"]["X-API-Key"] == API_KEY
    assert s["agents"][0]["conversation_config"]["agent"]["prompt"]["tool_ids"] == \
        [first["XI_TOOL_GET_CALL_CONTEXT"], first["XI_TOOL_CREATE_BOOKING"]]

    r = provision(conf)
    assert r.returncode == 0, r.stderr
    s = xi.state()
    assert (s["tool_created"], s["agent_created"], s["tool_updated"], s["agent_updated"]) == \
        (2, 1, 2, 1)
    assert len(s["tools"]) == 2 and len(s["agents"]) == 1
    with open(ids) as f:
        second = dict(l.strip().split("=", 1) for l in f if "=" in l)
    assert second == first
    assert stat.S_IMODE(os.stat(ids).st_mode) == 0o600


def test_existing_tool_of_that_name_is_updated_not_duplicated(tmp_path, xi):
    status, made = xi.post("/v1/convai/tools", {"tool_config": {
        "type": "webhook", "name": "getCallContext", "description": "old",
        "api_schema": {"url": "https://old.example.com/did_context.php"}}})
    assert status == 200
    conf, ids = make_conf(tmp_path, "http://127.0.0.1:%d" % xi.port)
    r = provision(conf)
    assert r.returncode == 0, r.stderr
    s = xi.state()
    assert (s["tool_created"], s["tool_updated"]) == (1 + 1, 1)
    tools = {t["tool_config"]["name"]: t for t in s["tools"]}
    assert tools["getCallContext"]["id"] == made["id"]
    assert tools["getCallContext"]["tool_config"]["api_schema"]["url"] == \
        PUBLIC + "/api/voice-agent/did_context"


def test_bad_key_is_a_clear_error(tmp_path, xi):
    conf, ids = make_conf(tmp_path, "http://127.0.0.1:%d" % xi.port, xi_key="sk_wrong_key_xyz")
    r = provision(conf)
    assert r.returncode == 1
    assert "ElevenLabs refused the API key" in r.stderr
    assert "sk_wrong_key_xyz" not in r.stdout + r.stderr
    assert not os.path.exists(ids)
    assert xi.state()["tool_created"] == 0


def test_error_body_message_is_printed(tmp_path, xi):
    # A path the emulator does not serve answers {"detail":"Not Found"}.
    conf, ids = make_conf(tmp_path, "http://127.0.0.1:%d/nowhere" % xi.port)
    r = provision(conf)
    assert r.returncode == 1
    assert "404: Not Found" in r.stderr, r.stderr
    assert not os.path.exists(ids)


def test_missing_public_url_is_refused_before_any_request(tmp_path, xi):
    conf, ids = make_conf(tmp_path, "http://127.0.0.1:%d" % xi.port, public_url="")
    r = provision(conf)
    assert r.returncode == 1
    assert "[elevenlabs] public_url" in r.stderr
    assert xi.get("/emu/requests") == []
    # A dry run still shows the bodies, with the URL as a placeholder.
    r = provision(conf, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "https://<[elevenlabs] public_url>/api/voice-agent/did_context" in r.stdout
    assert "public_url is not set" in r.stderr


def test_example_config_dry_run(tmp_path):
    # The shipped vagent.conf and cloud prompt, as installed, minus the api key file.
    from harness import ROOT
    text = open(os.path.join(ROOT, "conf", "vagent.conf")).read()
    assert "prompt_file = /etc/vagent/prompts/cloud.md" in text
    text = text.replace("/etc/vagent/prompts/", os.path.join(ROOT, "conf", "prompts") + "/")
    conf = tmp_path / "vagent.conf"
    conf.write_text(text)
    r = provision(str(conf), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert '"name": "getCallContext"' in r.stdout and "getCallContext tool" in r.stdout
    assert "/var/lib/vagent/elevenlabs.ids" in r.stdout


def booking_tool(conf):
    r = provision(conf, "--dry-run")
    assert r.returncode == 0, r.stderr
    docs = json_docs("\n".join(l for l in r.stdout.splitlines() if not l.startswith("#")))
    tools = {d["tool_config"]["name"]: d["tool_config"] for d in docs if "tool_config" in d}
    assert tools["getCallContext"]["type"] == "webhook", "a direct SIP call still needs it"
    return tools["createBooking"]


def test_a_bridged_agent_books_through_a_client_tool(tmp_path):
    """booking_tool = client: the bridge answers createBooking (no URL, no
    key); unset, it is client when some call uses the elevenlabs engine,
    else a webhook (the agent answers SIP calls itself)."""
    url = "http://127.0.0.1:%d" % free_port()
    conf, _ = make_conf(tmp_path, url, booking_tool="client")
    tool = booking_tool(conf)
    assert tool["type"] == "client" and tool["expects_response"] is True
    assert "api_schema" not in tool
    assert set(tool["parameters"]["required"]) == {"customer_name", "postcode", "address",
                                                   "problem_description"}
    assert "did_number" not in tool["parameters"]["properties"]

    conf, _ = make_conf(tmp_path, url)
    assert booking_tool(conf)["type"] == "webhook", "no bridge: the default is a webhook"
    with open(conf, "a") as f:
        f.write("[call]\noverflow_engine = elevenlabs\n[elevenlabs]\nagent_id = agent_x\n")
    assert booking_tool(conf)["type"] == "client", "the overflow bridges: client"
    conf, _ = make_conf(tmp_path, url, booking_tool="webhook", agent_id="agent_x")
    with open(conf, "a") as f:
        f.write("[did:442039962952]\nengine = elevenlabs\n")
    assert booking_tool(conf)["type"] == "webhook", "an explicit choice wins"

    conf, _ = make_conf(tmp_path, url, booking_tool="server")
    r = provision(conf, "--dry-run")
    assert r.returncode != 0 and "[elevenlabs] booking_tool" in r.stderr, r.stderr
