"""Twilio (issue 12, items 2 and 4): the api's voice webhook answers TwiML
that brings the call to us only when Twilio signed the request
(X-Twilio-Signature, computed with Python's own hmac in twilio_harness),
a number we do not serve gets a polite goodbye, relay mode answers
ConversationRelay; `vagentctl call` places outbound calls through Twilio's
Calls REST (TwiML with the stream and the variables) or ElevenLabs'
outbound-call (dynamic variables); `vagentctl announce` speaks a message
to a WAV the api serves without a key, by an unguessable name, and asks
Twilio to <Play> it.

Twilio's REST is vagent-emu --twilio-rest, ElevenLabs' vagent-emu --xi-api;
both list what they were sent at /emu/requests."""
import base64
import http.client
import io
import json
import math
import os
import signal
import struct
import subprocess
import urllib.parse
import wave
import xml.etree.ElementTree as ET

import pytest

from agent_harness import script_file, start_emu
from api_harness import api_daemon, seed_dids
from harness import free_port, secret, write_settings
from twilio_harness import PUBLIC, SID, TOKEN, sign, twilio_settings
from twilio_harness import vagentctl as run_vagentctl

XI_KEY = "sk_xi_test_0123456789abcdef"
DID = "+442039962952"          # George The Plumber in sql/seed/example_dids.sql
CALLER = "+447700900123"


@pytest.fixture
def api(daemon_factory, db, tmp_path):
    seed_dids(db)
    return api_daemon(daemon_factory, db, tmp_path, twilio=twilio_settings(tmp_path),
                      api={"announce_dir": os.path.join(str(tmp_path), "announce")})


def post_form(d, path, params, signature=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=10)
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        h["X-Twilio-Signature"] = signature
    h.update(headers or {})
    c.request("POST", path, urllib.parse.urlencode(params), h)
    r = c.getresponse()
    out = (r.status, r.getheader("Content-Type", ""), r.read())
    c.close()
    return out


def get(d, path):
    c = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    out = (r.status, r.getheader("Content-Type", ""), r.read())
    c.close()
    return out


def voice_params(to=DID, frm=CALLER):
    return [("CallSid", "CA" + "1" * 32), ("AccountSid", SID), ("From", frm), ("To", to),
            ("CallStatus", "ringing"), ("Direction", "inbound"), ("ApiVersion", "2010-04-01")]


def signed_voice(d, params, path="/twilio/voice"):
    return post_form(d, path, params, sign(PUBLIC + path, params))


def params_of(el):
    return {p.get("name"): p.get("value") for p in el.findall("Parameter")}


def test_signed_call_to_our_did_connects_a_stream(api):
    st, ctype, body = signed_voice(api, voice_params())
    assert st == 200, body
    assert ctype.startswith("text/xml")
    root = ET.fromstring(body)
    stream = root.find("Connect/Stream")
    assert stream is not None, body
    assert stream.get("url") == "wss://vagent.example.com/twilio"
    assert params_of(stream) == {"did": DID, "caller": CALLER}


def test_signature_covers_the_query_string(api):
    params = voice_params()
    st, _, body = signed_voice(api, params, path="/twilio/voice?line=main")
    assert st == 200, body
    # the same signature without the query Twilio requested is not Twilio's
    st, _, _ = post_form(api, "/twilio/voice?line=main", params, sign(PUBLIC + "/twilio/voice",
                                                                       params))
    assert st == 403


@pytest.mark.parametrize("how", ["wrong", "missing", "tampered", "other_token", "http_url"])
def test_unsigned_or_badly_signed_is_403(api, how):
    params = voice_params()
    sig = {"wrong": "GvWf1cFY/Q7PnoempGyD5oXAezc=", "missing": None,
           "tampered": sign(PUBLIC + "/twilio/voice", voice_params(frm="+15550000000")),
           "other_token": sign(PUBLIC + "/twilio/voice", params, "another-token"),
           "http_url": sign("http://vagent.example.com/twilio/voice", params)}[how]
    st, ctype, body = post_form(api, "/twilio/voice", params, sig)
    assert st == 403, body
    assert b"<Response" not in body and b"wss://" not in body


