"""The api across reloads: a reload starts a new api beside the old one,
which finishes what it has taken; bookings keep being taken throughout,
and each lands exactly once with the id its client was told."""
import http.client
import json
import threading

from api_harness import KEY, SEED_BOOKING, api_daemon, seed_dids
from harness import wait_for

PATH = "/api/voice-agent/create_booking"


class Poster(threading.Thread):
    """Posts bookings one after another until told to stop, each under its own
    Idempotency-Key, retrying a key (new connection) until it is answered 2xx.
    keep_alive: one connection for as long as the api keeps it open."""

    def __init__(self, port, name, keep_alive):
        super().__init__(daemon=True)
        self.port, self.name, self.keep_alive = port, name, keep_alive
        self.stop = threading.Event()
        self.answers = {}          # key -> (booking_ref, booking_id)
        self.retries = 0
        self.errors = []
        self.con = None

    def post(self, key, n):
        if self.con is None:
            self.con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        body = dict(SEED_BOOKING, customer_name="%s %d" % (self.name, n))
        self.con.request("POST", PATH, body=json.dumps(body),
                         headers={"X-API-Key": KEY, "Content-Type": "application/json",
                                  "Idempotency-Key": key})
        r = self.con.getresponse()
        text = r.read()
        if not self.keep_alive or r.getheader("Connection", "").lower() == "close":
            self.con.close()
            self.con = None
        return r.status, json.loads(text)

    def run(self):
        n = 0
        while not self.stop.is_set():
            key = "%s-%d" % (self.name, n)
            for _ in range(50):
                try:
                    st, j = self.post(key, n)
                except (OSError, http.client.HTTPException):
                    st, j = None, None     # the old api went mid-request: retry the key
                    if self.con:
                        self.con.close()
                    self.con = None
                if st == 200:
                    self.answers[key] = (j["booking_ref"], j["booking_id"])
                    break
                if st is not None and st != 503:
                    self.errors.append((key, st, j))
                    break
                self.retries += 1
            else:
                self.errors.append((key, "no 2xx after 50 tries"))
            n += 1

    def answered(self):
        return len(self.answers)


def test_bookings_across_reloads_land_exactly_once(daemon_factory, db, tmp_path):
    seed_dids(db)
    d = api_daemon(daemon_factory, db, tmp_path)
    posters = [Poster(d.api_port, "ka%d" % i, True) for i in range(24)] + \
              [Poster(d.api_port, "new%d" % i, False) for i in range(2)]
    for p in posters:
        p.start()
    total = lambda: sum(p.answered() for p in posters)  # noqa: E731
    try:
        for r in range(10):
            wait_for(lambda: d.status()["api_pid"] != 0, what="an api")
            before, pid = total(), d.status()["api_pid"]
            d.ctl("reload")
            if r % 2:
                d.ctl("reload")     # again while the old api still finishes
            wait_for(lambda: d.status()["api_pid"] not in (0, pid), what="the new api")
            # every poster, keep-alive ones included, gets answers after the reload
            marks = [p.answered() for p in posters]
            wait_for(lambda: all(p.answered() >= m + 3 for p, m in zip(posters, marks)),
                     30, "bookings after reload %d" % r)
            assert total() > before
    finally:
        for p in posters:
            p.stop.set()
        for p in posters:
            p.join(60)
    assert not [p.errors for p in posters if p.errors]
    answers = {k: v for p in posters for k, v in p.answers.items()}
    refs = {ref: bid for ref, bid in answers.values()}
    assert len(refs) == len(answers) > 100, "one reference per key"

    def landed():
        return db.sql("SELECT COUNT(*) FROM ai_agent_bookings")[0][0] >= len(refs)
    try:
        wait_for(landed, 20, "every booking in MariaDB")
    except AssertionError:
        pass    # the comparison below says which
    rows = db.sql("SELECT booking_ref, id FROM ai_agent_bookings")
    assert len(rows) == len({r for r, _ in rows}), "no booking twice"
    got = dict(rows)
    missing, extra = set(refs) - set(got), set(got) - set(refs)
    assert not missing and not extra, \
        "%d of %d bookings answered 2xx are missing, %d rows nobody was told of" % (
            len(missing), len(refs), len(extra))
    wrong = [(ref, bid, got[ref]) for ref, bid in refs.items() if bid is not None
             and bid != got[ref]]
    assert not wrong, "each client was told its own booking's id"
    st = d.status()
    assert st["records_dead_total"] == 0
    assert "corrupt" not in d.log_text()
