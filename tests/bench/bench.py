#!/usr/bin/env python3
"""make bench: vagent's performance figures, one JSON object per line.

Everything runs on loopback: a private vagentd, the vagent-call load
generator. Figures are medians and percentiles over many observations,
never one run's number; this machine is shared and noisy, so compare runs
by ratio. Benchmarks measure; they never pass or fail on a timing.

  handoff  accept() in the supervisor to the socket in a worker (us),
           from the daemon's own histogram (bucket upper edges, ~6 %)
  jitter   inter-arrival deviation from 20 ms of the agent's frames,
           measured at the caller, for 1, 50 and 200 echo calls
  memory   RSS and PSS of the supervisor and of a worker, idle and busy
  journal_ack  enqueue to journaled acknowledgement (group commit), 50 producers
  commit       enqueue to committed in MariaDB, and sustained committed records/s
  api_did_context, api_create_booking  requests/s and latency under load from
               `hey` on loopback, at a fixed rate and flat out
  turn_latency the caller's end of speech to the agent's first audio, at the
               caller, per agent stack ("stack"), against the emulators at the
               seed's figures: local, the local engine at its v2 (STT final
               120 ms, TTFT 50 ms, TTS first byte 40 ms); v1, the local engine
               with ElevenLabs TTS in u-law (STT 150, TTFT 80, TTS first byte
               120; the seed's own overhead there: 45 ms, conversion and
               queueing); cloud, the elevenlabs engine bridged to the agent
               emulator, which answers after 600 ms of quiet (inside the
               seed's 500-800 ms for ElevenLabs' agent)
  overhead     vagent's own hops in a local-engine turn (local, v1), from the
               worker's histogram; overhead_at_caller: turn latency minus the
               emulated delays (endpointing included)
               (turn_latency and overhead also with "stack":"twilio": the
               local stack reached over Twilio Media Streams, the calls placed
               by `vagent-emu twilio`; its gaps: times the emulated phone's
               speaker ran dry inside a reply)
  jitter_busy  jitter at 50 echo calls with a CPU-bound process per core (a busy PBX);
               the load generator runs SCHED_RR where allowed, as Asterisk does
               with -p, so the figure is vagentd's share; then ("stack":"quiet")
               50 local-engine calls with send_silence = no, whose replies the
               kernel paces ([call] kernel_pacing), the load generator in
               SCHED_FIFO where allowed
  capacity     the most calls whose callers got every turn, no errors, turn p99 at
               most 60 ms above the emulated delays and jitter p99 < 5 ms (each
               step judged by the majority of up to three runs); says
               when the emulators or the load generator limited the run; the
               load generator in SCHED_FIFO where allowed (as Asterisk runs).
               Searched twice where the system allows realtime classes:
               "workers":"normal" (the default), then with [vagentd] realtime
               = yes ("workers":"SCHED_RR 1") and the emulators in SCHED_FIFO
               at the workers' priority ("emu_sched"), as providers on other
               machines are out of reach of our RR workers
  cost         per call of vagentd's whole tree (tests/bench/cost.py): CPU ms per
               connected call-minute, PSS, context switches per call-second;
               and the emulators' and load generator's share of a core and CPU
               ms per call-minute (above ~60, one core could not carry 1,000
               calls of that tool), with the emulator's own counts; the
               whole machine's CPU per call-minute, and what of it no
               process was charged for (the kernel's interrupts and
               softirqs, where kernel pacing sends our frames)
  wake_floor   what this host charges for a bare 20 ms wake-up (vagent-wakefloor):
               50 and 200 tasks that only wake on a timer, as processes (a
               worker with no work: the floor under cost's CPU per call) and
               as threads of one process
  emu_load     the provider emulators alone under 100, 500 and 1,000 emulated
               calls (tests/bench/emu_load.py, no vagentd): their share of a
               core and CPU ms per call-minute, the turns answered, the
               emulated stages' delays as a worker sees them, and the
               driver's own share and lag ("limited_by":"driver" when it, not
               the emulators, set the stages' tails)
"""
import argparse
import functools
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import (Daemon, MariaDB, ScratchDB, BUILD, make_wav, run_caller,  # noqa: E402
                     start_caller, finish_caller, wait_for)
from cost import Cost  # noqa: E402


def emit(**kv):
    print(json.dumps(kv), flush=True)


RUN_DIRS = []


def run_dir(name):
    """/run is tmpfs on a Debian host; give the daemon the same, not the disk
    (on ext4 each replace-by-rename of the status files forces allocation)."""
    d = tempfile.mkdtemp(prefix="vagent-bench-%s-" % name, dir="/dev/shm")
    RUN_DIRS.append(d)
    return d


def daemon(tmp, name, max_calls, spare, **vagentd):
    """An echo daemon; vagentd: more [vagentd] settings."""
    os.makedirs(os.path.join(tmp, name), exist_ok=True)
    section = {"max_calls": str(max_calls), "min_spare": str(spare),
               "max_spare": str(max_calls), "log_level": "warn", "worker_max_use": "0"}
    section.update(vagentd)
    d = Daemon(os.path.join(tmp, name), {"vagentd": section}, run_dir=run_dir(name))
    return d.start()


def bench_handoff(tmp, rounds):
    d = daemon(tmp, "handoff", 128, 100)
    try:
        for _ in range(rounds):
            res = run_caller(d.port, "-n", "100", "-s", "10", "-d", "1", "-l", "100")
            assert res["errors"] == 0 and res["rejected"] == 0, res
        lat = json.loads(d.ctl("latency", "-j").stdout)["handoff"]
        emit(bench="handoff", calls=lat["count"], p50_us=lat["p50_us"], p90_us=lat["p90_us"],
             p99_us=lat["p99_us"])
    finally:
        d.stop()