def test_api_key_is_not_a_substitute_for_the_signature(api):
    from api_harness import KEY
    st, _, _ = post_form(api, "/twilio/voice", voice_params(), headers={"X-API-Key": KEY})
    assert st == 403


def test_signed_for_another_account_is_403(api):
    params = [(k, "AC" + "9" * 32 if k == "AccountSid" else v) for k, v in voice_params()]
    st, _, _ = signed_voice(api, params)
    assert st == 403


def test_unknown_did_gets_a_polite_goodbye(api):
    st, ctype, body = signed_voice(api, voice_params(to="+15005550006"))
    assert st == 200 and ctype.startswith("text/xml")
    root = ET.fromstring(body)
    assert root.find("Connect") is None
    assert "not in service" in root.find("Say").text
    assert root.find("Hangup") is not None
    with open(api.log) as f:
        assert "15005550006: not in did_company_map" in f.read()


def test_status_callback_needs_the_signature(api):
    params = [("CallSid", "CA" + "2" * 32), ("AccountSid", SID), ("To", CALLER),
              ("CallStatus", "completed")]
    st, _, _ = signed_voice(api, params, path="/twilio/status")
    assert st == 204
    st, _, _ = post_form(api, "/twilio/status", params, "bad")
    assert st == 403


def test_relay_mode_answers_conversation_relay(daemon_factory, db, tmp_path):
    seed_dids(db)
    d = api_daemon(daemon_factory, db, tmp_path,
                   twilio=twilio_settings(tmp_path, mode="relay", relay_voice="Amelia"))
    st, _, body = signed_voice(d, voice_params())
    assert st == 200, body
    relay = ET.fromstring(body).find("Connect/ConversationRelay")
    assert relay is not None, body
    assert relay.get("url") == "wss://vagent.example.com/twilio/relay"
    assert "George The Plumber" in relay.get("welcomeGreeting")
    assert relay.get("voice") == "Amelia" and relay.get("language") == "en-GB"
    assert relay.get("interruptible") == "any"
    assert params_of(relay) == {"did": DID, "caller": CALLER}
    assert ET.fromstring(body).find("Connect").get("action") == \
        "https://vagent.example.com/twilio/handoff", "a hand-off comes back to the api"


def handoff_params(data, to=DID, frm=CALLER, direction="inbound"):
    p = voice_params(to, frm)
    p = [(k, v) for k, v in p if k != "Direction"]
    p += [("Direction", direction), ("SessionId", "VX" + "2" * 32),
          ("SessionStatus", "ended"), ("SessionDuration", "42")]
    if data is not None:
        p.append(("HandoffData", json.dumps(data)))
    return p


@pytest.fixture
def relay_api(daemon_factory, db, tmp_path):
    def make(per_did=False, **twilio):
        seed_dids(db)
        dids = {"did:442039962952": {"handoff_number": "+442030009999"}} if per_did else {}
        return api_daemon(daemon_factory, db, tmp_path,
                          twilio=twilio_settings(tmp_path, mode="relay", **twilio), **dids)
    return make


def test_a_relay_hand_off_dials_the_configured_number(relay_api):
    d = relay_api(handoff_number="+442030001111")
    st, ctype, body = signed_voice(d, handoff_params({"reason": "caller_asked",
                                                      "caller_name": "Ann"}),
                                   path="/twilio/handoff")
    assert st == 200 and ctype.startswith("text/xml"), body
    root = ET.fromstring(body)
    assert root.find("Dial").text == "+442030001111", body
    assert root.find("Hangup") is None
    d.wait_log("hand-off (caller_asked) of a call to +442039962952: dialling +442030001111")
    # a call we placed: our number is the one calling
    st, _, body = signed_voice(d, handoff_params({"reason": "dtmf-0"}, to=CALLER, frm=DID,
                                                 direction="outbound-api"),
                               path="/twilio/handoff")
    assert ET.fromstring(body).find("Dial").text == "+442030001111", body
    # the relay ended without a hand-off: the call is over
    st, _, body = signed_voice(d, handoff_params({"reason": "completed"}),
                               path="/twilio/handoff")
    root = ET.fromstring(body)
    assert root.find("Hangup") is not None and root.find("Dial") is None, body


