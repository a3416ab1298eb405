"""The worker's websocket server (worker/ws_server.c, issue 10: RFC 6455
spoken natively on the worker's loop) as a raw socket sees it: what
vagent-emu's libwebsockets client never sends. A malformed upgrade is
answered 400 (426 for another version), a good one 101 with the right
accept; pings are answered, fragments joined (a start in pieces starts the
call), an unmasked client frame closes with 1002, a message over 4 MiB
with 1009 before its bytes come, a peer's close is echoed with its code,
and the call's end is a normal close."""
import base64
import json
import os
import socket
import struct

import pytest

from harness import free_port, wait_for

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="	# RFC 6455 1.3


@pytest.fixture
def d(daemon_factory):
    return daemon_factory({"twilio": {"listen": "127.0.0.1:%d" % free_port()}})


def connect(d):
    host, port = d.settings["twilio"]["listen"].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def request(version="13", key=KEY, path="/twilio"):
    head = "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" % path
    if key:
        head += "Sec-WebSocket-Key: %s\r\n" % key
    return (head + "Sec-WebSocket-Version: %s\r\n\r\n" % version).encode()


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = s.recv(4096)
        assert got, "closed before the response head: %r" % buf
        buf += got
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode(), rest


def upgrade(d):
    s = connect(d)
    s.sendall(request())
    head, rest = read_head(s)
    assert head.startswith("HTTP/1.1 101 "), head
    assert "Sec-WebSocket-Accept: %s" % ACCEPT in head.split("\r\n"), head
    return s, rest


def frame(op, payload=b"", fin=True, mask=True, length=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | op
    m = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return h + payload
    key = os.urandom(4)
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class Reader:
    """Server frames off s, after the bytes that came with the head."""

    def __init__(self, s, rest):
        self.s, self.buf = s, rest

    def need(self, n):
        while len(self.buf) < n:
            got = self.s.recv(65536)
            assert got, "closed mid-frame"
            self.buf += got

    def frame(self):
        self.need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "a server frame is never masked"
        n, h = b1 & 0x7f, 2
        if n == 126:
            self.need(4)
            n, h = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self.need(10)
            n, h = struct.unpack("!Q", self.buf[2:10])[0], 10
        self.need(h + n)
        payload, self.buf = self.buf[h:h + n], self.buf[h + n:]
        return b0 & 0x0f, payload

    def until(self, op):
        while True:
            got, payload = self.frame()
            if got == op:
                return payload

    def eof(self):
        return self.s.recv(1) == b"" and not self.buf


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0]


def test_malformed_upgrades_are_answered_with_a_status(d):
    s = connect(d)
    s.sendall(request(key=None))
    head, _ = read_head(s)
    assert head.startswith("HTTP/1.1 400 "), head
    assert s.recv(1) == b"", "closed after the answer"
    d.wait_log("no valid Sec-WebSocket-Key")

    s = connect(d)
    s.sendall(request(version="8"))
    head, _ = read_head(s)
    assert head.startswith("HTTP/1.1 426 ") and "Sec-WebSocket-Version: 13" in head, head
    assert s.recv(1) == b""


def test_fragments_join_pings_are_answered_and_the_end_is_a_normal_close(d):
    s, rest = upgrade(d)
    r = Reader(s, rest)
    sid, call = "MZ" + "0" * 32, "CA" + "1" * 32
    connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    start = json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": sid,
                        "start": {"accountSid": "AC", "streamSid": sid, "callSid": call,
                                  "tracks": ["inbound"], "customParameters": {},
                                  "mediaFormat": {"encoding": "audio/x-mulaw",
                                                  "sampleRate": 8000, "channels": 1}}}).encode()
    s.sendall(frame(0x1, connected.encode()))
    # The start in three pieces, a ping between them (control frames may interleave).
    s.sendall(frame(0x1, start[:10], fin=False) + frame(0x9, b"are you there") +
              frame(0x0, start[10:40], fin=False))
    assert r.until(0xA) == b"are you there"
    s.sendall(frame(0x0, start[40:]))
    d.wait_log("started:")
    media = base64.b64encode(bytes(range(160))).decode()
    for i in range(25):
        s.sendall(frame(0x1, json.dumps({"event": "media", "sequenceNumber": str(i + 2),
                                         "streamSid": sid,
                                         "media": {"track": "inbound", "chunk": str(i + 1),
                                                   "timestamp": str(i * 20),
                                                   "payload": media}}).encode()))
    s.sendall(frame(0x1, json.dumps({"event": "stop", "sequenceNumber": "30",
                                     "streamSid": sid,
                                     "stop": {"accountSid": "AC", "callSid": call}}).encode()))
    assert close_code(r.until(0x8)) == 1000, "the call's end: a normal close"
    s.sendall(frame(0x8, struct.pack("!H", 1000)))
    assert r.eof()
    d.wait_log("ended: caller hung up (Twilio stop)")


def test_protocol_errors_close_with_their_code(d):
    s, rest = upgrade(d)
    s.sendall(frame(0x1, b"{}", mask=False))
    r = Reader(s, rest)
    assert close_code(r.until(0x8)) == 1002, "an unmasked client frame"
    assert r.eof()

    s, rest = upgrade(d)
    s.sendall(frame(0x1, b"", length=5 << 20)[:14])	# the header of 5 MiB, no bytes
    r = Reader(s, rest)
    assert close_code(r.until(0x8)) == 1009, "over 4 MiB, refused from its header"
    assert r.eof()
    wait_for(lambda: d.status()["idle"] >= 2, what="the workers idle again")


def test_a_close_from_the_peer_is_echoed(d):
    s, rest = upgrade(d)
    s.sendall(frame(0x8, struct.pack("!H", 1001) + b"bye"))
    r = Reader(s, rest)
    assert close_code(r.until(0x8)) == 1001
    assert r.eof()
    d.wait_log("stream closed (bye)")