def bench_jitter(tmp, counts, seconds):
    d = daemon(tmp, "jitter", max(counts) + 8, max(counts) + 4)
    wav = os.path.join(tmp, "jitter.wav")
    make_wav(wav, seconds=seconds)
    try:
        for n in counts:
            res = run_caller(d.port, "-n", str(n), "-w", wav, timeout=seconds * 4 + 60)
            emit(bench="jitter", calls=n, completed=res["completed"],
                 frames=res["jitter_samples"], p50_ms=res["jitter_p50_ms"],
                 p99_ms=res["jitter_p99_ms"], max_ms=res["jitter_max_ms"],
                 first_audio_p50_ms=res["first_audio_p50_ms"])
    finally:
        d.stop()


def mem(pid):
    """RSS and PSS (kB) from smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            k, _, rest = line.partition(":")
            if k in ("Rss", "Pss"):
                out[k.lower() + "_kb"] = int(rest.split()[0])
    return out


def bench_memory(tmp):
    d = daemon(tmp, "memory", 50, 4)
    try:
        emit(bench="memory", process="supervisor", **mem(d.proc.pid))
        emit(bench="memory", process="worker", state="idle", **mem(d.worker_pids()[0]))
        p = start_caller(d.port, "-d", "4")
        call = wait_for(lambda: [c for c in d.calls() if c["frames_in"] >= 50],
                        what="a call one second in")[0]
        emit(bench="memory", process="worker", state="busy", **mem(call["pid"]))
        finish_caller(p)
    finally:
        d.stop()


def recload(d, *args):
    import subprocess
    r = subprocess.run([os.path.join(BUILD, "vagent-recload"), "-r", d.run_dir] + list(args),
                       capture_output=True, text=True, timeout=600)
    return json.loads(r.stdout)


def bench_writer(tmp):
    m = MariaDB(os.path.join(tmp, "mariadb")).start()
    try:
        db = ScratchDB(m, tmp).create()
        db.migrate()
        os.makedirs(os.path.join(tmp, "writer"), exist_ok=True)
        settings = {"vagentd": {"extra_producers": "52", "max_calls": "4", "min_spare": "1",
                                "log_level": "warn"}}
        settings.update(db.settings())
        d = Daemon(os.path.join(tmp, "writer"), settings, run_dir=run_dir("writer")).start()
        try:
            # Each producer waits for its journaled ack before the next record.
            r = recload(d, "-p", "50", "-n", "200", "-w", "journaled", "-t", "120")
            emit(bench="journal_ack", producers=50, records=r["journaled"],
                 p50_ms=r["journaled_p50_ms"], p99_ms=r["journaled_p99_ms"])
            emit(bench="commit", producers=50, records=r["committed"],
                 p50_ms=r["committed_p50_ms"], p99_ms=r["committed_p99_ms"],
                 per_s=r["committed_per_s"], mode="each waits for journaled")
            # What one booking call sees: an idle writer, one record at a time.
            r = recload(d, "-p", "1", "-n", "300", "-w", "committed", "-t", "120")
            emit(bench="commit", producers=1, records=r["committed"],
                 p50_ms=r["committed_p50_ms"], p99_ms=r["committed_p99_ms"],
                 journaled_p50_ms=r["journaled_p50_ms"], journaled_p99_ms=r["journaled_p99_ms"],
                 mode="one at a time")
            # Sustained: producers do not wait; how fast does MariaDB take them?
            r = recload(d, "-p", "10", "-n", "5000", "-w", "none", "-t", "300")
            emit(bench="commit_sustained", producers=10, records=r["committed"],
                 per_s=r["committed_per_s"], p50_ms=r["committed_p50_ms"],
                 p99_ms=r["committed_p99_ms"])
        finally:
            d.stop()
    finally:
        m.stop()


def hey(url, body, key, *args):
    """Runs hey; returns (requests/s, p50 ms, p99 ms, {status: count})."""
    import re
    import subprocess
    r = subprocess.run(["hey", "-m", "POST", "-T", "application/json", "-H",
                        "X-API-Key: " + key, "-d", body] + list(args) + [url],
                       capture_output=True, text=True, timeout=600)
    out = r.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {int(m.group(1)): float(m.group(2)) * 1000
           for m in re.finditer(r"(\d+)% in ([\d.]+) secs", out)}
    codes = {int(m.group(1)): int(m.group(2))
             for m in re.finditer(r"\[(\d+)\]\s+(\d+) responses", out)}
    return rps, pct.get(50, 0.0), pct.get(99, 0.0), codes


def bench_api(tmp):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "integration"))
    from api_harness import KEY, SEED_BOOKING, seed_dids
    from harness import free_port
    m = MariaDB(os.path.join(tmp, "mariadb-api")).start()
    try:
        db = ScratchDB(m, tmp).create()
        db.migrate()
        seed_dids(db)
        key = os.path.join(tmp, "api.key")
        with open(key, "w") as f:
            f.write(KEY + "\n")
        os.chmod(key, 0o640)
        port = free_port()
        settings = {"vagentd": {"max_calls": "4", "min_spare": "1", "log_level": "warn"},
                    "api": {"enabled": "yes", "listen": "127.0.0.1:%d" % port,
                            "api_key_file": key}}
        settings.update(db.settings())
        os.makedirs(os.path.join(tmp, "api"), exist_ok=True)
        d = Daemon(os.path.join(tmp, "api"), settings, run_dir=run_dir("api")).start()
        base = "http://127.0.0.1:%d/api/voice-agent/" % port
        ctx = json.dumps({"did_number": "442039962952", "caller_id": "447963155448"})
        try:
            wait_for(lambda: d.status().get("api_pid"), what="the api")
            for rate in (1000,):
                rps, p50, p99, codes = hey(base + "did_context", ctx, KEY, "-z", "10s",
                                           "-c", "10", "-q", str(rate // 10))
                emit(bench="api_did_context", mode="fixed rate", target_per_s=rate,
                     per_s=round(rps), p50_ms=round(p50, 3), p99_ms=round(p99, 3),
                     codes=codes)
            rps, p50, p99, codes = hey(base + "did_context", ctx, KEY, "-n", "30000", "-c", "32")
            emit(bench="api_did_context", mode="flat out", per_s=round(rps),
                 p50_ms=round(p50, 3), p99_ms=round(p99, 3), codes=codes)
            booking = json.dumps(SEED_BOOKING)
            rps, p50, p99, codes = hey(base + "create_booking", booking, KEY, "-z", "10s",
                                       "-c", "10", "-q", "20")
            emit(bench="api_create_booking", mode="fixed rate", target_per_s=200,
                 per_s=round(rps), p50_ms=round(p50, 3), p99_ms=round(p99, 3), codes=codes)
            rps, p50, p99, codes = hey(base + "create_booking", booking, KEY, "-n", "10000",
                                       "-c", "32")
            emit(bench="api_create_booking", mode="flat out", per_s=round(rps),
                 p50_ms=round(p50, 3), p99_ms=round(p99, 3), codes=codes)
        finally:
            d.stop()
    finally:
        m.stop()


# The emulated delays of each agent stack, the seed's figures: "local" is
# its v2 (Nova-3, Llama specdec, Cartesia), "v1" its first stack (Nova-2,
# Llama versatile, ElevenLabs Flash v2 in u-law). The caller's pause before
# the final transcript is our endpointing, the same for both.
STACKS = {"local": {"stt_final_ms": 120, "ttft_ms": 50, "tts_ttfb_ms": 40},
          "v1": {"stt_final_ms": 150, "ttft_ms": 80, "tts_ttfb_ms": 120}}
# "quiet" is the local stack with [call] send_silence = no: nothing is sent
# between the agent's words but a frame a second, and the caller's audio is
# read in batches meanwhile.
STACKS["quiet"] = STACKS["local"]
ENDPOINTING_MS, VAD_RMS = 300, 500
# The cloud agent emulator answers once it heard 600 ms of quiet after an
# utterance (QUIET_END_MS in tests/emu/emu_xi_agent.c) and sends its audio
# at once; it has no other delay. 600 ms is inside the seed's 500-800 ms
# mouth-to-ear for ElevenLabs' agent, so the whole of it counts as emulated.
XI_AGENT_END_MS = 600
XI_AGENT_KEY = "bench-xi-agent-key"
# The bench's caller: four utterances, each answered by bench_script.json.
CALLER_PARTS = [3.5, "Hello there.", 3.0, "It is a leaking tap.", 3.0, "Yes please.",
                3.0, "Thanks a lot.", 3.0]
CALLER_MARGIN_MS = 60	# what a caller may get above the emulated delays
# The calls' 20 ms clocks 5 ms apart, as a PBX's channels each keep their
# own phase: with one shared instant every worker wakes at once, a herd no
# real line makes (and one that taxes whatever works on the caller's beat).
CALLER_PHASES = 4


def emulated_ms(stack):
    if stack == "cloud":
        return XI_AGENT_END_MS
    s = STACKS[stack]
    return ENDPOINTING_MS + s["stt_final_ms"] + s["ttft_ms"] + s["tts_ttfb_ms"]


EMULATED_MS = emulated_ms("local")


def bench_path(name):
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


def stack_daemon(tmp, stack, max_calls, settings, realtime=False):
    settings["vagentd"] = {"max_calls": str(max_calls + 8), "min_spare": str(max_calls + 4),
                           "max_spare": str(max_calls + 8), "log_level": "warn",
                           "worker_max_use": "0", "realtime": "yes" if realtime else "no"}
    d_dir = os.path.join(tmp, stack)
    os.makedirs(d_dir, exist_ok=True)
    return Daemon(d_dir, settings, run_dir=run_dir(stack)).start()


def bench_emulators(d_emu, stack):
    """vagent-emu answering bench_script.json at the stack's delays."""
    from agent_harness import Emulators
    os.makedirs(d_emu, exist_ok=True)
    return Emulators(d_emu, json.load(open(bench_path("bench_script.json"))),
                     vad_rms=VAD_RMS, **STACKS[stack])


