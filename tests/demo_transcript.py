#!/usr/bin/env python3
"""Prints a call's transcript from its calls row (tab-separated on stdin:
outcome, turn_count, barge_ins, latency JSON, transcript JSON), with each
answered turn's latency: the caller's end of speech to the agent's first
audio frame."""
import json
import sys


def main():
    outcome, turns, barge, lat, tr = sys.stdin.read().rstrip("\n").split("\t")
    latencies = json.loads(lat).get("turns_ms", [])
    k, prev = 0, None
    for t in json.loads(tr):
        extra = ""
        if t["role"] == "agent" and prev == "caller" and k < len(latencies):
            extra = "   [turn %d ms]" % latencies[k]
            k += 1
        print("  %6.1f s  %-6s %s%s" % (t["t_ms"] / 1000.0, t["role"], t["text"], extra))
        prev = t["role"]
    print("  outcome %s, %s answered turns, %s barge-ins" % (outcome, turns, barge))


if __name__ == "__main__":
    main()
