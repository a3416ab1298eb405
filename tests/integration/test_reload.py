"""SIGHUP: new calls get the new configuration, calls in progress keep theirs;
a broken configuration is logged and the old one kept."""
import signal

from harness import make_wav, read_wav, run_caller, start_caller, finish_caller, wait_for


def playback_daemon(daemon_factory, tmp_path):
    prompt = make_wav(str(tmp_path / "prompt.wav"), seconds=1.0, seed=9)
    d = daemon_factory(extra="[playback]\nfile = %s\n" % (tmp_path / "prompt.wav"))
    return d, prompt


def test_sighup_engine_change_affects_only_new_calls(daemon_factory, tmp_path):
    d, prompt = playback_daemon(daemon_factory, tmp_path)
    sent = make_wav(str(tmp_path / "in.wav"), seconds=4.0)
    old_call = start_caller(d.port, "-w", str(tmp_path / "in.wav"), "-r", str(tmp_path / "a.wav"))
    wait_for(lambda: len(d.calls()) == 1, what="the first call")

    d.settings["call"]["engine"] = "playback"
    d.write_conf()
    d.kill(signal.SIGHUP)
    d.wait_log("configuration reloaded: generation 2, engine playback")
    assert d.status()["generation"] == 2

    new = run_caller(d.port, "-d", "10", "-r", str(tmp_path / "b.wav"))
    assert new["results"][0]["outcome"] == "server_hangup"
    assert read_wav(str(tmp_path / "b.wav"))[1] == prompt

    res = finish_caller(old_call)
    assert res["results"][0]["outcome"] == "completed"
    assert read_wav(str(tmp_path / "a.wav"))[1] == sent, "the call in progress kept echo"


def test_sighup_with_broken_config_keeps_the_old_one(daemon, tmp_path):
    daemon.write_conf("[vagentd]\nlisten = 127.0.0.1:%d\nrun_dir = %s\nmax_calls = 8\n"
                      "min_spare = 2\nlog_file = %s\n[call]\nengine = telepathy\n"
                      % (daemon.port, daemon.run_dir, daemon.log))
    daemon.kill(signal.SIGHUP)
    daemon.wait_log("reload failed, keeping generation 1")
    assert "telepathy" in daemon.log_text()
    assert daemon.status()["generation"] == 1

    sent = make_wav(str(tmp_path / "in.wav"), seconds=1.0)
    res = run_caller(daemon.port, "-w", str(tmp_path / "in.wav"), "-r", str(tmp_path / "o.wav"))
    assert res["results"][0]["outcome"] == "completed"
    assert read_wav(str(tmp_path / "o.wav"))[1] == sent, "still the echo engine"

    r = daemon.ctl("reload", check=False)
    assert r.returncode == 1 and "telepathy" in r.stdout


def test_vagentctl_reload_reports_the_generation(daemon):
    r = daemon.ctl("reload")
    assert r.stdout.strip() == "ok generation 2"
    wait_for(lambda: all(c for c in [daemon.status()["idle"] >= 2]), what="new workers")


def test_restart_only_key_change_is_kept_and_warned(daemon):
    daemon.settings["vagentd"]["max_calls"] = "30"
    daemon.write_conf()
    assert daemon.ctl("reload").stdout.startswith("ok")
    daemon.wait_log("[vagentd] max_calls changed: takes effect at restart")
    assert daemon.status()["capacity"] == 8