def engine_settings(tmp, stack, emus, twilio=False):
    """The local engine's settings against the emulators; v1 adds an
    ElevenLabs TTS emulator in its own process (one espeak-ng each)."""
    delays = STACKS[stack]
    d_emu = os.path.join(tmp, "emu")
    emus["emu"] = bench_emulators(d_emu, stack)
    emus["emu"].log = os.path.join(d_emu, "emu.log")
    settings = dict(emus["emu"].settings())
    if stack == "v1":
        from test_v1_stack import XI_KEY, XiEmulator, v1_settings
        emus["xi"] = XiEmulator(d_emu, tts_ttfb_ms=delays["tts_ttfb_ms"])
        emus["xi"].log = os.path.join(d_emu, "xi_emu.log")
        os.environ["VAGENT_ELEVENLABS_API_KEY"] = XI_KEY
        for k, v in v1_settings(emus["xi"]).items():
            settings.setdefault(k, {}).update(v)
    settings["call"] = {"engine": "local", "idle_timeout": "10"}
    if stack == "quiet":
        settings["call"]["send_silence"] = "no"
    if stack in ("local", "quiet"):
        # BENCH_KERNEL_PACING=no: the same stack with every frame sent by
        # the worker on its tick, to compare by hand.
        settings["call"]["kernel_pacing"] = os.environ.get("BENCH_KERNEL_PACING", "yes")
    if twilio:
        from harness import free_port
        settings["twilio"] = {"listen": "127.0.0.1:%d" % free_port()}
    settings["stt"]["endpointing_ms"] = str(ENDPOINTING_MS)
    settings["local"] = {"prompt_file": os.path.join(bench_path(".."), "..", "conf",
                                                     "prompts", "local.md"), "api_url": ""}
    for k in ("STT", "LLM", "TTS"):
        os.environ.setdefault("VAGENT_%s_API_KEY" % k, "bench")
    return settings


