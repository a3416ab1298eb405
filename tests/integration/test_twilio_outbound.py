"""Outbound calls through Twilio (issue 12, acceptance: "an outbound call
against the emulator carries the dynamic variables and ends in a
booking"). `vagentctl call NUMBER --did DID --var k=v` posts to the Calls
REST of vagent-emu --twilio-rest; the emulator, like Twilio once the callee
answers, runs the TwiML it was given: it opens the <Stream url> (the public
wss:// URL, reached through --twilio-connect-to as a TLS proxy would pass
it on), signed with the account's token, with the <Parameter>s as the start
message's customParameters, and the callee speaks from a WAV
(`vagent-emu twilio`, the same caller as the inbound tests)."""
import json
import os
import subprocess
import urllib.request

import pytest

from agent_harness import EMU, Emulators, agent_daemon, caller_wav
from api_harness import seed_dids
from harness import ROOT, VAGENTCTL, free_port, wait_for, write_settings

PUBLIC = "https://vagent.example.com"
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-0123456789abcdef"
GEORGE = "442039962952"
CALLEE = "+447963155448"
SAYS = "Yes I still need a plumber, it is 42 Amhurst Road, E5 9ES, I'm Ahmed Lekan."
BOOKING_ARGS = {"customer_name": "Ahmed Lekan", "postcode": "e5 9es",
                "address": "42 Amhurst Road",
                "problem_description": "Leaking pipe under the kitchen sink"}


def secret(tmp_path, name, value):
    p = os.path.join(str(tmp_path), name)
    with open(p, "w") as f:
        f.write(value + "\n")
    os.chmod(p, 0o600)
    return p


class TwilioRest:
    """vagent-emu as Twilio's Calls REST that also places the calls."""

    def __init__(self, tmp_path, connect_to, callee_wav):
        self.port = free_port()
        self.err = os.path.join(str(tmp_path), "rest.stderr")
        script = os.path.join(str(tmp_path), "rest-script.json")
        with open(script, "w") as f:
            f.write("{}")
        self.proc = subprocess.Popen(
            [EMU, "--script", script, "--log", os.path.join(str(tmp_path), "rest.log"),
             "--twilio-rest", str(self.port), "--twilio-sid", SID, "--twilio-token", TOKEN,
             "--twilio-connect-to", connect_to, "--twilio-callee-wav", callee_wav],
            stdout=subprocess.PIPE, stderr=open(self.err, "w"), text=True)
        assert self.proc.stdout.readline().strip() == "vagent-emu: ready"

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                    timeout=5) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(10) == 0
        with open(self.err) as f:
            err = f.read()
        assert "Sanitizer" not in err and "runtime error" not in err, err


@pytest.fixture
def outbound(daemon_factory, db, tmp_path):
    """A local-engine vagentd behind a signed Twilio listener whose prompt
    names the call's variables, the emulators, and Twilio's REST."""
    seed_dids(db)
    listen = "127.0.0.1:%d" % free_port()
    prompt = os.path.join(str(tmp_path), "outbound.md")
    with open(os.path.join(ROOT, "conf", "prompts", "local.md")) as f:
        base = f.read()
    with open(prompt, "w") as f:
        f.write(base + "\nThis is a call we placed to {{customer_name}} about job "
                "{{job_ref}}.\n")
    emus = Emulators(tmp_path, {
        "stt": [SAYS],
        "llm": [{"content": "Booking that now.",
                 "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
                {"content": "That's booked, the plumber will be with you soon. Bye.",
                 "tool_calls": [{"name": "end_call", "arguments": {}}]}]})
    token = secret(tmp_path, "twilio.token", TOKEN)
    d = agent_daemon(daemon_factory, db, tmp_path, emus, local={"prompt_file": prompt},
                     twilio={"listen": listen, "auth_token_file": token,
                             "public_url": PUBLIC, "account_sid": SID})
    d.db = db
    wav = str(tmp_path / "callee.wav")
    caller_wav(wav, [5.0, SAYS, 14.0])
    rest = TwilioRest(tmp_path, listen, wav)
    conf = os.path.join(str(tmp_path), "ctl.conf")
    write_settings(conf, {"api": {"enabled": "no"},
                          "twilio": {"account_sid": SID, "auth_token_file": token,
                                     "public_url": PUBLIC + "/", "from": "+442030000000",
                                     "rest_url": "http://127.0.0.1:%d" % rest.port}})
    yield d, emus, rest, conf
    rest.stop()
    emus.stop()


def vagentctl(conf, *args):
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and not k.startswith("VAGENT_")}
    return subprocess.run([VAGENTCTL, "-c", conf] + list(args), capture_output=True,
                          text=True, timeout=60, env=env)


def test_an_outbound_call_carries_its_variables_and_ends_in_a_booking(outbound):
    d, emus, rest, conf = outbound
    r = vagentctl(conf, "call", CALLEE, "--did", GEORGE, "--var", "customer_name=Ahmed Lekan",
                  "--var", "job_ref=JOB-4711 & co")
    assert r.returncode == 0, r.stderr
    sid = r.stdout.split()[1]
    assert sid.startswith("CA"), r.stdout
    calls = wait_for(lambda: [c for c in rest.get("/emu/calls") if c["state"] != "dialling"],
                     120, "the call placed and its stream over")
    assert len(calls) == 1
    c = calls[0]
    assert c["sid"] == sid and c["state"] == "done", c
    assert c["stream_url"] == "wss://vagent.example.com/twilio"
    assert c["params"] == {"did": "+" + GEORGE, "caller": CALLEE,
                           "customer_name": "Ahmed Lekan", "job_ref": "JOB-4711 & co"}
    res = c["report"]["results"][0]
    assert res["call_sid"] == sid
    assert res["outcome"] == "server_closed", "the agent ended the call after booking"
    rows = wait_for(lambda: d.db.sql(
        "SELECT customer_name, postcode, address, outcome, source FROM ai_agent_bookings "
        "WHERE call_uuid = %s", (sid,)), 20, "the booking")
    assert rows == [("Ahmed Lekan", "E5 9ES", "42 Amhurst Road", "booked", "local")]
    assert d.db.sql("SELECT COUNT(*) FROM ai_agent_bookings")[0][0] == 1, "exactly one"
    call = wait_for(lambda: d.db.sql("SELECT did, cli, outcome FROM calls WHERE uuid = %s",
                                     (sid,)), 20, "the call row")
    assert call == [("+" + GEORGE, CALLEE, "booked")], "as Twilio writes them (E.164)"
    # The variables reached the agent: its system prompt names the customer and job.
    system = emus.llm_requests()[0]["messages"][0]["content"]
    assert "a call we placed to Ahmed Lekan about job JOB-4711 & co." in system
    assert "George The Plumber" in system, "the api's context still comes first"
    d.wait_log("variables customer_name, job_ref")


def test_a_call_variable_never_overrides_the_companys_context(outbound):
    d, emus, rest, conf = outbound
    r = vagentctl(conf, "call", CALLEE, "--did", GEORGE, "--var", "company_name=Evil Corp",
                  "--var", "customer_name=Ann", "--var", "job_ref=J1")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: [c for c in rest.get("/emu/calls") if c["state"] != "dialling"],
             120, "the call over")
    system = emus.llm_requests()[0]["messages"][0]["content"]
    assert "George The Plumber" in system and "Evil Corp" not in system
    assert "a call we placed to Ann about job J1." in system
