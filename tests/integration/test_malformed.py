"""A malformed frame ends that one call, with a log line naming the reason."""
import struct

import pytest

from harness import RawCall, make_wav, read_wav, run_caller, start_caller, finish_caller, wait_for

FRAME = b"\x00" * 320


def bad_audio_before_uuid(c):
    c.send(0x10, FRAME)
    return "frame kind 0x10 before the UUID"


def bad_kind(c):
    c.send_uuid()
    c.send(0x10, FRAME)
    c.send(0x42, b"x")
    return "unknown frame kind (kind 0x42"


def bad_length(c):
    c.send_uuid()
    c.send(0x10, FRAME)
    # Announces 65535 bytes, sends ten: the header alone must end the call.
    c.send_raw(b"\x10\xff\xff" + b"\x00" * 10)
    return "audio frame longer than the limit (kind 0x10, length 65535)"


def bad_second_uuid(c):
    c.send_uuid()
    c.send(0x10, FRAME)
    c.send_uuid()
    return "second UUID frame"


def bad_odd_audio(c):
    c.send_uuid()
    c.send(0x10, b"\x00" * 321)
    return "audio frame of odd length"


@pytest.mark.parametrize("case", [bad_audio_before_uuid, bad_kind, bad_length,
                                  bad_second_uuid, bad_odd_audio])
def test_malformed_frame_ends_only_that_call(daemon, tmp_path, case):
    wav = str(tmp_path / "in.wav")
    sent = make_wav(wav, seconds=3.0)
    good = start_caller(daemon.port, "-w", wav, "-r", str(tmp_path / "rec.wav"))
    wait_for(lambda: len(daemon.calls()) == 1, what="the good call to start")

    c = RawCall(daemon.port)
    reason = case(c)
    frames, eof = c.read_frames(timeout=3)
    c.close()
    assert eof, "the server kept a malformed call open"
    assert all(k in (0x00, 0x10) for k, _ in frames), "server sent a kind Asterisk rejects"
    line = daemon.wait_log(reason)
    assert line

    res = finish_caller(good)
    assert res["results"][0]["outcome"] == "completed"
    assert read_wav(str(tmp_path / "rec.wav"))[1] == sent
    st = daemon.status()
    assert st["failed_total"] == 1
    assert st["restarts_total"] == 0, "a malformed frame must not kill the worker"


def test_log_line_names_call_uuid(daemon):
    c = RawCall(daemon.port)
    bad_kind(c)
    c.read_frames(timeout=3)
    c.close()
    daemon.wait_log("call %s: ended: protocol: unknown frame kind" % c.uuid)


def test_frames_split_across_reads_and_coalesced(daemon):
    """One byte per send, then many frames in one send: the same audio comes back."""
    c = RawCall(daemon.port)
    payloads = [bytes([i]) * 320 for i in range(1, 11)]
    wire = b"\x01\x00\x10" + c.uuid.bytes
    wire += b"".join(b"\x10\x01\x40" + p for p in payloads[:5])
    for b in wire:
        c.send_raw(bytes([b]))
    c.send_raw(b"".join(b"\x10\x01\x40" + p for p in payloads[5:]))
    got = b""
    c.s.settimeout(3)
    buf = b""
    while len(got) < 3200:
        buf += c.s.recv(65536)
        while len(buf) >= 3 and len(buf) >= 3 + struct.unpack(">H", buf[1:3])[0]:
            n = struct.unpack(">H", buf[1:3])[0]
            assert buf[0] == 0x10
            got += buf[3:3 + n]
            buf = buf[3 + n:]
    c.close()
    assert got == b"".join(payloads)


def test_error_frame_from_asterisk_ends_call(daemon):
    c = RawCall(daemon.port)
    c.send_uuid()
    c.send(0x10, FRAME)
    c.send(0xFF, b"\x01")
    _, eof = c.read_frames(timeout=3)
    c.close()
    assert eof
    daemon.wait_log("Asterisk reported error 0x01")
