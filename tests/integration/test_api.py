"""The shared HTTP api: the seed's webhooks answered field for field, the
dispatch board, and every error a client can cause."""
import socket
import time

import pytest

from api_harness import KEY, SEED_BOOKING, api_daemon, call, seed_dids
from harness import wait_for


@pytest.fixture
def api(daemon_factory, db, tmp_path):
    seed_dids(db)
    d = api_daemon(daemon_factory, db, tmp_path)
    d.db = db
    return d


@pytest.mark.parametrize("path", ["/api/voice-agent/did_context.php",
                                  "/api/voice-agent/did_context"])
def test_did_context_as_the_seed_example(api, path):
    st, j = call(api, "POST", path, {"did_number": "442039962952", "caller_id": "447963155448"})
    assert st == 200
    assert list(j) == ["company_name", "trade_type", "trade_label", "callout_fee", "area",
                       "is_repeat", "did_number", "caller_id", "greeting"]
    assert j["company_name"] == "George The Plumber"
    assert j["trade_type"] == "plumbing" and j["trade_label"] == "plumber"
    assert j["callout_fee"] == 48 and isinstance(j["callout_fee"], int)
    assert j["area"] == "London" and j["is_repeat"] is False
    assert j["did_number"] == "442039962952" and j["caller_id"] == "447963155448"
    assert j["greeting"] in ["Hello, good %s. How can I help you?" % t
                             for t in ("morning", "afternoon", "evening")]


@pytest.mark.parametrize("did,trade,label", [("442071234567", "electrical", "electrician"),
                                             ("441211234567", "drainage", "drainage engineer"),
                                             ("443001234567", "locksmith", "locksmith")])
def test_trade_labels(api, did, trade, label):
    st, j = call(api, "POST", "/api/voice-agent/did_context", {"did_number": did})
    assert st == 200 and (j["trade_type"], j["trade_label"]) == (trade, label)
    assert j["caller_id"] == ""


def test_withheld_caller_id_is_no_caller_id(api):
    st, j = call(api, "POST", "/api/voice-agent/did_context",
                 {"did_number": "442039962952", "caller_id": "anonymous"})
    assert st == 200 and j["caller_id"] == "" and j["is_repeat"] is False


@pytest.mark.parametrize("cli", ["1" * 31 + "4", "1" * 31, "+44 " + "7" * 28 + " (0)"])
def test_issue_caller_id_too_long_is_no_caller_id(api, cli):
    """Regression: 31 or more digits overran the digit buffer, and stack bytes
    followed the caller ID into the reply and the repeat-caller query."""
    api.db.sql("INSERT INTO doppia_calls (phone_number, did, last_call_time, call_count) "
               "VALUES (%s, '442039962952', UTC_TIMESTAMP(), 1)", ("1" * 30,))
    st, j = call(api, "POST", "/api/voice-agent/did_context",
                 {"did_number": "442039962952", "caller_id": cli})
    assert st == 200, j
    assert j["caller_id"] == "" and j["is_repeat"] is False
    assert j["did_number"] == "442039962952" and j["company_name"] == "George The Plumber"
    st, j = call(api, "POST", "/api/voice-agent/did_context",
                 {"did_number": "44 20 0000 0000", "caller_id": cli})
    assert st == 200 and j["caller_id"] == "" and j["did_number"] == "442000000000"


def test_caller_id_of_thirty_digits_is_kept(api):
    api.db.sql("INSERT INTO doppia_calls (phone_number, did, last_call_time, call_count) "
               "VALUES (%s, '442039962952', UTC_TIMESTAMP(), 1)", ("1" * 30,))
    st, j = call(api, "POST", "/api/voice-agent/did_context",
                 {"did_number": "442039962952", "caller_id": "1" * 30})
    assert st == 200 and j["caller_id"] == "1" * 30 and j["is_repeat"] is True


def test_unknown_did_gets_the_fallback(api):
    st, j = call(api, "POST", "/api/voice-agent/did_context",
                 {"did_number": "44 (0)20 0000 0000", "caller_id": "+44 7963 155448"})
    assert st == 200
    for k, v in {"company_name": "Home Services", "trade_type": "plumbing", "callout_fee": 49,
                 "area": None, "is_repeat": False,
                 "greeting": "Hello, how can I help you?"}.items():
        assert j[k] == v, k
    assert j["did_number"] == "4402000000000" and j["caller_id"] == "447963155448"