def cloud_settings(tmp, emus):
    """The elevenlabs engine bridging every call to the agent emulator, with
    a signed URL per call as for a private agent."""
    from agent_harness import XiAgent
    d_emu = os.path.join(tmp, "emu")
    os.makedirs(d_emu, exist_ok=True)
    emus["xi_agent"] = XiAgent(d_emu, json.load(open(bench_path("bench_cloud_script.json"))),
                               key=XI_AGENT_KEY)
    emus["xi_agent"].log = os.path.join(d_emu, "emu.log")
    key = os.path.join(tmp, "xi.key")
    with open(key, "w") as f:
        f.write(XI_AGENT_KEY + "\n")
    os.chmod(key, 0o640)
    # BENCH_KERNEL_PACING as for the local stacks (engine_settings).
    return {"call": {"engine": "elevenlabs", "idle_timeout": "10",
                     "kernel_pacing": os.environ.get("BENCH_KERNEL_PACING", "yes")},
            "local": {"api_url": ""},
            "elevenlabs": {"url": "http://127.0.0.1:%d" % emus["xi_agent"].port,
                           "api_key_file": key, "agent_id": "agent_vagent_bench"}}


def agent_stack(tmp, max_calls, stack="local", twilio=False, realtime=False):
    """A vagentd answering with the stack's engine and its emulators at the
    seed's figures; returns (daemon, {name: emulator}, the caller's WAV).
    realtime: [vagentd] realtime = yes."""
    sys.path.insert(0, os.path.join(bench_path(".."), "integration"))
    from agent_harness import caller_wav
    emus = {}
    try:
        settings = (cloud_settings(tmp, emus) if stack == "cloud"
                    else engine_settings(tmp, stack, emus, twilio))
        d = stack_daemon(tmp, stack, max_calls, settings, realtime)
    except BaseException:
        for e in emus.values():
            e.stop()
        raise
    wav = os.path.join(tmp, "bench-caller.wav")
    caller_wav(wav, CALLER_PARTS)
    return d, emus, wav


@functools.lru_cache(maxsize=None)
def caller_rt():
    """chrt's prefix for a load generator in SCHED_FIFO, or () where the
    system does not allow it (not root, no chrt); asked once a run."""
    import shutil
    import subprocess
    if not shutil.which("chrt"):
        return ()
    prefix = ("chrt", "-f", "10")
    ok = subprocess.run(list(prefix) + ["true"], capture_output=True).returncode == 0
    return prefix if ok else ()


def fifo_threads(pid, priority):
    """Every thread of pid into SCHED_FIFO at priority (threads it starts
    later inherit it); False where the system does not allow it."""
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(priority))
    except OSError:
        return False
    return True


def worker_class(d):
    """The scheduling class a call's worker got, as the kernel says."""
    calls = d.calls()
    if not calls:
        return "unknown"
    try:
        pid = calls[0]["pid"]
        policy = os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK
    except (OSError, KeyError):
        return "unknown"
    if policy == os.SCHED_RR:
        return "SCHED_RR %d" % os.sched_getparam(pid).sched_priority
    nice = os.getpriority(os.PRIO_PROCESS, pid)
    return "normal" if nice == 0 else "nice %d" % nice


def stack_run(stack_tmp, stack, n, rt=False, workers_rt=False):
    """One run on a fresh daemon, so its histograms hold this run only.
    rt: the load generator in SCHED_FIFO where allowed (the capacity search).
    workers_rt: [vagentd] realtime = yes, and the emulators in SCHED_FIFO at
    the workers' priority (1): they stand in for providers on other
    machines, whose latency a deployment's RR workers cannot delay; in the
    normal class RR workers starve them, which would judge the emulators.
    Their CPU still counts, as before."""
    d, emus, wav = agent_stack(stack_tmp, n, stack, realtime=workers_rt)
    res = {}
    try:
        if workers_rt:
            res["emu_sched"] = ("fifo 1" if all(fifo_threads(e.proc.pid, 1)
                                                for e in emus.values()) else "normal")
        cost = Cost(d.proc.pid, {k: e.proc.pid for k, e in emus.items()}).start()
        # -L: each caller hangs up once the agent is silent after its
        # script, as a person does, so a call lasts as long with silence
        # sent as without (before, a caller kept listening to silence
        # until the daemon's idle_timeout, 10 s more per call).
        # BENCH_TIMES=FILE: every frame's arrival (vagent-call -T), to see
        # where the jitter comes from.
        times = ["-T", os.environ["BENCH_TIMES"]] if os.environ.get("BENCH_TIMES") else []
        p = start_caller(d.port, "-n", str(n), "-s", "20", "-w", wav, "-V", str(VAD_RMS),
                         "-P", str(CALLER_PHASES), "-L", *times,
                         prefix=caller_rt() if rt else ())
        if n == 1:	# a worker in an agent call: its thread, TLS-capable libraries
            call = wait_for(lambda: [c for c in d.calls() if c["frames_in"] >= 250],
                            30, "a call five seconds in")[0]
            emit(bench="memory", process="worker", state="busy",
                 engine="elevenlabs" if stack == "cloud" else "local", stack=stack,
                 **mem(call["pid"]))
        if rt:
            wait_for(lambda: d.calls(), 30, "a call up")
            res["workers"] = worker_class(d)
        res.update(finish_caller(p, timeout=600))
        res["cost"] = cost.stop()
        res["machine_busy_s"] = cost.machine_busy
        res["machine_split"] = cost.split
        res["pss_kb"] = cost.pss_max
        res["emu_thread_share"] = max(cost.busiest.values())
        lat = json.loads(d.ctl("latency", "-j").stdout)
    finally:
        d.stop()
        for e in emus.values():
            e.stop()
    res["emu_counts"] = emu_counts(emus)
    return res, lat


