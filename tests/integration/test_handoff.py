"""Hand-off to a person (issue 13, item 4): the caller presses 0 or the
model calls transfer_to_human; the agent says the goodbye, leaves the
reason file the dialplan reads, and closes the connection once the goodbye
has played; vagentd removes the file after [handoff] lifetime. Keys other
than a first 0 reach the model as the caller's typed words."""
import json
import os
import re
import stat
import time

from agent_harness import caller_wav, context_file, speech
from harness import read_wav, start_caller, finish_caller, wait_for
from test_agent import LONG, spoken_text, stack, voiced  # noqa: F401 (stack: a fixture)

UID = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
GOODBYE = "Putting you through to someone now."
HANDOFF = {"handoff": {"lifetime": "2"}}


def call_with_keys(d, tmp_path, parts, keys, uid=UID):
    """Streams parts (as place_call does) with DTMF keys [(key, second)];
    watches the reason file while the call runs. Returns (result, sentence
    start seconds, the reason file's JSON and stat as first seen before
    the call ended, or (None, None))."""
    context_file(d, uid)
    wav = str(tmp_path / "caller.wav")
    starts = caller_wav(wav, parts)
    args = ["-u", uid, "-w", wav, "-r", str(tmp_path / "heard.wav")]
    for k, sec in keys:
        args += ["-D", "%s@%d" % (k, int(sec * 1000) // 20 * 20)]
    path = os.path.join(d.ctx_dir, "va_%s.handoff" % uid)
    p = start_caller(d.port, *args)
    seen, st = None, None
    while p.poll() is None:
        if seen is None and os.path.exists(path):
            st = os.stat(path)
            with open(path) as f:
                seen = json.loads(f.read())
        time.sleep(0.02)
    return finish_caller(p)["results"][0], starts, seen, st


def said_seconds(text):
    return len(speech(text)) / 2 / 8000


def handoff_frame(d):
    line = d.wait_log("handing the caller to a person")
    return int(re.search(r"person \([^)]*\) at outbound frame (\d+)", d.log_text()).group(1))


def check_goodbye_then_close(tmp_path, frame):
    """The goodbye is heard from the hand-off on, then the connection is
    closed by us: the recording ends shortly after the goodbye's last word."""
    rate, data = read_wav(str(tmp_path / "heard.wav"))
    fb = rate // 50 * 2
    frames = [data[i:i + fb] for i in range(0, len(data) - fb + 1, fb)]
    after = frames[frame:]
    heard = voiced(b"".join(after), rate)
    assert heard > 0.6 * said_seconds(GOODBYE), "the goodbye was heard (%.2f s)" % heard
    assert heard < said_seconds(LONG) / 2, "and not the rest of the reply (%.2f s)" % heard
    last = max(i for i, f in enumerate(after) if any(f))
    assert len(after) - 1 - last < 50, "closed within a second of the goodbye's end"


def check_file_removed(d, st, lifetime=2):
    path = os.path.join(d.ctx_dir, "va_%s.handoff" % UID)
    wait_for(lambda: not os.path.exists(path), 15, "the reason file to be removed")
    age = time.time() - st.st_mtime
    assert age >= lifetime, "removed after its lifetime, not before (%.2f s)" % age


def outcome(d, uid=UID):
    rows = wait_for(lambda: d.db.sql("SELECT outcome FROM calls WHERE uuid = %s", (uid,)),
                    20, "the call row")
    return rows[0][0]


def test_pressing_0_mid_reply_hands_off_after_the_goodbye(stack, tmp_path):
    d, emu = stack({"stt": ["Tell me about your prices."], "llm": [{"content": LONG}]},
                   sections=HANDOFF)
    sentence = "Tell me about your prices."
    # 0 pressed 3 s after the question: the long answer is being said.
    press = 5.0 + said_seconds(sentence) + 3.0
    r, starts, seen, st = call_with_keys(d, tmp_path, [5.0, sentence, 20.0], [("0", press)])
    streamed = 25.0 + said_seconds(sentence)
    assert r["outcome"] == "server_hangup", r
    assert r["duration_ms"] < (streamed - 5) * 1000, "we closed, long before the caller"
    check_goodbye_then_close(tmp_path, handoff_frame(d))
    text = spoken_text(emu)
    assert GOODBYE in text and text.index(LONG[:40]) < text.index(GOODBYE), text
    cancels = [m for m in emu.requests("cartesia") if m.get("message", {}).get("cancel")]
    assert cancels, "the reply being said was stopped"
    assert seen is not None, "the reason file was there before the connection closed"
    assert seen["reason"] == "dtmf-0" and seen["uuid"] == UID
    assert seen["did"] == "442039962952" and seen["cli"] == "447963155448"
    assert seen["company"] == "George The Plumber"
    assert "Tell me about your prices" in seen["caller_said"], seen
    assert st.st_mode & stat.S_IROTH, "readable by Asterisk, another user"
    assert stat.S_IMODE(st.st_mode) == 0o644
    with open(os.path.join(d.ctx_dir, "va_%s.handoff" % UID)) as f:
        assert f.read().count("\n") == 1, "one line of JSON"
    assert outcome(d) == "handoff:dtmf-0"
    check_file_removed(d, st)


def test_the_model_transfers_with_its_reason_and_the_details(stack, tmp_path):
    sentence = "I want to speak to a real person, I'm Ahmed Lekan in E5 9ES."
    args = {"reason": "caller_asked", "summary": "Wants a person about a leak",
            "customer_name": "Ahmed Lekan", "postcode": "E5 9ES"}
    d, emu = stack({"stt": [sentence],
                    "llm": [{"tool_calls": [{"name": "transfer_to_human", "arguments": args}]}]},
                   sections=HANDOFF)
    r, starts, seen, st = call_with_keys(d, tmp_path, [5.0, sentence, 15.0], [])
    assert r["outcome"] == "server_hangup", r
    check_goodbye_then_close(tmp_path, handoff_frame(d))
    assert GOODBYE in spoken_text(emu)
    assert seen["reason"] == "caller_asked", seen
    assert (seen["caller_name"], seen["postcode"], seen["note"]) == \
        ("Ahmed Lekan", "E5 9ES", "Wants a person about a leak")
    assert "speak to a real person" in seen["caller_said"]
    reqs = emu.llm_requests()
    assert len(reqs) == 1, "nothing more is asked of the model after the transfer"
    names = [t["function"]["name"] for t in reqs[0]["tools"]]
    assert "transfer_to_human" in names
    assert outcome(d) == "handoff:caller_asked"
    check_file_removed(d, st)


def test_keys_reach_the_model_as_typed_words(stack, tmp_path):
    """4 2 # is the caller's turn "42"; 1 0 # is "10" (a 0 after a digit is
    a digit, not a person); a lone 1 followed by a pause is "yes"."""
    d, emu = stack({"stt": [], "llm": [{"content": "Number forty two, thanks."},
                                       {"content": "Ten, got it."},
                                       {"content": "Great, that's confirmed."}]},
                   sections=HANDOFF)
    keys = [("4", 5.0), ("2", 5.3), ("#", 5.6), ("1", 10.0), ("0", 10.3), ("#", 10.6),
            ("1", 15.0)]
    r, starts, seen, st = call_with_keys(d, tmp_path, [24.0], keys)
    assert seen is None, "no hand-off"
    users = [m["content"] for q in emu.llm_requests() for m in q["messages"]
             if m["role"] == "user"]
    assert "42 (typed on the keypad)" in users
    assert "10 (typed on the keypad)" in users
    assert "yes (pressed 1)" in users
    assert "handing the caller" not in d.log_text()


def test_old_reason_files_are_removed_at_start_up(daemon_factory, tmp_path):
    d = daemon_factory({"handoff": {"lifetime": "60"}}, start=False)
    old = time.time() - 120

    def put(name, mtime, link=False):
        path = os.path.join(d.ctx_dir, name)
        if link:
            os.symlink("/etc/hostname", path)
        else:
            with open(path, "w") as f:
                f.write("{}\n")
        os.utime(path, (mtime, mtime), follow_symlinks=False)
        return path

    stale = put("va_1.handoff", old)
    fresh = put("va_2.handoff", time.time())
    ctx = put("va_3.json", old)
    link = put("va_4.handoff", old, link=True)
    d.start()
    wait_for(lambda: not os.path.exists(stale), 5, "the stale reason file to go")
    assert os.path.exists(fresh), "a file younger than its lifetime stays"
    assert os.path.exists(ctx), "the dialplan's context files are not ours to sweep"
    assert os.path.lexists(link), "a planted link is left alone"