def test_repeat_caller_within_seven_days(api):
    api.db.sql("INSERT INTO doppia_calls (phone_number, did, last_call_time, call_count) "
               "VALUES ('447700900001', '442039962952', UTC_TIMESTAMP() - INTERVAL 2 DAY, 1), "
               "('447700900002', '442039962952', UTC_TIMESTAMP() - INTERVAL 9 DAY, 3)")
    body = {"did_number": "442039962952"}
    assert call(api, "POST", "/api/voice-agent/did_context",
                dict(body, caller_id="447700900001"))[1]["is_repeat"] is True
    assert call(api, "POST", "/api/voice-agent/did_context",
                dict(body, caller_id="447700900002"))[1]["is_repeat"] is False
    assert call(api, "POST", "/api/voice-agent/did_context",
                {"did_number": "442071234567", "caller_id": "447700900001"})[1]["is_repeat"] \
        is False


def test_did_map_follows_the_table_on_reload(api):
    api.db.sql("INSERT INTO did_company_map (did, company_name, clean_name, trade_type, "
               "callout_fee) VALUES ('441000000001', 'NEW CO', 'New Co', 'locksmith', 55)")
    assert call(api, "POST", "/api/voice-agent/did_context",
                {"did_number": "441000000001"})[1]["company_name"] == "Home Services"
    api.ctl("reload")
    wait_for(lambda: call(api, "POST", "/api/voice-agent/did_context",
                          {"did_number": "441000000001"})[1]["company_name"] == "New Co",
             what="the new api with the new map")


@pytest.mark.parametrize("path", ["/api/voice-agent/create_booking.php",
                                  "/api/voice-agent/create_booking"])
def test_create_booking_as_the_seed_example(api, path):
    st, j = call(api, "POST", path, SEED_BOOKING)
    assert st == 200, j
    assert j["success"] is True and isinstance(j["booking_id"], int)
    assert j["message"] == "Booking #%d created for Ahmed Lekan at E5 9ES" % j["booking_id"]
    row = api.db.sql("SELECT customer_name, customer_phone, postcode, address, "
                     "problem_description, trade_type, callout_fee, did_number, company_name, "
                     "is_repeat, outcome, dispatched, source, booking_ref FROM "
                     "ai_agent_bookings WHERE id = %s", (j["booking_id"],))
    assert row == [("Ahmed Lekan", "447963155448", "E5 9ES", "42 Amhurst Road",
                    "Leaking pipe under kitchen sink", "plumbing", 48, "442039962952",
                    "Acme Plumbing", 0, "booked", 0, "api", j["booking_ref"])]


def test_booking_is_normalised(api):
    b = dict(SEED_BOOKING, customer_phone="+44 (0)7963-155 448", postcode="  sw1a1aa ",
             customer_name="  Jo Bloggs ", did_number="+44 20 3996 2952")
    b.pop("callout_fee")
    b.pop("outcome")
    st, j = call(api, "POST", "/api/voice-agent/create_booking", b,
                 headers={"X-Source": "cloud"})
    assert st == 200, j
    row = api.db.sql("SELECT customer_name, customer_phone, postcode, did_number, callout_fee, "
                     "outcome, source FROM ai_agent_bookings WHERE id = %s", (j["booking_id"],))
    assert row == [("Jo Bloggs", "+4407963155448", "SW1A 1AA", "442039962952", 49, "booked",
                    "cloud")]


def test_same_idempotency_key_makes_one_booking(api):
    h = {"Idempotency-Key": "call-1234-booking"}
    a = call(api, "POST", "/api/voice-agent/create_booking", SEED_BOOKING, headers=h)[1]
    b = call(api, "POST", "/api/voice-agent/create_booking", SEED_BOOKING, headers=h)[1]
    c = call(api, "POST", "/api/voice-agent/create_booking",
             dict(SEED_BOOKING, idempotency_key="call-1234-booking"))[1]
    assert a["booking_id"] == b["booking_id"] == c["booking_id"]
    assert a["booking_ref"] == b["booking_ref"]
    assert api.db.sql("SELECT COUNT(*) FROM ai_agent_bookings")[0][0] == 1