def tool_ms_per_call_min(res):
    """CPU ms per connected call-minute of the emulators and of the load
    generator: what they would need at 1,000 calls is 1,000 times this per
    minute, so above ~60 one core cannot carry 1,000 calls."""
    wall, cpu, others, caller, switches = res["cost"]
    call_min = (sum(r["duration_ms"] for r in res["results"]) / 1000.0 or 1.0) / 60
    return round(sum(others.values()) * 1000 / call_min, 1), round(caller * 1000 / call_min, 1)


def emu_counts(emus):
    """The emulators' own counts from their exit log lines (after they
    stopped), summed over the emulator processes of a stack."""
    import re
    out = {}
    for e in emus.values():
        try:
            log = open(e.log).read()
        except OSError:
            continue
        for key, pat in (("emu_ws_wakeups", r"websocket loop: (\d+) wake-ups"),
                         ("emu_tts_pieces", r"synthesis: (\d+) pieces"),
                         ("emu_tts_espeak", r"(\d+) spoken by espeak-ng"),
                         ("emu_dg_audio_msgs", r"(\d+) audio messages")):
            m = re.search(pat, log)
            if m:
                out[key] = out.get(key, 0) + int(m.group(1))
    return out


def busy_split(res):
    """The machine's busy ticks: shares in user space, in system calls and
    in interrupts and softirqs (cost.machine_ticks); near capacity about
    half of it is the kernel's (PROFILE.md)."""
    return {"busy_%s_share" % k: v for k, v in res.get("machine_split", {}).items()}


def emit_cost(stack, n, res):
    """CPU and memory per call of vagentd's whole tree, and what the
    emulators and the load generator used: a share of a core (near 1.0:
    they, not vagentd, limited the run) and CPU ms per call-minute. The
    machine's busy time per call-minute counts everything; less the three
    measured above, what is left is mostly the kernel's interrupt and
    softirq work (cost.py), which no process is charged for, and this
    script's own sampling (what the 1-call line's figure mostly is)."""
    wall, cpu, others, caller, switches = res["cost"]
    call_s = sum(r["duration_ms"] for r in res["results"]) / 1000.0 or 1.0
    pss_kb = res.get("pss_kb", 0)
    emu_ms, caller_ms = tool_ms_per_call_min(res)
    machine_ms = res.get("machine_busy_s", 0.0) * 1000 / (call_s / 60)
    cpu_ms = cpu * 1000 / (call_s / 60)
    emit(bench="cost", stack=stack, calls=n,
         cpu_ms_per_call_min=round(cpu_ms, 1),
         machine_cpu_ms_per_call_min=round(machine_ms, 1),
         unattributed_cpu_ms_per_call_min=round(machine_ms - cpu_ms - emu_ms - caller_ms, 1),
         pss_mb_per_call=round(pss_kb / 1024 / n, 2),
         ctxsw_per_call_s=round(switches / call_s, 1),
         emu_cpu_share=round(sum(others.values()) / wall, 3),
         caller_cpu_share=round(caller / wall, 3),
         emu_cpu_ms_per_call_min=emu_ms, caller_cpu_ms_per_call_min=caller_ms,
         emu_busiest_thread_share=round(res.get("emu_thread_share", 0), 3),
         vagentd_cpu_s=round(cpu, 2), call_s=round(call_s, 1), wall_s=round(wall, 1),
         **busy_split(res), **res.get("emu_counts", {}))


def emit_turns(stack, n, res, lat):
    """A stack's turn latency at the caller, our own share of it, jitter,
    stages and cost for one run of n calls."""
    emit(bench="turn_latency", stack=stack, calls=n, turns=res["turns"],
         p50_ms=round(res["turn_p50_ms"], 1), p99_ms=round(res["turn_p99_ms"], 1),
         max_ms=round(res["turn_max_ms"], 1), errors=res["errors"], where="at the caller")
    ov = lat["overhead"]
    if ov["count"]:	# the local engine's own hops; the cloud bridge keeps none
        emit(bench="overhead", stack=stack, calls=n, p50_ms=ov["p50_us"] / 1000,
             p99_ms=ov["p99_us"] / 1000, turns=ov["count"],
             what="vagent's own hops in each turn (histogram bucket upper edges)")
    em = emulated_ms(stack)
    emit(bench="overhead_at_caller", stack=stack, calls=n, emulated_ms=em,
         p50_ms=round(res["turn_p50_ms"] - em, 1),
         p99_ms=round(res["turn_p99_ms"] - em, 1),
         what="caller's turn latency minus the agent emulator's 600 ms end of utterance; "
              "includes the bridge's batching of caller audio" if stack == "cloud" else
              "caller's turn latency minus endpointing+STT+TTFT+TTFB; includes the "
              "emulators' own artifacts (espeak lead-in silence, TTS text batching)")
    emit(bench="jitter", stack=stack, calls=n, p50_ms=res["jitter_p50_ms"],
         p99_ms=res["jitter_p99_ms"], max_ms=res["jitter_max_ms"])
    stages = {k: {"p50_us": v["p50_us"], "p99_us": v["p99_us"]} for k, v in lat.items()
              if k != "handoff" and v.get("count", 1)}
    if stages:
        emit(bench="stages", stack=stack, calls=n, **stages)
    emit_cost(stack, n, res)


def bench_stack(tmp, stack, counts, search=()):
    """Turn latency of one stack at each count; for the local stacks, then
    the capacity search, with the workers in the normal class (the default)
    and, where the system allows it, with [vagentd] realtime = yes."""
    runs = [0]

    def run(n, rt=False, workers_rt=False):
        runs[0] += 1
        sub = os.path.join(tmp, "%s-%d" % (stack, runs[0]))
        os.makedirs(sub)
        return stack_run(sub, stack, n, rt, workers_rt)

    for n in counts:
        res, lat = run(n)
        emit_turns(stack, n, res, lat)
    if not search:
        return
    capacity_search(run, stack, search, workers_rt=False)
    # realtime = yes is for a box whose max_calls is well within what it
    # carries with RR workers (vagent.conf): this is that figure.
    if caller_rt():
        capacity_search(run, stack, search, workers_rt=True)


