"""Issue 11's acceptance: forcing the local LLM emulator to fail routes the
next calls to the cloud engine, and back to the local engine once it
recovers. [call] overflow_engine = elevenlabs; the overflowed call is
bridged to the agent emulator (vagent-emu --xi-agent) and books through
its client tool, with the call's context as dynamic variables."""
import json
import time

import pytest

from api_harness import seed_dids
from agent_harness import Emulators, XiAgent, agent_daemon
from test_cloud_stack import BOOKING_ARGS
from test_degraded import (booking, call_row, overflow_settings, place_call,
                           wait_out_cooldown)

LOCAL = {"stt": ["Hello, I need a plumber."] * 8,
         "llm": [{"content": "Of course. What's the postcode?"}] * 8}
CLOUD = {"input_format": "ulaw_8000", "output_format": "ulaw_8000", "chunk_ms": 200,
         "turns": [{"say": "Hello, George The Plumber, how can I help?", "ms": 1400},
                   {"user": "I have a leaking pipe, I'm Ahmed Lekan, 42 Amhurst Road, "
                            "E5 9ES.",
                    "tool": {"name": "createBooking", "parameters": BOOKING_ARGS},
                    "say": "That's booked, the plumber will be with you within the hour.",
                    "ms": 1000, "end": True}]}


@pytest.fixture
def stack(daemon_factory, db, tmp_path):
    """A local-engine daemon whose LLM refuses (503), breaker at 2 failures
    and a 15 s cool-down (test_degraded.overflow_settings), overflowing to
    the elevenlabs engine."""
    seed_dids(db)
    emu = Emulators(tmp_path, LOCAL, "openai:refuse@503")
    agent = XiAgent(tmp_path, CLOUD)
    d = agent_daemon(daemon_factory, db, tmp_path, emu,
                     **overflow_settings("elevenlabs", elevenlabs=agent.settings()))
    d.db = db
    yield d, emu, agent
    agent.stop()
    emu.stop()


def test_llm_failing_overflows_to_the_cloud_agent_then_back(stack, tmp_path):
    d, emu, agent = stack
    local = [3.0, "Hello, I need a plumber.", 3.0]
    uids = ["5e1f0a2b-3c4d-4e5f-8a9b-00000000002%d" % i for i in range(5)]
    for uid in uids[:2]:		# two failing calls open the LLM breaker
        place_call(d, tmp_path, local, uid)
    opened = time.monotonic()	# at most this late
    assert not agent.state(), "the local calls never reached the cloud agent"
    r, _ = place_call(d, tmp_path, [3.0, "I have a leaking pipe, I'm Ahmed Lekan.", 6.0],
                      uids[2])
    assert r["outcome"] == "server_hangup", "the cloud agent ended the conversation"
    assert [call_row(d, u)[0] for u in uids[:3]] == ["local", "local", "elevenlabs"]
    assert call_row(d, uids[2])[1] == "booked"
    assert booking(d, uids[2]) == [("Ahmed Lekan", "E5 9ES", "42 Amhurst Road",
                                    "Leaking pipe under the kitchen sink", "booked",
                                    "cloud")]
    conv, = agent.state()
    assert conv["dynamic_variables"]["company_name"] == "George The Plumber"
    res, = conv["tool_results"]
    assert json.loads(res["result"])["success"] is True
    emu.restart()		# the LLM is back
    wait_out_cooldown(opened)
    for uid in uids[3:]:	# the probe, then the next call
        place_call(d, tmp_path, local, uid)
    assert [call_row(d, u)[0] for u in uids[3:]] == ["local", "local"]
    assert "degraded" not in call_row(d, uids[4])[2]
    assert len(agent.state()) == 1, "only the overflowed call went to the cloud"
    assert "overflow to elevenlabs" in d.log_text()
    assert "llm breaker half-open -> closed" in d.log_text()