def test_booking_accepted_while_database_is_down(api, mariadb):
    mariadb.stop()
    try:
        st, j = call(api, "POST", "/api/voice-agent/create_booking", SEED_BOOKING)
        assert st == 200 and j["success"] is True
        assert j["booking_id"] is None and len(j["booking_ref"]) == 10
        assert j["message"] == "Booking %s received for Ahmed Lekan at E5 9ES" % j["booking_ref"]
        # did_context still answers from memory
        st, k = call(api, "POST", "/api/voice-agent/did_context",
                     {"did_number": "442039962952", "caller_id": "447963155448"})
        assert st == 200 and k["company_name"] == "George The Plumber"
        assert call(api, "GET", "/api/bookings")[0] == 503
        st, h = call(api, "GET", "/healthz")
        assert st == 200 and h["status"] == "degraded" and h["db_up"] is False
    finally:
        mariadb.restart()
    wait_for(lambda: api.db.sql("SELECT COUNT(*) FROM ai_agent_bookings WHERE booking_ref=%s",
                                (j["booking_ref"],))[0][0] == 1, 30, "the booking to land")


def test_booking_while_database_refuses_writes(api, mariadb):
    """read_only (a switchover, a replica promoted late): the booking is
    journaled and answered as while MariaDB is down, then lands once."""
    mariadb.sql("SET GLOBAL read_only = 1")
    try:
        st, j = call(api, "POST", "/api/voice-agent/create_booking", SEED_BOOKING)
        assert st == 200 and j["success"] is True, j
        assert j["booking_id"] is None and len(j["booking_ref"]) == 10
        assert j["message"] == "Booking %s received for Ahmed Lekan at E5 9ES" % j["booking_ref"]
        assert api.db.sql("SELECT COUNT(*) FROM ai_agent_bookings")[0][0] == 0
    finally:
        mariadb.sql("SET GLOBAL read_only = 0")
    wait_for(lambda: api.db.sql("SELECT COUNT(*) FROM ai_agent_bookings WHERE booking_ref=%s",
                                (j["booking_ref"],))[0][0] == 1, 30, "the booking to land")
    assert api.status()["records_dead_total"] == 0


def test_dispatch_workflow(api):
    ids = [call(api, "POST", "/api/voice-agent/create_booking",
                dict(SEED_BOOKING, customer_name="Customer %d" % i))[1]["booking_id"]
           for i in range(3)]
    st, j = call(api, "GET", "/api/bookings?dispatched=0")
    assert st == 200 and [b["id"] for b in j["bookings"]] == ids[::-1], "newest first"
    assert j["bookings"][0]["dispatched"] is False and j["bookings"][0]["notes"] is None
    st, r = call(api, "POST", "/api/bookings/%d/dispatch" % ids[1],
                 {"notes": "Assigned to John, ETA 14:30"})
    assert st == 200 and r == {"success": True, "booking_id": ids[1], "dispatched": True}
    assert [b["id"] for b in call(api, "GET", "/api/bookings?dispatched=0")[1]["bookings"]] == \
        [ids[2], ids[0]]
    done = call(api, "GET", "/api/bookings?dispatched=1")[1]["bookings"]
    assert [(b["id"], b["notes"]) for b in done] == [(ids[1], "Assigned to John, ETA 14:30")]
    assert done[0]["dispatched_at"]
    page = call(api, "GET", "/api/bookings?limit=2")[1]
    assert len(page["bookings"]) == 2 and page["next_offset"] == 2
    assert [b["id"] for b in call(api, "GET", "/api/bookings?limit=2&offset=2")[1]["bookings"]] \
        == [ids[0]]
    assert call(api, "POST", "/api/bookings/999999/dispatch", {"notes": "x"})[0] == 404


# --- errors -------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/voice-agent/did_context", "/api/voice-agent/create_booking",
                                  "/api/bookings", "/api/bookings/1/dispatch"])
@pytest.mark.parametrize("key", [None, "", "wrong", KEY + "x", KEY[:-1]])
def test_wrong_key_is_401(api, path, key):
    method = "GET" if path == "/api/bookings" else "POST"
    st, j = call(api, method, path, {}, key=key)
    assert st == 401 and j == {"error": "Unauthorized"}


