"""Helpers for the Twilio tests: the account and its signature
(X-Twilio-Signature), vagentd's [twilio] settings, the emulated Twilio
dialling a daemon (`vagent-emu twilio`, Media Streams or ConversationRelay),
vagentctl run as an operator would, and what a booked call leaves in the
database."""
import base64
import hashlib
import hmac
import json
import os
import subprocess

from agent_harness import EMU, caller_wav, frames_of
from harness import VAGENTCTL, free_port, secret, wait_for

PUBLIC = "https://vagent.example.com"
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-0123456789abcdef"
GEORGE = "442039962952"          # George The Plumber in sql/seed/example_dids.sql
CALLER = "+447963155448"


def sign(url, params, token=TOKEN):
    """Twilio's signature, as its documentation describes it."""
    data = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def twilio_settings(tmp_path, **extra):
    """[twilio] for the account: its SID, token file, public URL and number."""
    s = {"account_sid": SID, "auth_token_file": secret(tmp_path, "twilio.token", TOKEN),
         "public_url": PUBLIC + "/", "from": "+442030000000"}
    s.update(extra)
    return s


def twilio_section(tmp_path, token=None):
    """[twilio] for a listener on a free port; with a token, upgrades must
    be signed for https://voice.example.com."""
    sect = {"listen": "127.0.0.1:%d" % free_port()}
    if token:
        sect.update(auth_token_file=secret(tmp_path, "twilio.token", token),
                    public_url="https://voice.example.com")
    return sect


def dial(d, *args, path="/twilio", timeout=120):
    """Runs the emulated Twilio against d's listener; returns its JSON report."""
    url = "ws://%s%s" % (d.settings["twilio"]["listen"], path)
    r = subprocess.run([EMU, "twilio", "--url", url] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def place(d, tmp_path, parts, *extra):
    """A Media Streams call from CALLER to GEORGE saying parts (caller_wav);
    -> (its result, the frames the caller heard, {sentence: start second})."""
    wav = str(tmp_path / "caller.wav")
    heard = tmp_path / "heard.wav"
    starts = caller_wav(wav, parts)
    rep = dial(d, "--wav", wav, "--did", GEORGE, "--caller", CALLER, "--record", heard,
               "--hold-ms", 0, *extra, timeout=180)
    return rep["results"][0], frames_of(heard), starts


def assert_booked_once(d, sid, did, cli, why):
    """The local engine booked call sid once, and its row has did, cli and
    the outcome booked (why: how the numbers got there)."""
    rows = wait_for(lambda: d.db.sql(
        "SELECT customer_name, postcode, address, outcome, source FROM ai_agent_bookings "
        "WHERE call_uuid = %s", (sid,)), 20, "the booking")
    assert rows == [("Ahmed Lekan", "E5 9ES", "42 Amhurst Road", "booked", "local")]
    assert d.db.sql("SELECT COUNT(*) FROM ai_agent_bookings")[0][0] == 1, "exactly one"
    call = wait_for(lambda: d.db.sql("SELECT did, cli, outcome FROM calls WHERE uuid = %s",
                                     (sid,)), 20, "the call row")
    assert call == [(did, cli, "booked")], why


def vagentctl(conf, *args):
    """vagentctl -c conf args, without proxies or keys from the environment."""
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and not k.startswith("VAGENT_")}
    return subprocess.run([VAGENTCTL, "-c", conf] + list(args), capture_output=True,
                          text=True, timeout=60, env=env)