def capacity_probe(run, stack, n, workers_rt, sched, attempt):
    """One run of n calls judged by the caller's rule; emits its line and
    returns (ok, what limited it or None, workers' class, emulators' class)."""
    res, lat = run(n, rt=True, workers_rt=workers_rt)
    wall, cpu, others, caller, switches = res["cost"]
    # The caller has one thread; the emulator's busiest thread counts too.
    emu_share = max(sum(others.values()) / wall, res.get("emu_thread_share", 0))
    caller_share = caller / wall
    emu_ms, caller_ms = tool_ms_per_call_min(res)
    ok = (res["errors"] == 0 and res["turns"] >= 4 * n and
          res["turn_p99_ms"] <= EMULATED_MS + CALLER_MARGIN_MS and
          res["jitter_p99_ms"] < 5)
    workers, emu_sched = res.get("workers", "normal"), res.get("emu_sched", "normal")
    emit(bench="capacity_probe", stack=stack, calls=n, attempt=attempt, rule="caller",
         caller_sched=sched, workers=workers, emu_sched=emu_sched,
         turn_p99_ms=round(res["turn_p99_ms"], 1), jitter_p99_ms=res["jitter_p99_ms"],
         jitter_late_p99_ms=res["jitter_late_p99_ms"],
         turns=res["turns"], errors=res["errors"],
         vagentd_cpu_share=round(cpu / wall, 3),
         machine_busy_cores=round(res.get("machine_busy_s", 0.0) / wall, 3),
         **busy_split(res),
         emu_cpu_share=round(sum(others.values()) / wall, 3),
         emu_busiest_thread_share=round(res.get("emu_thread_share", 0), 3),
         caller_cpu_share=round(caller_share, 3), emu_cpu_ms_per_call_min=emu_ms,
         caller_cpu_ms_per_call_min=caller_ms, ok=ok)
    limited = None
    if not ok and (emu_share > 0.8 or caller_share > 0.8):
        # A tool that used most of a core may be what failed the probe.
        limited = "emulators" if emu_share >= caller_share else "load generator"
    return ok, limited, workers, emu_sched


def capacity_search(run, stack, search, workers_rt):
    """Steps up through search until a step fails the caller's rule. A step
    is the majority of up to three runs (two that agree decide): one run's
    jitter p99 at 80-140 calls moved by 2-6 ms between identical runs on
    this host, enough to stop a one-run search a step or two early or
    late."""
    # The load generator stands in for Asterisk, which a PBX runs in a
    # realtime class (asterisk.conf highpriority = yes, or -p): in the
    # normal class, at 100 calls its own late wake-ups were most of the
    # jitter it measured (p99 6.3 ms against 3.8 ms in SCHED_FIFO, the
    # same vagentd), and the search would have judged the load generator.
    sched = "fifo" if caller_rt() else "other"
    best, limited, workers, emu_sched = 0, None, "normal", "normal"
    for n in search:
        votes, why = [], []
        while votes.count(True) < 2 and votes.count(False) < 2:
            ok, lim, workers, emu_sched = capacity_probe(run, stack, n, workers_rt, sched,
                                                         len(votes) + 1)
            votes.append(ok)
            why.append(lim)
        if votes.count(True) < 2:
            limited = next((w for w in why if w), None)
            break
        best = n
    emit(bench="capacity", stack=stack, calls=best, rule="caller", caller_sched=sched,
         workers=workers, emu_sched=emu_sched,
         what="every turn answered, no errors, turn p99 at the caller <= emulated + %d ms, "
              "caller jitter p99 < 5 ms; each step the majority of up to three runs"
              % CALLER_MARGIN_MS,
         limited_by=limited or "vagentd or the machine")


def twilio_run(stack_tmp, n):
    """A local-stack run with the calls placed over Media Streams."""
    import subprocess
    d, emus, wav = agent_stack(stack_tmp, n, "local", twilio=True)
    try:
        cost = Cost(d.proc.pid, {k: e.proc.pid for k, e in emus.items()}).start()
        r = subprocess.run([os.path.join(BUILD, "vagent-emu"), "twilio", "--url",
                            "ws://%s/twilio" % d.settings["twilio"]["listen"], "--calls", str(n),
                            "--stagger-ms", "20", "--wav", wav, "--hold-ms", "0",
                            "--voice-rms", str(VAD_RMS)],
                           capture_output=True, text=True, timeout=600)
        res = json.loads(r.stdout)
        res["cost"] = cost.stop()	# the dialer is the reaped child: the caller's share
        res["machine_busy_s"] = cost.machine_busy
        res["machine_split"] = cost.split
        res["pss_kb"] = cost.pss_max
        res["emu_thread_share"] = max(cost.busiest.values())
        # The dialer streams the whole script then stops (hold 0): each
        # completed call was connected for the script's length.
        import wave
        with wave.open(wav) as w:
            script_ms = w.getnframes() * 1000.0 / w.getframerate()
        res["results"] = [{"duration_ms": script_ms}] * res["completed"]
        lat = json.loads(d.ctl("latency", "-j").stdout)
    finally:
        d.stop()
        for e in emus.values():
            e.stop()
    res["emu_counts"] = emu_counts(emus)
    return res, lat


