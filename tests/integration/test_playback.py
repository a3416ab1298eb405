"""The playback engine plays its WAV at the caller's rate, then hangs up."""
import os

from harness import make_wav, read_wav, run_caller


def test_playback_plays_file_then_hangs_up(daemon_factory, tmp_path):
    prompt = make_wav(str(tmp_path / "prompt.wav"), seconds=1.5, seed=4)
    d = daemon_factory({"call": {"engine": "playback"}},
                       extra="[playback]\nfile = %s\n" % (tmp_path / "prompt.wav"))
    res = run_caller(d.port, "-d", "10", "-r", str(tmp_path / "heard.wav"))
    r = res["results"][0]
    assert r["outcome"] == "server_hangup", "the agent ends the call with a hangup frame"
    assert read_wav(str(tmp_path / "heard.wav"))[1] == prompt
    assert res["frames_received"] == 75


def test_playback_at_16k_is_converted(daemon_factory, tmp_path):
    make_wav(str(tmp_path / "prompt.wav"), seconds=1.0, seed=4)
    d = daemon_factory({"call": {"engine": "playback"}},
                       extra="[playback]\nfile = %s\n" % (tmp_path / "prompt.wav"))
    res = run_caller(d.port, "-R", "16000", "-d", "10", "-r", str(tmp_path / "heard.wav"))
    assert res["results"][0]["outcome"] == "server_hangup"
    rate, got = read_wav(str(tmp_path / "heard.wav"))
    assert rate == 16000 and len(got) // 2 == 16000


def test_did_section_picks_the_engine(daemon_factory, tmp_path):
    prompt = make_wav(str(tmp_path / "prompt.wav"), seconds=0.5, seed=4)
    d = daemon_factory(extra="[playback]\nfile = %s\n[did:442039962952]\nengine = playback\n"
                       % (tmp_path / "prompt.wav"))
    uid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    with open(os.path.join(d.ctx_dir, "va_%s.json" % uid), "w") as f:
        f.write('{"did":"442039962952","cli":"447700900123"}')
    res = run_caller(d.port, "-u", uid, "-d", "10", "-r", str(tmp_path / "heard.wav"))
    assert res["results"][0]["outcome"] == "server_hangup"
    assert read_wav(str(tmp_path / "heard.wav"))[1] == prompt
    other = run_caller(d.port, "-d", "1")
    assert other["results"][0]["outcome"] == "completed", "other DIDs keep the default engine"