def test_a_dids_own_hand_off_number_wins(relay_api):
    d = relay_api(handoff_number="+442030001111", per_did=True)
    st, _, body = signed_voice(d, handoff_params({"reason": "cannot_help"}),
                               path="/twilio/handoff")
    assert ET.fromstring(body).find("Dial").text == "+442030009999", body


def test_a_hand_off_without_a_number_is_a_polite_goodbye(relay_api):
    d = relay_api()
    st, _, body = signed_voice(d, handoff_params({"reason": "caller_asked"}),
                               path="/twilio/handoff")
    assert st == 200, body
    root = ET.fromstring(body)
    assert "nobody can take your call" in root.find("Say").text
    assert root.find("Hangup") is not None and root.find("Dial") is None
    d.wait_log("no [twilio] handoff_number")


def test_the_hand_off_webhook_needs_the_signature(relay_api):
    d = relay_api(handoff_number="+442030001111")
    params = handoff_params({"reason": "caller_asked"})
    st, _, body = post_form(d, "/twilio/handoff", params, "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    assert st == 403 and b"+442030001111" not in body


# ---- outbound ----

class Emu:
    """vagent-emu as Twilio's Calls REST and ElevenLabs' outbound-call."""

    def __init__(self, tmp_path):
        self.tw_port, self.xi_port = free_port(), free_port()
        self.proc = start_emu(
            ["--script", script_file(tmp_path, "emu-script.json"),
             "--log", os.path.join(str(tmp_path), "emu.log"),
             "--twilio-rest", self.tw_port, "--twilio-sid", SID, "--twilio-token", TOKEN,
             "--xi-api", self.xi_port, "--key-xi-api", XI_KEY], stderr=subprocess.PIPE)

    def requests(self, port):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/emu/requests")
        out = json.loads(c.getresponse().read())
        c.close()
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=10) == 0


@pytest.fixture
def emu(tmp_path):
    e = Emu(tmp_path)
    yield e
    e.stop()


def ctl_conf(tmp_path, emu, token=TOKEN, **twilio):
    conf = os.path.join(str(tmp_path), "ctl.conf")
    tw = twilio_settings(tmp_path, rest_url="http://127.0.0.1:%d" % emu.tw_port,
                         elevenlabs_phone_number_id="phnum_0123")
    tw["auth_token_file"] = secret(tmp_path, "ctl-twilio.token", token)
    tw.update(twilio)
    write_settings(conf, {
        "api": {"announce_dir": os.path.join(str(tmp_path), "announce")},
        "twilio": tw,
        "elevenlabs": {"url": "http://127.0.0.1:%d" % emu.xi_port, "agent_id": "agent_out_1",
                       "api_key_file": secret(tmp_path, "xi.key", XI_KEY)}})
    return conf


def vagentctl(conf, *args):
    r = run_vagentctl(conf, *args)
    out = r.stdout + r.stderr
    assert TOKEN not in out and XI_KEY not in out, "a secret was printed:\n" + out
    return r


def test_call_via_twilio_sends_stream_twiml_with_the_variables(tmp_path, emu):
    conf = ctl_conf(tmp_path, emu)
    r = vagentctl(conf, "call", "+44 7700 900123", "--did", "442039962952",
                  "--var", "customer_name=Ann & Bob", "--var", "job=boiler <service>")
    assert r.returncode == 0, r.stderr
    reqs = emu.requests(emu.tw_port)
    assert len(reqs) == 1
    q = reqs[0]
    assert q["method"] == "POST" and q["path"] == "/2010-04-01/Accounts/%s/Calls.json" % SID
    f = q["form"]
    assert f["To"] == CALLER and f["From"] == "+442030000000"
    assert f["StatusCallback"] == PUBLIC + "/twilio/status"
    assert f["StatusCallbackMethod"] == "POST"
    assert set(f["StatusCallbackEvent"].split()) == {"initiated", "ringing", "answered",
                                                     "completed"}
    stream = ET.fromstring(f["Twiml"]).find("Connect/Stream")
    assert stream.get("url") == "wss://vagent.example.com/twilio"
    assert params_of(stream) == {"did": DID, "caller": CALLER,
                                 "customer_name": "Ann & Bob", "job": "boiler <service>"}
    assert "call CA" in r.stdout and "queued" in r.stdout