def bench_twilio(tmp, counts):
    for n in counts:
        sub = os.path.join(tmp, "twilio-%d" % n)
        os.makedirs(sub)
        res, lat = twilio_run(sub, n)
        errors = n - res["completed"]
        emit(bench="turn_latency", stack="twilio", calls=n, turns=res["turns"],
             p50_ms=round(res["turn_p50_ms"], 1), p99_ms=round(res["turn_p99_ms"], 1),
             max_ms=round(res["turn_max_ms"], 1), errors=errors, gaps=res["gaps"],
             gap_ms=res["gap_ms"], where="at the emulated Twilio, on arrival; gaps: its "
             "speaker ran dry inside a reply")
        ov = lat["overhead"]
        emit(bench="overhead", stack="twilio", calls=n, p50_ms=ov["p50_us"] / 1000,
             p99_ms=ov["p99_us"] / 1000, turns=ov["count"],
             what="vagent's own hops in each turn (histogram bucket upper edges)")
        if res["results"]:
            emit_cost("twilio", n, res)


def bench_jitter_busy(tmp, n, seconds):
    """Jitter at the caller with one CPU-bound process at nice 0 per core, as
    when Asterisk shares the box and is busy; workers in the normal class
    (the default) and with [vagentd] realtime = yes."""
    import subprocess
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)]
    wav = os.path.join(tmp, "jitter-busy.wav")
    make_wav(wav, seconds=seconds)
    try:
        for rt in ("no", "yes"):
            d = daemon(tmp, "jitter-busy-" + rt, n + 8, n + 4, realtime=rt)
            try:
                p = start_caller(d.port, "-n", str(n), "-w", wav)
                try:	# the PBX's side at RR, as Asterisk runs with -p: what is left is ours
                    os.sched_setscheduler(p.pid, os.SCHED_RR, os.sched_param(2))
                    caller = "SCHED_RR"
                except OSError:
                    caller = "normal"
                res = finish_caller(p, timeout=seconds * 4 + 60)
                emit(bench="jitter_busy", calls=n, hogs=len(hogs), realtime=rt, caller=caller,
                     completed=res["completed"], frames=res["jitter_samples"],
                     p50_ms=res["jitter_p50_ms"], p99_ms=res["jitter_p99_ms"],
                     max_ms=res["jitter_max_ms"])
            finally:
                d.stop()
        sub = os.path.join(tmp, "jitter-busy-quiet")
        os.makedirs(sub)
        res, _ = stack_run(sub, "quiet", n, rt=True)
        emit(bench="jitter_busy", stack="quiet", calls=n, hogs=len(hogs),
             caller="SCHED_FIFO" if caller_rt() else "normal", turns=res["turns"],
             errors=res["errors"], frames=res["jitter_samples"], p50_ms=res["jitter_p50_ms"],
             p99_ms=res["jitter_p99_ms"], late_p99_ms=res["jitter_late_p99_ms"],
             max_ms=res["jitter_max_ms"], turn_p99_ms=round(res["turn_p99_ms"], 1))
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def bench_wake_floor():
    """The host's price of the pacer's wake-ups alone: cost's CPU per
    call-minute cannot go below the processes' figure, whatever a call
    does on its wake-ups."""
    import subprocess
    for n in (50, 200):
        for kind in ("processes", "threads"):
            r = subprocess.run([os.path.join(BUILD, "vagent-wakefloor"), "-n", str(n), "-s", "5"] +
                               (["-t"] if kind == "threads" else []),
                               capture_output=True, text=True, timeout=120, check=True)
            res = json.loads(r.stdout)
            emit(bench="wake_floor", tasks=n, kind=kind, us_per_wake=res["us_per_wake"],
                 ms_per_call_min=res["ms_per_call_min"])


def bench_emu_load(tmp, counts):
    """The emulators alone (emu_load.py) at counts vagentd cannot reach on
    this box: what they would cost, and whether their delays hold, were
    vagentd to carry that many calls."""
    import wave
    import emu_load
    from agent_harness import caller_wav
    emu_load.raise_fd_limit()	# before the emulators start: they inherit it
    wav = os.path.join(tmp, "emu-load.wav")
    caller_wav(wav, CALLER_PARTS)
    with wave.open(wav) as w:
        pcm = w.readframes(w.getnframes())
    delays = STACKS["local"]
    for n in counts:
        e = bench_emulators(os.path.join(tmp, "emu-load-%d" % n), "local")
        try:
            res = emu_load.run(e.ports, e.proc.pid, n, pcm, VAD_RMS, ENDPOINTING_MS)
        finally:
            e.stop()
        # A driver near a core, or late with its own sends, stretched the
        # tails it timed; the emulators' CPU and the turns still count.
        limited = (res["driver_cpu_share"] / res["driver_procs"] > 0.8 or
                   res["driver_lag_p99_ms"] > 20)
        emit(bench="emu_load", stack="local", **res,
             stt_expect_ms=ENDPOINTING_MS + delays["stt_final_ms"],
             ttft_expect_ms=delays["ttft_ms"], ttfb_expect_ms=delays["tts_ttfb_ms"],
             limited_by="driver" if limited else None,
             what="stages as a worker times them; stt: speech end to speech_final, with "
                  "the wait for the utterance's last 100 ms message")


def thread_schedstat(pid):
    """tid -> (comm, run ns, wait ns, timeslices) of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                run, wait, slices = (int(x) for x in f.read().split())
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
        except OSError:
            continue
        out[tid] = (comm, run, wait, slices)
    return out


def count_syscalls(pids, seconds):
    """perf stat of pids' system calls and switches for seconds, started now;
    None where perf or its tracepoints are not allowed."""
    import shutil
    import subprocess
    if not shutil.which("perf"):
        return None
    return subprocess.Popen(["perf", "stat", "-x,", "-e",
                             "raw_syscalls:sys_enter,context-switches,task-clock",
                             "-p", ",".join(str(p) for p in pids), "--", "sleep", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def emit_syscalls(counter, calls, seconds):
    """Per call-second over every call's worker: counts, not times, so two
    builds compare without this host's ±10 % noise."""
    if counter is None:
        return
    vals = {}
    for line in counter.communicate()[1].splitlines():
        f = line.split(",")
        if len(f) > 3 and f[0].replace(".", "", 1).isdigit():
            vals[f[2]] = float(f[0])
    if counter.returncode or "raw_syscalls:sys_enter" not in vals:
        return
    k = calls * seconds
    emit(bench="profile", what="calls", calls=calls,
         syscalls_per_call_s=round(vals["raw_syscalls:sys_enter"] / k, 1),
         ctxsw_per_call_s=round(vals.get("context-switches", 0) / k, 1),
         cpu_ms_per_call_s=round(vals.get("task-clock", 0) / k, 3))


