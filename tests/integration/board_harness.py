"""Helpers for the dispatch board's tests: log in as a browser does, read the
board's event stream, and a booking whose every free-text field is hostile."""
import http.client
import json
import socket
import urllib.parse

from api_harness import KEY, SEED_BOOKING

# Caller speech is untrusted: each field tries another way into the page.
HOSTILE = dict(SEED_BOOKING,
               customer_name='<script>window.__pwned=1</script>"Bob\' O\'Hare',
               address='<img src=x onerror="window.__pwned=2">1 "Quoted" Rd & Co',
               problem_description='</td></tr><b id="pwn">bold</b><svg onload='
                                   '"window.__pwned=3"> \'single\' "double"',
               company_name='Acme <iframe src="javascript:window.__pwned=4"></iframe>')


def request(d, method, path, body=None, headers=None):
    """(status, headers as a dict of lists, body bytes), no key sent."""
    c = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return r.status, hdrs, r.read()
    finally:
        c.close()


def origin(d):
    return "http://127.0.0.1:%d" % d.api_port


def login(d, key=KEY, headers=None):
    """(status, headers, cookie "name=value" or None)."""
    h = {"Content-Type": "application/x-www-form-urlencoded",
         "Host": "127.0.0.1:%d" % d.api_port, "Origin": origin(d)}
    h.update(headers or {})
    st, hdrs, _ = request(d, "POST", "/board/login", urllib.parse.urlencode({"key": key}), h)
    cookies = hdrs.get("set-cookie", [])
    return st, hdrs, cookies[0].split(";")[0] if cookies else None


class EventStream:
    """GET /api/bookings/events on a raw socket; events() parses what came."""

    def __init__(self, d, headers):
        self.sock = socket.create_connection(("127.0.0.1", d.api_port), timeout=10)
        lines = ["GET /api/bookings/events HTTP/1.1", "Host: 127.0.0.1:%d" % d.api_port]
        lines += ["%s: %s" % kv for kv in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])
        self.head = head.decode()

    def _read(self, timeout=10):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the stream closed")
        self.buf += data

    def events(self):
        """[(event, data)] in the bytes so far (chunk sizes ignored)."""
        out = []
        text = self.buf.decode(errors="replace").replace("\r\n", "\n")
        for block in text.split("\n\n"):
            ev = data = None
            for line in block.split("\n"):
                if line.startswith("event: "):
                    ev = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
            if ev:
                out.append((ev, data))
        return out

    def wait(self, pred, timeout=15):
        import time
        end = time.monotonic() + timeout
        while True:
            hit = [e for e in self.events() if pred(e)]
            if hit:
                return hit
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no such event within %s s: %r" % (timeout, self.events()))
            try:
                self._read(timeout=left)
            except socket.timeout:
                pass

    def close(self):
        self.sock.close()
