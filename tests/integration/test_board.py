"""The dispatch board over HTTP (the browser's view is test_board_browser.py):
nothing answers without the key or a session, the login cookie's flags, the
page's security headers, the files served and nothing else, the live stream."""
import json

import pytest

from api_harness import KEY, SEED_BOOKING, call
from board_harness import HOSTILE, EventStream, login, origin, request
from harness import wait_for
from test_api import api  # noqa: F401  (the fixture: an api on the example DIDs)


def book(d, fields=SEED_BOOKING):
    st, j = call(d, "POST", "/api/voice-agent/create_booking", fields)
    assert st == 200 and j["success"], j
    return wait_for(lambda: d.db.sql("SELECT id FROM ai_agent_bookings WHERE booking_ref=%s",
                                     (j["booking_ref"],)), 20, "the booking in MariaDB")[0][0]


@pytest.mark.parametrize("method,path", [
    ("GET", "/board/board.js"), ("GET", "/api/bookings"), ("GET", "/api/bookings/1"),
    ("GET", "/api/bookings/events"), ("POST", "/api/bookings/1/dispatch"),
    ("GET", "/healthz"), ("GET", "/metrics"),
    ("POST", "/api/voice-agent/create_booking"), ("POST", "/api/voice-agent/did_context")])
def test_nothing_answers_without_the_key_or_a_session(api, method, path):
    forged = "vagent_session=" + "0" * 64
    for headers in ({}, {"Cookie": forged}, {"X-API-Key": "wrong-key-0123456789"}):
        st, _, body = request(api, method, path, b"{}" if method == "POST" else None,
                              dict(headers, **{"Content-Type": "application/json"}))
        assert st == 401, (path, headers, st, body)
        assert b"booking" not in body.lower() or b"error" in body


def test_the_page_without_a_session_sends_the_browser_to_the_login_form(api):
    st, h, body = request(api, "GET", "/board")
    assert st == 303 and h["location"] == ["/board/login"] and b"<table" not in body
    st, h, body = request(api, "GET", "/board/login")
    assert st == 200 and h["content-type"][0].startswith("text/html")
    assert b'name="key"' in body and b'method="post"' in body
    assert "set-cookie" not in h


@pytest.mark.parametrize("key", ["wrong-key-0123456789", "", KEY + "x", KEY[:-1]])
def test_a_bad_login_gets_401_and_no_cookie(api, key):
    st, h, cookie = login(api, key)
    assert st == 401 and cookie is None


def test_a_login_from_another_site_is_refused(api):
    st, h, cookie = login(api, headers={"Origin": "http://evil.example"})
    assert st == 403 and cookie is None


def test_login_cookie_flags_and_the_session_opens_the_board(api):
    st, h, cookie = login(api)
    assert st == 303 and h["location"] == ["/board"]
    flags = [f.strip() for f in h["set-cookie"][0].split(";")]
    assert flags[0].startswith("vagent_session=") and len(flags[0]) == len("vagent_session=") + 64
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(flags)
    assert "Secure" not in flags, "plain http: a Secure cookie would never come back"
    assert KEY not in h["set-cookie"][0] and KEY not in h["location"][0]
    st, h, body = request(api, "GET", "/board", headers={"Cookie": cookie})
    assert st == 200 and h["content-type"] == ["text/html; charset=utf-8"]
    csp = h["content-security-policy"][0]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert h["x-content-type-options"] == ["nosniff"] and h["x-frame-options"] == ["DENY"]
    assert b"<script src=\"/board/board.js\"" in body and b"<script>" not in body
    st, h, body = request(api, "GET", "/board/board.js", headers={"Cookie": cookie})
    assert st == 200 and h["content-type"] == ["text/javascript; charset=utf-8"]
    assert b"textContent" in body and b"innerHTML" not in body
    st, h, _ = request(api, "GET", "/board/board.css")
    assert st == 200 and h["content-type"] == ["text/css; charset=utf-8"]
    st, h, body = request(api, "GET", "/api/bookings", headers={"Cookie": cookie})
    assert st == 200 and json.loads(body)["bookings"] == []


def test_behind_tls_the_cookie_is_secure(api):
    """A TLS-terminating proxy passes Host on; the browser's Origin says https."""
    host = "board.example:443"
    st, h, cookie = login(api, headers={"Host": host, "Origin": "https://" + host})
    assert st == 303 and "Secure" in [f.strip() for f in h["set-cookie"][0].split(";")]


