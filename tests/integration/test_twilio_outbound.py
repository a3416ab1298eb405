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
import urllib.request

import pytest

from agent_harness import (BOOKING_ARGS, Emulators, agent_daemon, caller_wav, script_file,
                           start_emu)
from api_harness import seed_dids
from harness import ROOT, free_port, secret, wait_for, write_settings
from twilio_harness import (CALLER, GEORGE, PUBLIC, SID, TOKEN, assert_booked_once,
                            twilio_settings, vagentctl)

CALLEE = CALLER
SAYS = "Yes I still need a plumber, it is 42 Amhurst Road, E5 9ES, I'm Ahmed Lekan."


class TwilioRest:
    """vagent-emu as Twilio's Calls REST that also places the calls."""

    def __init__(self, tmp_path, connect_to, callee_wav):
        self.port = free_port()
        self.err = os.path.join(str(tmp_path), "rest.stderr")
        self.proc = start_emu(
            ["--script", script_file(tmp_path, "rest-script.json"),
             "--log", os.path.join(str(tmp_path), "rest.log"),
             "--twilio-rest", self.port, "--twilio-sid", SID, "--twilio-token", TOKEN,
             "--twilio-connect-to", connect_to, "--twilio-callee-wav", callee_wav],
            stderr=open(self.err, "w"))

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
                          "twilio": twilio_settings(
                              tmp_path, rest_url="http://127.0.0.1:%d" % rest.port)})
    yield d, emus, rest, conf
    rest.stop()
    emus.stop()


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
    assert_booked_once(d, sid, "+" + GEORGE, CALLEE, "as Twilio writes them (E.164)")
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