@pytest.mark.parametrize("body,error", [
    ("not json", "Invalid JSON body"),
    ("[1,2]", "Invalid JSON body"),
    ("{}", "did_number is required"),
    ('{"did_number": ""}', "did_number is required"),
    ('{"did_number": "abc"}', "did_number must be a phone number"),
    ('{"did_number": "12"}', "did_number must be a phone number"),
    ('{"did_number": 442039962952}', "did_number and caller_id must be strings"),
    ('{"did_number": "%s"}' % ("4" * 31), "did_number must be a phone number"),
    ('{"did_number": "%s", "caller_id": "447700900123"}' % ("1" * 40),
     "did_number must be a phone number"),
])
def test_did_context_bad_bodies(api, body, error):
    st, j = call(api, "POST", "/api/voice-agent/did_context", raw=body)
    assert st == 400 and j == {"error": error}


@pytest.mark.parametrize("change,error", [
    ({"customer_name": None}, "Missing required field: customer_name"),
    ({"customer_phone": ""}, "Missing required field: customer_phone"),
    ({"customer_phone": 447963155448}, "customer_phone must be a string"),
    ({"customer_phone": "12345"}, "customer_phone must hold 7 to 15 digits"),
    ({"postcode": "12345"}, "postcode is not a valid UK postcode"),
    ({"postcode": "E5 9ESS"}, "postcode is not a valid UK postcode"),
    ({"trade_type": "roofing"}, "trade_type must be plumbing, electrical, drainage or locksmith"),
    ({"callout_fee": "48"}, "callout_fee must be a number from 0 to 100000"),
    ({"is_repeat": "no"}, "is_repeat must be true or false"),
    ({"outcome": "maybe"}, "outcome must be booked, declined, callback or cancelled"),
    ({"customer_name": "x" * 256}, "customer_name is longer than 255 characters"),
    ({"address": "a\u0007b"}, "address holds control characters"),
])
def test_create_booking_bad_fields(api, change, error):
    body = dict(SEED_BOOKING)
    for k, v in change.items():
        if v is None:
            body.pop(k)
        else:
            body[k] = v
    st, j = call(api, "POST", "/api/voice-agent/create_booking", body)
    assert st == 400 and j == {"error": error}
    assert api.db.sql("SELECT COUNT(*) FROM ai_agent_bookings")[0][0] == 0


def test_body_over_the_limit_is_413(api):
    big = dict(SEED_BOOKING, address="x" * 20000)
    st, j = call(api, "POST", "/api/voice-agent/create_booking", big)
    assert st == 413 and "error" in j


def test_unknown_path_and_method(api):
    st, j = call(api, "GET", "/nope")
    assert st == 404 and j == {"error": "not found"}
    st, j = call(api, "GET", "/api/voice-agent/create_booking")
    assert st == 405 and j == {"error": "method not allowed"}


def test_slow_half_sent_request_times_out(daemon_factory, db, tmp_path):
    d = api_daemon(daemon_factory, db, tmp_path, api={"request_timeout": "1"})
    s = socket.create_connection(("127.0.0.1", d.api_port))
    s.sendall(b"POST /api/voice-agent/did_context HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 100\r\nX-API-Key: " + KEY.encode() + b"\r\n\r\n{\"did")
    s.settimeout(10)
    t = time.monotonic()
    assert s.recv(1000) == b"", "a half-sent request is dropped"
    assert time.monotonic() - t < 8
    s.close()
    assert call(d, "GET", "/healthz")[0] == 200


def test_health_and_metrics(api):
    wait_for(lambda: call(api, "GET", "/healthz")[1]["status"] == "ok", 30,
             "the writer connected to MariaDB")
    st, h = call(api, "GET", "/healthz")
    assert st == 200 and h["status"] == "ok" and h["writer_running"] is True
    call(api, "POST", "/api/voice-agent/did_context", {"did_number": "442039962952"})
    wait_for(lambda: 'vagent_api_requests_total{endpoint="did_context",code="2xx"} 1' in
             call(api, "GET", "/metrics")[1], what="the request in metrics")
    st, text = call(api, "GET", "/metrics")
    assert st == 200 and "vagent_calls_capacity 4" in text and "vagent_db_up 1" in text