def test_a_session_dispatches_only_from_the_board_and_ends_at_logout(api):
    bid = book(api)
    _, _, cookie = login(api)
    path = "/api/bookings/%d/dispatch" % bid
    body = json.dumps({"notes": "John, 14:30"})
    # Another site's form, or a request without an Origin: refused.
    for extra in ({"Origin": "http://evil.example", "Content-Type": "application/json"},
                  {"Content-Type": "application/json"},
                  {"Origin": origin(api), "Content-Type": "application/x-www-form-urlencoded"},
                  {"Origin": origin(api), "Content-Type": "text/plain"}):
        st, _, _ = request(api, "POST", path, body, dict(extra, Cookie=cookie,
                                                            Host="127.0.0.1:%d" % api.api_port))
        assert st == 403, extra
    assert api.db.sql("SELECT dispatched FROM ai_agent_bookings WHERE id=%s", (bid,)) == [(0,)]
    st, _, out = request(api, "POST", path, body, {
        "Cookie": cookie, "Origin": origin(api), "Host": "127.0.0.1:%d" % api.api_port,
        "Content-Type": "application/json"})
    assert st == 200 and json.loads(out)["dispatched"] is True
    assert api.db.sql("SELECT dispatched, notes FROM ai_agent_bookings WHERE id=%s",
                      (bid,)) == [(1, "John, 14:30")]
    st, h, _ = request(api, "POST", "/board/logout", "", {
        "Cookie": cookie, "Origin": origin(api), "Host": "127.0.0.1:%d" % api.api_port})
    assert st == 303 and "Max-Age=0" in h["set-cookie"][0]
    assert request(api, "GET", "/api/bookings", headers={"Cookie": cookie})[0] == 401
    assert request(api, "GET", "/board", headers={"Cookie": cookie})[0] == 303


@pytest.mark.parametrize("path", [
    "/board/../etc/passwd", "/board/%2e%2e/%2e%2e/etc/passwd", "/board/board.js/../../x",
    "/board/..%2fboard.html", "/board//board.css", "/board/www/board.html", "/board/board.html",
    "/board/api_www.S", "/board/board.js%00.css", "/../../../../etc/passwd"])
def test_a_path_traversal_attempt_gets_404(api, path):
    _, _, cookie = login(api)
    st, _, body = request(api, "GET", path, headers={"Cookie": cookie, "X-API-Key": KEY})
    assert st == 404 and b"root:" not in body


def test_one_booking_with_its_details_and_filters(api):
    a = book(api)
    b = book(api, dict(SEED_BOOKING, did_number="442071234567", company_name="Sparks Ltd",
                       trade_type="electrical"))
    st, j = call(api, "GET", "/api/bookings/%d" % a)
    assert st == 200 and j["booking"]["customer_name"] == "Ahmed Lekan"
    assert j["booking"]["transcript"] is None, "no call, no transcript"
    assert call(api, "GET", "/api/bookings/999999")[0] == 404
    ids = lambda q: [x["id"] for x in call(api, "GET", "/api/bookings?" + q)[1]["bookings"]]
    assert ids("did=442071234567") == [b]
    assert ids("company=Acme%20Plumbing") == [a]
    assert ids("today_or_open=1") == [b, a]
    call(api, "POST", "/api/bookings/%d/dispatch" % a, {"notes": "x"})
    api.db.sql("UPDATE ai_agent_bookings SET created_at = created_at - INTERVAL 3 DAY "
               "WHERE id IN (%s, %s)", (a, b))
    assert ids("today_or_open=1") == [b], "an old dispatched booking leaves the board"
    assert call(api, "GET", "/api/bookings?today_or_open=2")[0] == 400


def test_the_stream_brings_each_new_booking_to_every_board_once(api):
    _, _, cookie = login(api)
    streams = [EventStream(api, {"Cookie": cookie}) for _ in range(3)]
    streams.append(EventStream(api, {"X-API-Key": KEY}))
    try:
        for s in streams:
            assert s.status == 200 and "text/event-stream" in s.head
            assert s.wait(lambda e: e[0] == "hello")[0][1] == {"after": 0}
        bid = book(api, HOSTILE)
        for s in streams:
            got = s.wait(lambda e: e[0] == "booking" and e[1]["id"] == bid)
            assert len(got) == 1
            assert got[0][1]["customer_name"] == HOSTILE["customer_name"], "data, unescaped JSON"
        call(api, "POST", "/api/bookings/%d/dispatch" % bid, {"notes": "<b>n</b>"})
        for s in streams:
            d = s.wait(lambda e: e[0] == "dispatched")[0][1]
            assert d["id"] == bid and d["notes"] == "<b>n</b>" and d["dispatched"] is True
    finally:
        for s in streams:
            s.close()
    # The api forgets the boards that went: a new one still gets its events.
    s = EventStream(api, {"Cookie": cookie})
    try:
        assert s.wait(lambda e: e[0] == "hello")[0][1] == {"after": bid}
        bid2 = book(api)
        assert s.wait(lambda e: e[0] == "booking" and e[1]["id"] == bid2)
        assert not [e for e in s.events() if e[0] == "booking" and e[1]["id"] == bid]
    finally:
        s.close()


def test_only_the_exact_session_cookie_opens_the_board(api):
    _, _, cookie = login(api)
    token = cookie.split("=", 1)[1]
    ok = lambda c: request(api, "GET", "/api/bookings", headers={"Cookie": c})[0] == 200
    assert ok("theme=dark; " + cookie + "; lang=en"), "among other cookies"
    for bad in (cookie + "0", cookie[:-1], "vagent_session=" + token.upper(),
                "x" + cookie, "vagent_session= " + token, "vagent_session=" + "0" * 64):
        assert not ok(bad), bad
    _, _, other = login(api)
    assert other != cookie and ok(other) and ok(cookie), "two logins, two sessions"