def bench_profile(tmp, n, seconds):
    """Where a worker's time goes in a local-engine call, with n calls up:
    system calls and switches per call-second over every call's worker (perf
    stat), per thread CPU and wake-ups of one from /proc/<pid>/task/*/schedstat,
    then its hottest symbols from perf (Debian's linux-perf) or, without perf,
    its system calls from strace -c."""
    import shutil
    import subprocess
    import time
    d, emus, wav = agent_stack(tmp, n)
    try:
        p = start_caller(d.port, "-n", str(n), "-s", "20", "-w", wav, "-V", str(VAD_RMS))
        call = wait_for(lambda: [c for c in d.calls() if c["frames_in"] >= 150],
                        60, "a call three seconds in")[0]
        pid = call["pid"]
        workers = [c["pid"] for c in d.calls()]
        counter = count_syscalls(workers, seconds)
        a = thread_schedstat(pid)
        time.sleep(seconds)
        b = thread_schedstat(pid)
        emit_syscalls(counter, len(workers), seconds)
        for tid, (comm, run, wait, slices) in sorted(b.items()):
            r0, w0, s0 = a.get(tid, (comm, 0, 0, 0))[1:]
            emit(bench="profile", what="thread", comm=comm, tid=int(tid),
                 cpu_ms_per_s=round((run - r0) / 1e6 / seconds, 2),
                 wait_ms_per_s=round((wait - w0) / 1e6 / seconds, 2),
                 wakeups_per_s=round((slices - s0) / seconds, 1))
        if shutil.which("perf"):
            data = os.path.join(tmp, "worker.perf")
            r = subprocess.run(["perf", "record", "-q", "-F", "2000", "-g", "-p", str(pid),
                                "-o", data, "--", "sleep", str(seconds)],
                               capture_output=True, text=True)
            if r.returncode == 0:
                rep = subprocess.run(["perf", "report", "-i", data, "--no-children",
                                      "--sort", "dso,sym", "--percent-limit", "1",
                                      "--stdio", "-g", "none"],
                                     capture_output=True, text=True).stdout
                for line in rep.splitlines():
                    f = line.split()
                    if len(f) >= 4 and f[0].endswith("%"):
                        emit(bench="profile", what="symbol", percent=float(f[0][:-1]),
                             dso=f[1], symbol=" ".join(f[3:]))
                finish_caller(p, timeout=600)
                return
        r = subprocess.run(["timeout", "-s", "INT", str(seconds), "strace", "-c", "-f", "-p",
                            str(pid)], capture_output=True, text=True,
                           timeout=seconds + 30) if shutil.which("strace") else None
        if r is not None:
            print(r.stderr, file=sys.stderr)
        finish_caller(p, timeout=600)
    finally:
        d.stop()
        for e in emus.values():
            e.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated: handoff,jitter,busy,memory,writer,api,"
                                   "floor,emu,local,quiet,v1,cloud,twilio (local, quiet, v1, cloud, "
                                   "twilio: the agent stacks; quiet: local with [call] "
                                   "send_silence = no)")
    ap.add_argument("--local-calls", type=lambda v: [int(x) for x in v.split(",") if x],
                    default=[1, 50, 100, 200],
                    help="concurrent calls for turn latency, for each agent stack")
    ap.add_argument("--twilio-calls", type=lambda v: [int(x) for x in v.split(",") if x],
                    default=[1, 50, 200], help="concurrent Media Streams calls")
    ap.add_argument("--capacity", type=lambda v: [int(x) for x in v.split(",") if x],
                    default=[40, 60, 80, 100, 120, 140, 160, 200, 250, 300],
                    help="capacity search steps (it stops at the first that fails)")
    ap.add_argument("--emu-calls", type=lambda v: [int(x) for x in v.split(",") if x],
                    default=[100, 500, 1000], help="emulated calls for the emulators alone")
    ap.add_argument("--seconds", type=int, default=10, help="audio per jitter call")
    ap.add_argument("--rounds", type=int, default=10, help="handoff rounds of 100 calls")
    ap.add_argument("--profile", type=int, metavar="CALLS",
                    help="only profile one worker of a local-engine call with CALLS calls up")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else {"handoff", "jitter", "busy", "memory",
                                                        "writer", "api", "floor", "emu",
                                                        "local", "quiet", "v1", "cloud",
                                                        "twilio"}
    import atexit
    import shutil
    atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in RUN_DIRS])
    with tempfile.TemporaryDirectory(prefix="vagent-bench-") as tmp:
        if args.profile:
            bench_profile(tmp, args.profile, 8)
            return
        if "handoff" in only:
            bench_handoff(tmp, args.rounds)
        if "jitter" in only:
            bench_jitter(tmp, [1, 50, 200], args.seconds)
        if "busy" in only:
            bench_jitter_busy(tmp, 50, args.seconds)
        if "memory" in only:
            bench_memory(tmp)
        if "writer" in only:
            bench_writer(tmp)
        if "api" in only:
            bench_api(tmp)
        if "floor" in only:
            bench_wake_floor()
        if "emu" in only:
            bench_emu_load(tmp, args.emu_calls)
        for stack in ("local", "quiet"):
            if stack in only:
                bench_stack(tmp, stack, args.local_calls, args.capacity)
        for stack in ("v1", "cloud"):
            if stack in only:
                bench_stack(tmp, stack, args.local_calls)
        if "twilio" in only:
            bench_twilio(tmp, args.twilio_calls)


if __name__ == "__main__":
    main()
