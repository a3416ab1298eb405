"""Twilio ConversationRelay (issue 12 item 3): Twilio dials vagentd's
[twilio] listener at /twilio/relay, hears and speaks itself, and only text
crosses. The dialog and tools are the local engine's. The Twilio side is
vagent-emu's (`vagent-emu twilio --relay`): it sends setup, then scripted
prompts, interrupts and keys, and records the text it gets and the end."""
import json

import pytest

from agent_harness import BOOKING_ARGS, LONG, LocalStacks
from harness import wait_for
from twilio_harness import CALLER, GEORGE, TOKEN, assert_booked_once, twilio_section
from twilio_harness import dial as twilio_dial


def dial(d, *args, timeout=120):
    """Runs the emulated Twilio (relay) against d; returns its JSON report."""
    return twilio_dial(d, "--relay", "--did", GEORGE, "--caller", CALLER, *args,
                       path="/twilio/relay", timeout=timeout)


@pytest.fixture
def local(daemon_factory, db, tmp_path):
    """make(llm_script, token=None, **emu_opts) -> (daemon, emulators): the
    local engine behind a Twilio listener; only the model is emulated in use."""
    stacks = LocalStacks(daemon_factory, db, tmp_path)
    yield lambda llm, token=None, **opts: stacks.make(
        {"stt": [], "llm": llm}, sections={"twilio": twilio_section(tmp_path, token)}, **opts)
    stacks.stop()


def test_a_whole_booking_call_over_conversation_relay(local):
    d, emu = local([
        {"content": "Booking that now.",
         "tool_calls": [{"name": "create_booking", "arguments": BOOKING_ARGS}]},
        {"content": "That's booked, the plumber will be with you within the hour. Bye.",
         "tool_calls": [{"name": "end_call", "arguments": {}}]}])
    r = dial(d, "--step", "prompt:I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, "
             "I'm Ahmed Lekan.", "--hold-ms", 15000)
    assert r["outcome"] == "server_closed", "the agent ends the call after its goodbye: %s" % r
    assert_booked_once(d, r["call_sid"], GEORGE, CALLER,
                       "DID and caller came from customParameters")
    # Twilio said the greeting (welcomeGreeting): the agent's replies are the model's.
    assert r["replies"] == ["Booking that now.",
                            "That's booked, the plumber will be with you within the hour. Bye."]
    assert r["texts"] > 4, "the replies came as streamed tokens, not whole"
    assert json.loads(r["handoff_data"]) == {"reason": "completed"}
    system = emu.llm_requests()[0]["messages"][0]["content"]
    assert "George The Plumber" in system
    users = [m["content"] for m in emu.llm_requests()[0]["messages"] if m["role"] == "user"]
    assert users == ["I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."]


def test_an_interrupt_cuts_the_history_to_what_was_heard(local):
    heard = "Well, our prices depend on the job, but there"
    d, emu = local([{"content": LONG}, {"content": "Sure, what is your postcode?"}])
    r = dial(d, "--step", "prompt:Tell me about your prices.",
             "--step", "interrupt:" + heard,
             "--step", "+prompt:Stop, I just need a plumber now.", "--hold-ms", 3000)
    assert r["outcome"] == "completed", r
    assert r["replies"] == [LONG, "Sure, what is your postcode?"]
    reqs = emu.llm_requests()
    assert len(reqs) == 2
    said = [m["content"] for m in reqs[1]["messages"] if m["role"] == "assistant"]
    assert said[-1] == "Well, our prices depend on the job, but there", said
    wait_for(lambda: d.db.sql("SELECT barge_ins FROM calls WHERE uuid = %s",
                              (r["call_sid"],)) == [(1,)], 20, "the call row, one barge-in")


def test_an_interrupt_while_the_reply_streams_cancels_it(local):
    d, emu = local([{"content": LONG}, {"content": "Sure, what is your postcode?"}],
                   tokens_per_s=8)
    r = dial(d, "--step", "prompt:Tell me about your prices.",
             "--step", "~interrupt:Well, our",
             "--step", "+prompt:Stop, I just need a plumber now.", "--hold-ms", 3000)
    assert r["outcome"] == "completed", r
    assert len(r["replies"]) == 2 and len(r["replies"][0]) < len(LONG), \
        "the interrupted reply's talk cycle was closed early: %s" % r["replies"]
    said = [m["content"] for m in emu.llm_requests()[1]["messages"]
            if m["role"] == "assistant"]
    # Never more than was sent before the interrupt, nor than was heard.
    assert said[-1].startswith("Well") and r["replies"][0].startswith(said[-1]), said
    assert "Well, our".startswith(said[-1]), said
    d.wait_log("barge-in (Twilio's interrupt)")


def test_a_transfer_ends_with_handoff_data(local):
    d, emu = local([{"tool_calls": [{
        "name": "transfer_to_human",
        "arguments": {"reason": "caller_asked", "summary": "Wants to talk about a quote",
                      "customer_name": "Ahmed Lekan"}}]}])
    r = dial(d, "--step", "prompt:Can I speak to a person please?", "--hold-ms", 15000)
    assert r["outcome"] == "server_closed", r
    data = json.loads(r["handoff_data"])
    assert data["reason"] == "caller_asked" and data["caller_name"] == "Ahmed Lekan", data
    assert data["did"] == GEORGE and data["cli"] == CALLER
    assert "speak to a person" in data["caller_said"]
    assert len(r["replies"]) == 1 and r["replies"][0], "the hand-off goodbye was said first"
    wait_for(lambda: d.db.sql("SELECT outcome FROM calls WHERE uuid = %s",
                              (r["call_sid"],)) == [("handoff:caller_asked",)], 20,
             "the call row")


def test_a_wrong_signature_is_refused(local):
    d, _ = local([{"content": "Hello."}], token=TOKEN)
    url = "wss://voice.example.com/twilio/relay"
    bad = dial(d, "--token", "not-the-token", "--sign-url", url, "--step", "prompt:hi")
    assert bad["outcome"] == "refused", bad
    d.wait_log("relay: upgrade refused: wrong X-Twilio-Signature")
    ms_url = dial(d, "--token", TOKEN, "--sign-url", "wss://voice.example.com/twilio",
                  "--step", "prompt:hi")
    assert ms_url["outcome"] == "refused", "the Media Streams URL's signature is not the relay's"
    good = dial(d, "--token", TOKEN, "--sign-url", url, "--step", "prompt:hi",
                "--hold-ms", 1500)
    assert good["outcome"] == "completed" and good["replies"] == ["Hello."], good
    assert d.log_text().count("started:") == 1, "only the signed call started"
