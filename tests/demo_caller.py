#!/usr/bin/env python3
"""Builds the demo caller's audio: sentences spoken by espeak-ng at 8 kHz,
with pauses long enough for the agent's replies, as one WAV.

usage: demo_caller.py OUT.wav [GAP_S SENTENCE]... FINAL_GAP_S
"""
import os
import subprocess
import sys
import tempfile
import wave

RATE = 8000


def speech(text, tmp):
    raw, out = os.path.join(tmp, "a.wav"), os.path.join(tmp, "b.wav")
    subprocess.run(["espeak-ng", "-v", "en-gb", "-w", raw, text], check=True)
    subprocess.run(["sox", "-V1", raw, "-r", str(RATE), "-c", "1", "-b", "16", out], check=True)
    with wave.open(out) as w:
        return w.readframes(w.getnframes())


def main():
    out, args = sys.argv[1], sys.argv[2:]
    data = bytearray()
    with tempfile.TemporaryDirectory() as tmp:
        while args:
            data += b"\0\0" * int(RATE * float(args.pop(0)))
            if args:
                data += speech(args.pop(0), tmp)
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(data))


if __name__ == "__main__":
    main()
