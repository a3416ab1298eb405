"""vagentd -t: a good config passes, a bad one names the key and the line."""
import os
import subprocess

from harness import VAGENTD, ROOT


def check(tmp_path, text):
    p = tmp_path / "v.conf"
    p.write_text(text)
    return subprocess.run([VAGENTD, "-t", "-c", str(p)], capture_output=True, text=True)


def test_example_config_is_valid():
    r = subprocess.run([VAGENTD, "-t", "-c", os.path.join(ROOT, "conf", "vagent.conf")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "configuration ok" in r.stdout


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
