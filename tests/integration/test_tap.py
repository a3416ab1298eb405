"""Call recordings and the live tap (issue 13, item 2): `vagentctl listen`
hears exactly what the caller sends, `vagentctl top` shows the call, a
recorded call leaves one stereo WAV (caller left, agent right) named in its
calls row, and old recordings are removed after recording_days."""
import os
import struct
import subprocess
import time
import wave

from harness import VAGENTCTL, make_wav, start_caller, finish_caller, wait_for


def live_call(d):
    """The one call in progress once its audio flows: its UUID."""
    calls = wait_for(lambda: [c for c in d.calls() if c["rate"]], 20, "a call with audio")
    return calls[0]["uuid"]


def read_stereo(path):
    with wave.open(path, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        raw = w.readframes(w.getnframes())
    s = struct.unpack("<%dh" % (len(raw) // 2), raw)
    return (struct.pack("<%dh" % (len(s) // 2), *s[0::2]),
            struct.pack("<%dh" % (len(s) // 2), *s[1::2]))


def test_listen_hears_exactly_what_the_caller_sends(daemon, tmp_path):
    sent = make_wav(str(tmp_path / "in.wav"), seconds=6.0, seed=3)
    p = start_caller(daemon.port, "-w", str(tmp_path / "in.wav"))
    uid = live_call(daemon)
    out = str(tmp_path / "tap.wav")
    lp = subprocess.Popen([VAGENTCTL, "-r", daemon.run_dir, "listen", uid, "--in", "-o", out],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    res = finish_caller(p)
    assert res["results"][0]["outcome"] == "completed"
    _, err = lp.communicate(timeout=20)
    assert lp.returncode == 0, err
    assert "call ended" in err and "lapped" not in err, err
    with wave.open(out, "rb") as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 8000)
        got = w.readframes(w.getnframes())
    # It joined mid-call: what it heard is one unbroken stretch of the sent audio.
    assert len(got) >= 2 * 8000 * 2, "at least 2 s of the 6 s call: %d bytes" % len(got)
    at = sent.find(got)
    assert at >= 0 and at % 2 == 0, "the tapped audio is not a stretch of what was sent"
    assert at + len(got) == len(sent), "the tap ran to the end of the call"


def test_listen_streams_a_wav_to_stdout(daemon, tmp_path):
    sent = make_wav(str(tmp_path / "in.wav"), seconds=4.0, seed=4)
    p = start_caller(daemon.port, "-w", str(tmp_path / "in.wav"))
    uid = live_call(daemon)
    lp = subprocess.Popen([VAGENTCTL, "-r", daemon.run_dir, "listen", uid[:8], "--in"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finish_caller(p)
    out, err = lp.communicate(timeout=20)
    assert lp.returncode == 0, err
    assert out[:4] == b"RIFF" and out[8:16] == b"WAVEfmt "
    body = out[44:]
    assert len(body) > 8000 and sent.find(body) >= 0


def test_listen_refuses_an_unknown_call(daemon):
    r = daemon.ctl("listen", "00000000-0000-0000-0000-000000000000", check=False)
    assert r.returncode == 1 and "no call in progress" in r.stderr


def test_top_lists_the_live_call(daemon, tmp_path):
    make_wav(str(tmp_path / "in.wav"), seconds=3.0)
    p = start_caller(daemon.port, "-w", str(tmp_path / "in.wav"))
    uid = live_call(daemon)
    r = daemon.ctl("top", "-n", "1")
    finish_caller(p)
    assert "\033[" not in r.stdout, "no screen control when not a terminal"
    assert uid in r.stdout and "echo" in r.stdout, r.stdout
    assert "capacity 8" in r.stdout and "busy 1" in r.stdout, r.stdout
    assert "turn" in r.stdout and "handoff" in r.stdout
    r = daemon.ctl("top", "-n", "2", "-d", "0.2")
    assert r.stdout.count("capacity 8") == 2


def recording_daemon(daemon_factory, db, tmp_path, **call):
    settings = db.mariadb.db_settings(db.name)
    settings["call"] = dict({"record": "yes", "recording_dir": str(tmp_path / "rec")}, **call)
    return daemon_factory(settings)


def test_a_recorded_call_leaves_one_stereo_wav_in_its_row(daemon_factory, db, tmp_path):
    d = recording_daemon(daemon_factory, db, tmp_path)
    sent = make_wav(str(tmp_path / "in.wav"), seconds=3.0, seed=5)
    res = finish_caller(start_caller(d.port, "-w", str(tmp_path / "in.wav"),
                                     "-r", str(tmp_path / "heard.wav")))
    uid = res["results"][0]["uuid"]
    heard = open(str(tmp_path / "heard.wav"), "rb").read()[44:]
    rows = wait_for(lambda: db.sql("SELECT recording_path FROM calls WHERE uuid = %s", (uid,)),
                    15, "the calls row")
    path = rows[0][0]
    assert path == str(tmp_path / "rec" / (uid + ".wav"))
    assert os.listdir(str(tmp_path / "rec")) == [uid + ".wav"]
    assert os.stat(path).st_mode & 0o077 == 0o040, "0640: not for other users"
    left, right = read_stereo(path)
    assert left[:len(sent)] == sent and not left[len(sent):].strip(b"\0")
    assert right[:len(heard)] == heard and not right[len(heard):].strip(b"\0")


def test_a_did_may_turn_recording_off(daemon_factory, db, tmp_path):
    d = recording_daemon(daemon_factory, db, tmp_path)
    d.settings["did:442000000001"] = {"record": "no"}
    d.write_conf()
    d.ctl("reload")
    uid = "0f0e0d0c-0b0a-0908-0706-050403020111"
    with open(os.path.join(d.ctx_dir, "va_%s.json" % uid), "w") as f:
        f.write('{"did":"442000000001","cli":"447700900123"}')
    finish_caller(start_caller(d.port, "-u", uid, "-d", "1"))
    rows = wait_for(lambda: db.sql("SELECT recording_path FROM calls WHERE uuid = %s", (uid,)),
                    15, "the calls row")
    assert rows[0][0] is None
    assert not os.path.exists(str(tmp_path / "rec" / (uid + ".wav")))


def test_recordings_older_than_recording_days_are_removed(daemon_factory, db, tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    old, new = str(rec / "old.wav"), str(rec / "new.wav")
    for p in (old, new):
        with open(p, "wb") as f:
            f.write(b"RIFF")
    day = 86400
    os.utime(old, (time.time() - 3 * day, time.time() - 3 * day))
    os.utime(new, (time.time() - 1 * day, time.time() - 1 * day))
    d = recording_daemon(daemon_factory, db, tmp_path, recording_days="2")
    wait_for(lambda: not os.path.exists(old), 10, "the old recording to go")
    assert os.path.exists(new)
    # A reload that shortens the time sweeps again at once.
    d.settings["call"]["recording_days"] = "1"
    d.write_conf()
    d.ctl("reload")
    wait_for(lambda: not os.path.exists(new), 10, "the day-old recording to go")
    d.wait_log("removed 1 recording")


def get_raw(d, path, key):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=10)
    try:
        c.request("GET", path, headers={"X-API-Key": key} if key else {})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        c.close()


def test_the_api_serves_a_bookings_recording_with_the_key_only(daemon_factory, db, tmp_path):
    from api_harness import KEY, SEED_BOOKING, api_daemon, call, seed_dids
    seed_dids(db)
    rec = str(tmp_path / "rec")
    d = api_daemon(daemon_factory, db, tmp_path, call={"record": "yes", "recording_dir": rec})
    make_wav(str(tmp_path / "in.wav"), seconds=1.0, seed=6)
    uid = finish_caller(start_caller(d.port, "-w", str(tmp_path / "in.wav")))["results"][0]["uuid"]
    path = wait_for(lambda: db.sql("SELECT recording_path FROM calls WHERE uuid = %s", (uid,)),
                    15, "the calls row")[0][0]
    st, j = call(d, "POST", "/api/voice-agent/create_booking", SEED_BOOKING)
    assert st == 200, j
    bid = wait_for(lambda: db.sql("SELECT id FROM ai_agent_bookings WHERE booking_ref=%s",
                                  (j["booking_ref"],)), 20, "the booking")[0][0]
    db.sql("UPDATE ai_agent_bookings SET call_uuid = %s WHERE id = %s", (uid, bid))
    st, j = call(d, "GET", "/api/bookings/%d" % bid)
    url = j["booking"]["recording_url"]
    assert url == "/api/bookings/%d/recording" % bid and "recording_path" not in j["booking"]
    st, ctype, body = get_raw(d, url, KEY)
    assert (st, ctype) == (200, "audio/wav") and body == open(path, "rb").read()
    assert get_raw(d, url, None)[0] == 401
    assert get_raw(d, url, "wrong-key")[0] == 401
    # Only a file directly in recording_dir is ever served, whatever the row says.
    db.sql("UPDATE calls SET recording_path = %s WHERE uuid = %s", (rec + "/../in.wav", uid))
    assert get_raw(d, url, KEY)[0] == 404
    db.sql("UPDATE calls SET recording_path = NULL WHERE uuid = %s", (uid,))
    assert get_raw(d, url, KEY)[0] == 404
    assert "recording_url" not in call(d, "GET", "/api/bookings/%d" % bid)[1]["booking"]
