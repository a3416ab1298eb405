"""Echo calls: every caller hears exactly the audio it sent, at its own rate."""
import os
import time

from harness import make_wav, read_wav, run_caller, start_caller, finish_caller, wait_for


def test_echo_returns_exact_audio(daemon, tmp_path):
    sent = make_wav(str(tmp_path / "in.wav"), seconds=2.0)
    res = run_caller(daemon.port, "-w", str(tmp_path / "in.wav"), "-r", str(tmp_path / "out.wav"))
    assert res["results"][0]["outcome"] == "completed"
    rate, got = read_wav(str(tmp_path / "out.wav"))
    assert rate == 8000
    assert got == sent
    assert res["frames_received"] == 100   # 2 s of 20 ms frames, none merged or split


def test_hd_call_runs_at_16k_end_to_end(daemon, tmp_path):
    sent = make_wav(str(tmp_path / "in16.wav"), rate=16000, seconds=1.0)
    res = run_caller(daemon.port, "-w", str(tmp_path / "in16.wav"),
                     "-r", str(tmp_path / "out16.wav"))
    assert res["results"][0]["outcome"] == "completed"
    rate, got = read_wav(str(tmp_path / "out16.wav"))
    assert rate == 16000, "a 16 kHz caller must hear 16 kHz frames (kind 0x12)"
    assert got == sent


def test_fifty_calls_each_hear_their_own_audio(daemon_factory, tmp_path):
    d = daemon_factory({"vagentd": {"max_calls": "50", "min_spare": "10", "max_spare": "50"}})
    sent = [make_wav(str(tmp_path / ("in%d.wav" % i)), seconds=3.0, seed=i + 1)
            for i in range(50)]
    p = start_caller(d.port, "-n", "50", "-w", str(tmp_path / "in%d.wav"),
                     "-r", str(tmp_path / "out%d.wav"))
    # Each call must show up in `vagentctl calls` with audio flowing while it
    # lasts. Collected over polls: on a loaded machine the last calls may
    # start after the first have ended, so all 50 need not be listed at once.
    seen = {}

    def all_seen():
        for c in d.calls():
            if c["rate"]:
                seen[c["uuid"]] = c
        return len(seen) == 50

    wait_for(all_seen, 60, "50 calls with audio flowing in vagentctl calls")
    listed = list(seen.values())
    res = finish_caller(p)
    assert res["completed"] == 50, res
    assert {c["uuid"] for c in listed} == {r["uuid"] for r in res["results"]}
    assert all(c["engine"] == "echo" and c["rate"] == 8000 for c in listed)
    for r in res["results"]:
        i = r["index"]
        assert read_wav(str(tmp_path / ("out%d.wav" % i)))[1] == sent[i], "call %d" % i
    st = d.status()
    assert st["calls_total"] == 50 and st["failed_total"] == 0 and st["rejected_total"] == 0


def test_dtmf_reaches_the_call(daemon, tmp_path):
    res = run_caller(daemon.port, "-R", "8000", "-d", "1", "-D", "5@200", "-D", "#@400",
                     "-u", "11111111-2222-3333-4444-555555555555")
    assert res["results"][0]["outcome"] == "completed"
    daemon.wait_log("call 11111111-2222-3333-4444-555555555555: DTMF 5")
    daemon.wait_log("call 11111111-2222-3333-4444-555555555555: DTMF #")


def test_context_file_gives_did_and_cli(daemon, tmp_path):
    uid = "0f0e0d0c-0b0a-0908-0706-050403020100"
    path = os.path.join(daemon.ctx_dir, "va_%s.json" % uid)
    with open(path, "w") as f:
        f.write('{"did":"442039962952","cli":"447700900123"}')
    p = start_caller(daemon.port, "-u", uid, "-d", "3")
    call = wait_for(lambda: daemon.calls(), what="the call")[0]
    assert (call["uuid"], call["did"], call["cli"]) == (uid, "442039962952", "447700900123")
    assert not os.path.exists(path), "the context file is consumed"
    finish_caller(p)
