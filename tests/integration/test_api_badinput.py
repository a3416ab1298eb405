"""A barrage of bad requests: only 4xx JSON answers, one log line each, the
api stays up, and not one row is written."""
import copy
import json
import random

from api_harness import SEED_BOOKING, api_daemon, call, seed_dids

REQUIRED = ["customer_name", "customer_phone", "postcode", "address", "problem_description",
            "trade_type"]
SQL = ["'; DROP TABLE ai_agent_bookings; --", "\" OR 1=1 --", "1); DELETE FROM calls; #",
       "\\'; SELECT SLEEP(5); --"]
WRONG_TYPES = [0, 1.5, -7, True, False, [], ["x"], {}, {"a": 1}]


def bodies():
    """(path, raw body) pairs, every one of them wrong in some way."""
    rng = random.Random(20261122)
    out = []
    book = "/api/voice-agent/create_booking"
    ctx = "/api/voice-agent/did_context"

    def b(change=None, drop=None):
        d = copy.deepcopy(SEED_BOOKING)
        d.update(change or {})
        for k in drop or []:
            d.pop(k, None)
        return json.dumps(d)

    for f in REQUIRED:                                   # missing, empty, wrong types
        out.append((book, b(drop=[f])))
        out.append((book, b({f: ""})))
        out.append((book, b({f: "   "})))
        out += [(book, b({f: v})) for v in WRONG_TYPES]
    for f in ("callout_fee", "is_repeat", "did_number", "company_name", "outcome", "source"):
        out += [(book, b({f: v})) for v in (["x"], {"a": 1}, "not-a-valid-value-" * 3)
                if not (f in ("did_number", "company_name") and isinstance(v, str))]
    for f, n in (("customer_name", 256), ("address", 501), ("problem_description", 4001),
                 ("postcode", 11), ("customer_phone", 31), ("trade_type", 21)):
        out.append((book, b({f: "x" * n})))              # longer than the column
        out.append((book, b({f: "\u00e9" * n})))         # in characters, not bytes
    out.append((book, b({"address": "x" * 40000})))       # over max_body: 413
    for s in SQL:                                        # metacharacters where they break a rule
        out += [(book, b({"postcode": s})), (book, b({"trade_type": s})),
                (book, b({"customer_phone": s})), (book, b({"outcome": s})),
                (ctx, json.dumps({"did_number": s, "caller_id": s}))]
    junk = ["", "null", "true", "42", '"str"', "[]", "[{}]", "{", "}", "{\"a\":}", "{'a': 1}",
            "{\"a\":1,\"a\":2}", "\x00\x01\x02", "[" * 5000 + "]" * 5000,
            "{\"a\":" * 3000 + "1" + "}" * 3000, json.dumps({"customer_name": {"$gt": ""}})]
    for j in junk:
        out += [(book, j), (ctx, j)]
    for _ in range(20):                                  # invalid UTF-8 in a field
        raw = b({"customer_name": "NAME"}).encode()
        bad = bytes(rng.choice([0xC0, 0xFF, 0xFE, 0xED, 0x80]) for _ in range(3))
        out.append((book, raw.replace(b"NAME", b"A" + bad)))
    for _ in range(30):                                  # random bytes
        out.append((rng.choice([book, ctx]), bytes(rng.randrange(256) for _ in
                                                   range(rng.randrange(1, 200)))))
    for v in WRONG_TYPES + [None, "", "abc"]:
        out.append((ctx, json.dumps({"did_number": v, "caller_id": "447700900123"})))
    return out


def test_bad_input_barrage(daemon_factory, db, tmp_path):
    seed_dids(db)
    d = api_daemon(daemon_factory, db, tmp_path)
    api_pid = d.status().get("api_pid")
    cases = bodies()
    assert len(cases) >= 200
    log_before = d.log_text().count(" warn api: ")
    for path, raw in cases:
        st, j = call(d, "POST", path, raw=raw)
        assert 400 <= st < 500, (path, raw[:80], st, j)
        assert isinstance(j, dict) and isinstance(j.get("error"), str), (path, raw[:80], j)
    assert call(d, "GET", "/healthz")[0] == 200, "the api is still up"
    assert d.status().get("api_pid") == api_pid, "and it is the same process"
    assert db.sql("SELECT COUNT(*) FROM ai_agent_bookings")[0][0] == 0
    assert db.sql("SELECT COUNT(*) FROM did_company_map")[0][0] == 4, "tables untouched"
    assert d.status()["records_journaled_total"] == 0, "nothing reached the writer"
    from harness import wait_for
    wait_for(lambda: d.log_text().count(" warn api: ") - log_before >= len(cases),
             what="one log line per rejection")