def test_call_without_from_uses_the_did_as_caller_id(tmp_path, emu):
    conf = ctl_conf(tmp_path, emu, **{"from": ""})
    r = vagentctl(conf, "call", CALLER, "--did", DID)
    assert r.returncode == 0, r.stderr
    assert emu.requests(emu.tw_port)[0]["form"]["From"] == DID


def test_call_with_a_wrong_token_is_a_clear_error(tmp_path, emu):
    conf = ctl_conf(tmp_path, emu, token="not-the-token-at-all")
    r = vagentctl(conf, "call", CALLER, "--did", DID)
    assert r.returncode == 1
    assert "Twilio refused the account SID or auth token" in r.stderr
    assert "not-the-token-at-all" not in r.stdout + r.stderr


@pytest.mark.parametrize("args", [["call", "+44 77x", "--did", DID],
                                  ["call", CALLER],
                                  ["call", CALLER, "--did", DID, "--var", "did=1"],
                                  ["call", CALLER, "--did", DID, "--var", "novalue"],
                                  ["call", CALLER, "--did", DID, "--via", "carrier-pigeon"]])
def test_bad_call_arguments_place_no_call(tmp_path, emu, args):
    r = vagentctl(ctl_conf(tmp_path, emu), *args)
    assert r.returncode == 2
    assert emu.requests(emu.tw_port) == []


def test_call_via_elevenlabs_carries_the_dynamic_variables(tmp_path, emu):
    conf = ctl_conf(tmp_path, emu)
    r = vagentctl(conf, "call", CALLER, "--did", DID, "--via", "elevenlabs",
                  "--var", "user_name=John Smith", "--var", "service_type=dentist")
    assert r.returncode == 0, r.stderr
    reqs = [q for q in emu.requests(emu.xi_port) if q["path"].endswith("outbound-call")]
    assert len(reqs) == 1
    b = reqs[0]["body"]
    assert reqs[0]["path"] == "/v1/convai/twilio/outbound-call"
    assert b["agent_id"] == "agent_out_1" and b["agent_phone_number_id"] == "phnum_0123"
    assert b["to_number"] == CALLER
    assert b["conversation_initiation_client_data"]["dynamic_variables"] == {
        "did_number": DID[1:], "caller_id": CALLER[1:], "user_name": "John Smith",
        "service_type": "dentist"}
    assert "conversation conv_" in r.stdout
    assert emu.requests(emu.tw_port) == []


def rms(frames):
    n = len(frames) // 2
    s = struct.unpack("<%dh" % n, frames[:2 * n])
    return math.sqrt(sum(x * x for x in s) / max(n, 1))


