"""vagentd -t: a good config passes, a bad one names the key and the line."""
import os
import subprocess

from harness import VAGENTD, ROOT


def check(tmp_path, text):
    p = tmp_path / "v.conf"
    p.write_text(text)
    env = dict(os.environ, VAGENT_API_KEY="config-test-key-0123456789")
    return subprocess.run([VAGENTD, "-t", "-c", str(p)], capture_output=True, text=True, env=env)


def test_example_config_is_valid(tmp_path):
    key = tmp_path / "api.key"
    key.write_text("example-config-test-key\n")
    key.chmod(0o640)
    text = open(os.path.join(ROOT, "conf", "vagent.conf")).read()
    assert "api_key_file = /etc/vagent/api.key" in text
    conf = tmp_path / "vagent.conf"
    conf.write_text(text.replace("/etc/vagent/api.key", str(key)))
    r = subprocess.run([VAGENTD, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "configuration ok" in r.stdout


def test_missing_api_key_is_named(tmp_path):
    r = check(tmp_path, "[api]\napi_key_file = %s\n" % (tmp_path / "none.key"))
    assert r.returncode != 0 and "[api] api_key_file" in r.stderr


def test_api_key_readable_by_others_is_refused(tmp_path):
    key = tmp_path / "k"
    key.write_text("0123456789abcdef0123\n")
    key.chmod(0o644)
    r = check(tmp_path, "[api]\napi_key_file = %s\n" % key)
    assert r.returncode != 0 and "readable by others" in r.stderr


def test_unknown_key_named_with_line(tmp_path):
    r = check(tmp_path, "[vagentd]\nmax_calls = 5\nmax_cals = 7\n")
    assert r.returncode != 0
    assert ":3:" in r.stderr and "max_cals" in r.stderr and "unknown key" in r.stderr


def test_bad_value_named(tmp_path):
    r = check(tmp_path, "[vagentd]\nmax_calls = lots\n")
    assert r.returncode != 0
    assert "[vagentd] max_calls" in r.stderr


def test_unknown_engine_named(tmp_path):
    r = check(tmp_path, "[call]\nengine = telepathy\n")
    assert r.returncode != 0
    assert "engine" in r.stderr and "telepathy" in r.stderr


def test_playback_needs_a_readable_wav(tmp_path):
    r = check(tmp_path, "[call]\nengine = playback\n[playback]\nfile = /nonexistent.wav\n")
    assert r.returncode != 0
    assert "[playback] file" in r.stderr


def test_missing_file(tmp_path):
    r = subprocess.run([VAGENTD, "-t", "-c", str(tmp_path / "nope.conf")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "nope.conf" in r.stderr


def test_second_instance_on_same_run_dir_refused(daemon):
    r = subprocess.run([VAGENTD, "-f", "-c", daemon.conf], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode != 0
    assert "another vagentd" in r.stderr
    assert daemon.status()["idle"] >= 1, "the first instance must be unharmed"
