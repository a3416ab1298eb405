"""The booking-writer under faults that are nobody's record's fault, and
under a producer that scribbles on its queue: every booking a producer was
told is journaled lands in MariaDB exactly once, nothing of it goes to the
dead-letter file, and the writer survives.

Regression tests for the issue's writer items: a hostile queue header
killed the writer forever (1); read_only, a revoked grant, a missing table
dead-lettered the whole journal (4, 6); a flipped length bit in the middle
of a segment cut every record after it (5)."""
import json
import os
import signal
import subprocess

from harness import wait_for
from test_writer import (HDR, jrecords, journal_twenty, recload, rows, start_recload,  # noqa: F401
                         writer_daemon, RECLOAD)


def dead_letters(d):
    path = os.path.join(d.settings["writer"]["journal_dir"], "dead-letter.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def finish(load, timeout=300):
    out, err = load.communicate(timeout=timeout)
    assert out.strip(), err
    return json.loads(out)


def all_landed(db, d, res, n):
    """Every booking journaled, committed once, none dead, none in dead-letter."""
    assert (res["journaled"], res["committed"], res["dead"], res["timeouts"], res["errors"]) \
        == (n, n, 0, 0, 0), res
    assert rows(db, res["tag"]) == (n, n), "exactly one row per booking"
    wait_for(lambda: d.status()["journal_backlog"] == 0, 30, "the backlog to drain")
    assert dead_letters(d) == []
    assert d.status()["records_dead_total"] == 0


def outage(d, db, start, end, producers=10, each=300):
    """Runs a load, breaks MariaDB for writes mid-way (start()), checks that
    journaling goes on with db_up 0 and nothing dead-lettered, mends it
    (end()), and checks that everything lands once. The load lasts ~9 s
    (30 ms apart): on a slow machine (sanitizers, a full suite) it must
    still be going when the writer finds the database gone."""
    load = start_recload(d, "-p", str(producers), "-n", str(each), "-i", "30",
                         "-w", "journaled", "-t", "240")
    wait_for(lambda: d.status()["records_committed_total"] >= 50, 60, "50 commits")
    start()
    wait_for(lambda: not d.status()["db_up"], 30, "db_up to say 0")
    at = d.status()["records_journaled_total"]
    wait_for(lambda: d.status()["records_journaled_total"] >= at + 150, 60,
             "journaling to go on while MariaDB refuses")
    st = d.status()
    assert not st["db_up"] and st["journal_backlog"] > 0, st
    assert st["records_dead_total"] == 0 and dead_letters(d) == [], \
        "a server-wide refusal must not dead-letter records"
    end()
    res = finish(load)
    all_landed(db, d, res, producers * each)
    wait_for(lambda: d.status()["db_up"], 30, "db_up to say 1 again")
    return res


def test_read_only_server_mid_load_keeps_every_booking(daemon_factory, db):
    d = writer_daemon(daemon_factory, db)
    try:
        outage(d, db, lambda: db.mariadb.sql("SET GLOBAL read_only = 1"),
               lambda: db.mariadb.sql("SET GLOBAL read_only = 0"))
    finally:
        db.mariadb.sql("SET GLOBAL read_only = 0")
    log = d.log_text()
    assert "error 1290" in log and "not the records' fault" in log
    # Once per outage, not once per retry (a slow machine may add a timeout).
    assert sum("error 1290" in line for line in log.splitlines()) == 1
    d.wait_log("MariaDB is up: catching up")


def test_revoked_grant_mid_load_keeps_every_booking(daemon_factory, db):
    # Table privileges apply to open sessions at once (database ones only to
    # new sessions): grant per table, so the revoke hits the writer mid-batch.
    users = ("'vagent'@'127.0.0.1'", "'vagent'@'localhost'")
    table = "`%s`.ai_agent_bookings" % db.name
    for u in users:
        db.mariadb.sql("REVOKE ALL PRIVILEGES ON `%s`.* FROM %s" % (db.name, u))
        db.mariadb.sql("GRANT SELECT ON `%s`.* TO %s" % (db.name, u))
        for t in ("ai_agent_bookings", "calls", "doppia_calls"):
            db.mariadb.sql("GRANT SELECT, INSERT, UPDATE ON `%s`.%s TO %s" % (db.name, t, u))
    d = writer_daemon(daemon_factory, db)

    def revoke():
        for u in users:
            db.mariadb.sql("REVOKE INSERT, UPDATE ON %s FROM %s" % (table, u))

    def grant():
        for u in users:
            db.mariadb.sql("GRANT SELECT, INSERT, UPDATE ON %s TO %s" % (table, u))

    try:
        outage(d, db, revoke, grant)
    finally:
        grant()
    assert "error 1142" in d.log_text()


def test_table_gone_and_back_mid_load_keeps_every_booking(daemon_factory, db):
    d = writer_daemon(daemon_factory, db)
    away = lambda: db.sql("RENAME TABLE ai_agent_bookings TO ai_agent_bookings_gone")  # noqa: E731
    back = lambda: db.sql("RENAME TABLE ai_agent_bookings_gone TO ai_agent_bookings")  # noqa: E731
    outage(d, db, away, back)
    assert "1146" in d.log_text()


def test_hostile_queue_header_is_condemned_not_trusted(daemon_factory, db):
    d = writer_daemon(daemon_factory, db)
    writer = wait_for(lambda: d.status()["writer_pid"], 30, "a running writer")
    load = start_recload(d, "-p", "20", "-n", "100", "-i", "20", "-w", "journaled",
                         "-t", "240")
    wait_for(lambda: d.status()["records_committed_total"] >= 100, 60, "100 commits")
    bad = subprocess.Popen([RECLOAD, "-r", d.run_dir, "-H", "-t", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = bad.communicate(timeout=90)
    assert bad.returncode == -signal.SIGKILL, "the supervisor kills the producer: %s %s" % (
        out, err)
    hostile = json.loads(out)
    assert hostile["journaled"] == 3
    region = hostile["hostile"]
    d.wait_log("queue %d is corrupt" % region)
    d.wait_log("record queue %d condemned by the booking-writer: killed tool %d"
               % (region, bad.pid))
    res = finish(load)
    all_landed_but_evidence(db, d, res, 2000)
    assert d.status()["writer_pid"] == writer, "the writer never died"
    assert rows(db, hostile["tag"]) == (3, 3), "what it journaled before the damage lands"
    # The queue was reset: every free queue, that one included, works again.
    d.wait_log("queue %d was reset; reading it again" % region, 15)
    again = recload(d, "-p", "51", "-n", "4", "-w", "committed", "-t", "60")
    all_landed_but_evidence(db, d, again, 204)
    assert d.status()["writer_pid"] == writer


def all_landed_but_evidence(db, d, res, n):
    """As all_landed, with the condemned queue's bytes as the one dead letter."""
    assert (res["journaled"], res["committed"], res["dead"], res["timeouts"], res["errors"]) \
        == (n, n, 0, 0, 0), res
    assert rows(db, res["tag"]) == (n, n)
    assert [x["reason"] for x in dead_letters(d)] == ["corrupt record queue"]


def test_flipped_length_bit_mid_segment_keeps_later_records(daemon_factory, db):
    res, journal, seg, recs = journal_twenty(daemon_factory)
    data = bytearray(open(seg, "rb").read())
    data[recs[10][0] + 4 + 2] ^= 0x01       # record 10's length grows by 64 KiB
    open(seg, "wb").write(bytes(data))

    second = writer_daemon(daemon_factory, db, sub="b", writer={"journal_dir": journal})
    wait_for(lambda: second.status()["journal_backlog"] == 0 and
             second.status()["records_committed_total"] >= 19, 30, "the replay")
    assert rows(db, res["tag"]) == (19, 19), "every record after the damage is kept"
    assert "torn record" not in second.log_text()
    second.wait_log("corrupt byte(s)")
    assert [x["reason"] for x in dead_letters(second)] == ["corrupt journal bytes"]
    assert os.path.getsize(seg) == len(data) or not os.path.exists(seg)