def test_announce_plays_a_wav_the_api_serves_without_key(api, tmp_path, emu):
    conf = ctl_conf(tmp_path, emu)    # the same announce_dir as the api's
    r = vagentctl(conf, "announce", CALLER, "--text",
                  "Your plumber will arrive tomorrow at nine.")
    assert r.returncode == 0, r.stderr
    form = emu.requests(emu.tw_port)[0]["form"]
    assert form["To"] == CALLER
    play = ET.fromstring(form["Twiml"]).find("Play").text
    prefix = PUBLIC + "/announce/"
    assert play.startswith(prefix)
    name = play[len(prefix):]
    assert len(name) == 36 and name.endswith(".wav")
    int(name[:32], 16)

    st, ctype, body = get(api, "/announce/" + name)     # no key: Twilio has none
    assert st == 200 and ctype == "audio/wav"
    with wave.open(io.BytesIO(body)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        frames = w.readframes(w.getnframes())
    assert len(frames) / 2 / 8000 > 1.0          # a sentence, not a click
    assert rms(frames) > 300                      # speech, not silence

    for bad in ["/announce/" + name[:-4] + ".WAV", "/announce/" + "0" * 32 + ".wav",
                "/announce/../api.key", "/announce/%2e%2e%2fapi.key",
                "/announce/" + name + "/", "/announce/" + name[:31] + ".wav"]:
        assert get(api, bad)[0] == 404, bad


@pytest.mark.parametrize("key,value,says", [
    ("mode", "websocket", "[twilio] mode: 'websocket' is not stream or relay"),
    ("public_url", "http://vagent.example.com", "[twilio] public_url: an https:// URL"),
    ("public_url", "https://vagent.example.com/?x=1", "[twilio] public_url: an https:// URL"),
    ("handoff_number", "02030001111", "[twilio] handoff_number: '02030001111' is not a "
                                      "+E.164 number")])
def test_bad_twilio_settings_are_named(tmp_path, key, value, says):
    from harness import VAGENTD
    conf = os.path.join(str(tmp_path), "t.conf")
    write_settings(conf, {"api": {"enabled": "no"}, "twilio": {key: value}})
    r = subprocess.run([VAGENTD, "-t", "-c", conf], capture_output=True, text=True)
    assert r.returncode != 0 and says in r.stdout + r.stderr


def test_token_file_readable_by_others_is_refused(tmp_path):
    from harness import VAGENTD
    conf = os.path.join(str(tmp_path), "t.conf")
    tok = secret(tmp_path, "tw.token", TOKEN)
    os.chmod(tok, 0o644)
    write_settings(conf, {"api": {"enabled": "no"}, "twilio": {"auth_token_file": tok}})
    r = subprocess.run([VAGENTD, "-t", "-c", conf], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "readable by others" in out and TOKEN not in out


def test_call_via_elevenlabs_with_a_bad_key_is_a_clear_error(tmp_path, emu):
    conf = ctl_conf(tmp_path, emu)
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace(secret(tmp_path, "xi.key", XI_KEY),
                             secret(tmp_path, "xi-bad.key", "sk_wrong_key_xyz")))
    r = vagentctl(conf, "call", CALLER, "--did", DID, "--via", "elevenlabs")
    assert r.returncode == 1
    assert "ElevenLabs refused the API key" in r.stderr
    assert "sk_wrong_key_xyz" not in r.stdout + r.stderr


def test_twilio_emulator_answers_in_twilios_error_shapes(emu):
    auth = "Basic " + base64.b64encode(("%s:%s" % (SID, TOKEN)).encode()).decode()

    def post(path, form, authorization=auth):
        c = http.client.HTTPConnection("127.0.0.1", emu.tw_port, timeout=10)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if authorization:
            h["Authorization"] = authorization
        c.request("POST", path, urllib.parse.urlencode(form), h)
        r = c.getresponse()
        out = (r.status, json.loads(r.read()))
        c.close()
        return out

    calls = "/2010-04-01/Accounts/%s/Calls.json" % SID
    st, j = post(calls, {"From": "+1", "Twiml": "<Response/>"})
    assert (st, j["code"], j["status"]) == (400, 21201, 400)
    assert j["more_info"].endswith("/21201")
    assert post(calls, {"To": "+1", "Twiml": "<Response/>"})[1]["code"] == 21603
    assert post(calls, {"To": "+1", "From": "+2"})[1]["code"] == 21205
    assert post(calls, {"To": "+1", "From": "+2", "Url": "https://x"}, None)[1]["code"] == 20003
    st, j = post(calls.replace("Calls", "Queues"), {})
    assert (st, j["code"]) == (404, 20404)
    st, j = post(calls, {"To": "+1", "From": "+2", "Url": "https://x"})
    assert st == 201 and j["sid"].startswith("CA") and len(j["sid"]) == 34
    assert (j["status"], j["direction"], j["account_sid"]) == ("queued", "outbound-api", SID)
