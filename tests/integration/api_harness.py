"""Helpers for the api's tests: a vagentd with its api enabled on a database
with the example DIDs, and a small HTTP client that speaks like curl."""
import http.client
import json
import os

from harness import ROOT, free_port

KEY = "integration-test-key-0123456789"


def seed_dids(db):
    text = open(os.path.join(ROOT, "sql", "seed", "example_dids.sql")).read()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    for stmt in body.split(";"):
        if stmt.strip():
            db.sql(stmt)


def api_daemon(daemon_factory, db, tmp_path, sub="d", db_extra=None, **sections):
    """sections: more settings by section; db_extra: more [db] settings."""
    key = os.path.join(str(tmp_path), "api.key")
    if not os.path.exists(key):
        with open(key, "w") as f:
            f.write(KEY + "\n")
        os.chmod(key, 0o640)
    settings = {"vagentd": {"max_calls": "4", "min_spare": "1"},
                "api": {"enabled": "yes", "listen": "127.0.0.1:%d" % free_port(),
                        "api_key_file": key, "commit_wait_ms": "2000"}}
    if db:
        settings.update(db.settings())
    if db_extra:
        sections = dict(sections, db=db_extra)
    for k, v in sections.items():
        settings.setdefault(k, {}).update(v)
    d = daemon_factory(settings, sub=sub)
    d.api_port = int(settings["api"]["listen"].rsplit(":", 1)[1])
    from harness import wait_for
    wait_for(lambda: call(d, "GET", "/healthz")[0] in (200, 503), what="the api")
    return d


def call(d, method, path, body=None, key=KEY, headers=None, raw=None, timeout=10):
    """(status, parsed JSON or text) for one request."""
    c = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["X-API-Key"] = key
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        ctype = r.getheader("Content-Type", "")
        return r.status, (json.loads(text) if "json" in ctype else text.decode())
    finally:
        c.close()


# The seed's curl example for create_booking (section 9).
SEED_BOOKING = {
    "customer_name": "Ahmed Lekan",
    "customer_phone": "447963155448",
    "postcode": "E5 9ES",
    "address": "42 Amhurst Road",
    "problem_description": "Leaking pipe under kitchen sink",
    "trade_type": "plumbing",
    "callout_fee": 48,
    "did_number": "442039962952",
    "company_name": "Acme Plumbing",
    "is_repeat": False,
    "outcome": "booked",
}
