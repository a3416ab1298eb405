"""The MariaDB schema and `vagentctl db migrate|status`.

A new database and an existing PHP install (the seed's utf8 tables, with
rows) end in the same shape, which is the spec below; migrate is idempotent,
records what it applied, stops at the first failing statement naming file,
line and MariaDB's error, and every migration can be rerun from the top
after failing part way. The spec is written out here from the design, not
read back from the migrations, so a migration that drifts fails a test.
"""
import os
import re
import shutil
import subprocess

import pytest

from harness import SQL_DIR, ScratchDB, wait_for, write_settings, VAGENTCTL

MIGRATIONS = sorted(f for f in os.listdir(os.path.join(SQL_DIR, "migrations"))
                    if f.endswith(".sql"))
LATEST = int(MIGRATIONS[-1].split("_")[0])

# (column, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA), in order.
# MariaDB's COLUMN_DEFAULT: None = no default, 'NULL' = DEFAULT NULL,
# string literals quoted.
SPEC_COLUMNS = {
    "did_company_map": [
        ("did", "varchar(50)", "NO", None, ""),
        ("company_name", "varchar(255)", "NO", None, ""),
        ("clean_name", "varchar(255)", "NO", None, ""),
        ("trade_type", "enum('plumbing','electrical','drainage','locksmith')", "NO", None, ""),
        ("callout_fee", "int(11)", "NO", "49", ""),
        ("area", "varchar(100)", "YES", "NULL", ""),
        ("created_at", "datetime", "NO", "current_timestamp()", ""),
    ],
    "ai_agent_bookings": [
        ("id", "int(10) unsigned", "NO", None, "auto_increment"),
        ("created_at", "datetime", "NO", "current_timestamp()", ""),
        ("customer_name", "varchar(255)", "NO", None, ""),
        ("customer_phone", "varchar(30)", "NO", None, ""),
        ("postcode", "varchar(10)", "NO", None, ""),
        ("address", "varchar(500)", "NO", None, ""),
        ("problem_description", "text", "NO", None, ""),
        ("trade_type", "varchar(20)", "NO", None, ""),
        ("callout_fee", "int(11)", "NO", "49", ""),
        ("did_number", "varchar(30)", "YES", "NULL", ""),
        ("company_name", "varchar(255)", "YES", "NULL", ""),
        ("is_repeat", "tinyint(1)", "YES", "0", ""),
        ("outcome", "varchar(30)", "YES", "'booked'", ""),
        ("dispatched", "tinyint(1)", "YES", "0", ""),
        ("notes", "text", "YES", "NULL", ""),
        ("booking_ref", "varchar(16)", "NO", None, ""),
        ("source", "enum('local','cloud','api')", "NO", "'api'", ""),
        ("call_uuid", "char(36)", "YES", "NULL", ""),
        ("dispatched_at", "datetime", "YES", "NULL", ""),
    ],
    "doppia_calls": [
        ("id", "int(10) unsigned", "NO", None, "auto_increment"),
        ("phone_number", "varchar(30)", "NO", None, ""),
        ("did", "varchar(50)", "NO", None, ""),
        ("last_call_time", "datetime", "NO", None, ""),
        ("call_count", "int(11)", "NO", "1", ""),
    ],
    "calls": [
        ("uuid", "char(36)", "NO", None, ""),
        ("did", "varchar(50)", "YES", "NULL", ""),
        ("cli", "varchar(30)", "YES", "NULL", ""),
        ("engine", "varchar(16)", "NO", None, ""),
        ("started_at", "datetime(3)", "NO", None, ""),
        ("ended_at", "datetime(3)", "NO", None, ""),
        ("outcome", "varchar(30)", "NO", None, ""),
        ("turn_count", "int(11)", "NO", "0", ""),
        ("barge_ins", "int(11)", "NO", "0", ""),
        ("latency", "longtext", "YES", "NULL", ""),      # JSON
        ("transcript", "longtext", "YES", "NULL", ""),   # JSON
        ("recording_path", "varchar(1024)", "YES", "NULL", ""),
        ("created_at", "datetime", "NO", "current_timestamp()", ""),
    ],
    "schema_migrations": [
        ("version", "int(10) unsigned", "NO", None, ""),
        ("name", "varchar(255)", "NO", None, ""),
        ("applied_at", "datetime", "NO", "current_timestamp()", ""),
    ],
}

# {index: (unique, [columns in order])}
SPEC_KEYS = {
    "did_company_map": {"PRIMARY": (True, ["did"])},
    "ai_agent_bookings": {
        "PRIMARY": (True, ["id"]),
        "uq_booking_ref": (True, ["booking_ref"]),
        "idx_phone": (False, ["customer_phone"]),
        "idx_created": (False, ["created_at"]),
        "idx_dispatched": (False, ["dispatched"]),
        "idx_call_uuid": (False, ["call_uuid"]),
    },
    "doppia_calls": {
        "PRIMARY": (True, ["id"]),
        "idx_phone_did": (True, ["phone_number", "did"]),
        "idx_last_call": (False, ["last_call_time"]),
    },
    "calls": {
        "PRIMARY": (True, ["uuid"]),
        "idx_started": (False, ["started_at"]),
        "idx_did_started": (False, ["did", "started_at"]),
        "idx_cli": (False, ["cli"]),
    },
    "schema_migrations": {"PRIMARY": (True, ["version"])},
}

# The seed's comments, which the upgrade must keep.
SPEC_COMMENTS = {
    ("did_company_map", "company_name"): "Original messy name from provider",
    ("did_company_map", "clean_name"): "Display name for agent to speak",
    ("did_company_map", "area"): "e.g. London, Birmingham",
    ("ai_agent_bookings", "outcome"): "booked, declined, callback, cancelled",
    ("ai_agent_bookings", "dispatched"): "0=pending, 1=assigned to engineer",
}

# The seed's section 10, verbatim: what an existing PHP install has.
PHP_INSTALL_SQL = [
    """CREATE TABLE IF NOT EXISTS did_company_map (
    did          VARCHAR(50)  NOT NULL,
    company_name VARCHAR(255) NOT NULL COMMENT 'Original messy name from provider',
    clean_name   VARCHAR(255) NOT NULL COMMENT 'Display name for agent to speak',
    trade_type   ENUM('plumbing','electrical','drainage','locksmith') NOT NULL,
    callout_fee  INT          NOT NULL DEFAULT 49,
    area         VARCHAR(100) DEFAULT NULL COMMENT 'e.g. London, Birmingham',
    created_at   DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (did)
) ENGINE=InnoDB DEFAULT CHARSET=utf8""",
    """CREATE TABLE IF NOT EXISTS ai_agent_bookings (
    id                  INT UNSIGNED NOT NULL AUTO_INCREMENT,
    created_at          DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    customer_name       VARCHAR(255) NOT NULL,
    customer_phone      VARCHAR(30)  NOT NULL,
    postcode            VARCHAR(10)  NOT NULL,
    address             VARCHAR(500) NOT NULL,
    problem_description TEXT         NOT NULL,
    trade_type          VARCHAR(20)  NOT NULL,
    callout_fee         INT          NOT NULL DEFAULT 49,
    did_number          VARCHAR(30)  DEFAULT NULL,
    company_name        VARCHAR(255) DEFAULT NULL,
    is_repeat           TINYINT(1)   DEFAULT 0,
    outcome             VARCHAR(30)  DEFAULT 'booked'
                        COMMENT 'booked, declined, callback, cancelled',
    dispatched          TINYINT(1)   DEFAULT 0
                        COMMENT '0=pending, 1=assigned to engineer',
    notes               TEXT         DEFAULT NULL,
    PRIMARY KEY (id),
    KEY idx_phone (customer_phone),
    KEY idx_created (created_at),
    KEY idx_dispatched (dispatched)
) ENGINE=InnoDB DEFAULT CHARSET=utf8""",
    """CREATE TABLE IF NOT EXISTS doppia_calls (
    id              INT UNSIGNED NOT NULL AUTO_INCREMENT,
    phone_number    VARCHAR(30)  NOT NULL,
    did             VARCHAR(50)  NOT NULL,
    last_call_time  DATETIME     NOT NULL,
    call_count      INT          NOT NULL DEFAULT 1,
    PRIMARY KEY (id),
    UNIQUE KEY idx_phone_did (phone_number, did),
    KEY idx_last_call (last_call_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8""",
]

# Near the most a utf8 TEXT holds (65535 bytes), in 3-byte characters: it
# must come through utf8mb4 and the TEXT -> MEDIUMTEXT -> TEXT round trip.
LONG_PROBLEM = "\u20ac" * 21000 + " leak"

LEGACY_BOOKINGS = [
    # customer_name, phone, postcode, address, problem, trade, fee, did, company,
    # is_repeat, outcome, dispatched, notes
    ("Ahmed Lekan", "447963155448", "E5 9ES", "42 Amhurst Road",
     "Leaking pipe under kitchen sink", "plumbing", 48, "442039962952", "George The Plumber",
     0, "booked", 1, "Assigned to John, ETA 14:30"),
    ("Zo\u00eb Br\u00fbl\u00e9", "447700900123", "B1 1AA", "1 Caf\u00e9 Lane",
     LONG_PROBLEM, "drainage", 49, None, None, 1, "callback", 0, None),
]
BOOKING_COLS = ("customer_name, customer_phone, postcode, address, problem_description, "
                "trade_type, callout_fee, did_number, company_name, is_repeat, outcome, "
                "dispatched, notes")


def php_install(d):
    """Makes d look like a database the PHP scripts have been using."""
    for stmt in PHP_INSTALL_SQL:
        d.sql(stmt)
    d.sql("INSERT INTO did_company_map (did, company_name, clean_name, trade_type, "
          "callout_fee, area) VALUES ('442039962952', 'GEORGE THE PLUMBER LTD', "
          "'George The Plumber', 'plumbing', 48, 'London')")
    for b in LEGACY_BOOKINGS:
        d.sql("INSERT INTO ai_agent_bookings (%s) VALUES (%s)"
              % (BOOKING_COLS, ", ".join(["%s"] * len(b))), b)
    d.sql("INSERT INTO doppia_calls (phone_number, did, last_call_time, call_count) "
          "VALUES ('447963155448', '442039962952', '2024-05-01 10:00:00', 3)")


def snapshot(d):
    """Every row of the seed's tables, seed columns only."""
    return {
        "did": d.sql("SELECT did, company_name, clean_name, trade_type, callout_fee, area, "
                     "created_at FROM did_company_map ORDER BY did"),
        "bookings": d.sql("SELECT id, created_at, %s FROM ai_agent_bookings ORDER BY id"
                          % BOOKING_COLS),
        "doppia": d.sql("SELECT id, phone_number, did, last_call_time, call_count "
                        "FROM doppia_calls ORDER BY id"),
    }


def assert_schema(d):
    """d's tables are exactly the spec: columns, types, defaults, keys,
    comments, engine and utf8mb4 (JSON columns are utf8mb4_bin, as
    MariaDB makes them, and carry a JSON_VALID check)."""
    tables = d.sql("SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                   "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME", (d.name,))
    assert sorted(t[0] for t in tables) == sorted(SPEC_COLUMNS)
    for name, engine, coll in tables:
        assert (name, engine, coll) == (name, "InnoDB", "utf8mb4_unicode_ci")
    for table, spec in SPEC_COLUMNS.items():
        cols = d.sql("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
                     "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND "
                     "TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (d.name, table))
        assert [tuple(c) for c in cols] == spec, table
        keys = {}
        for idx, non_unique, col in d.sql(
                "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                (d.name, table)):
            keys.setdefault(idx, (not non_unique, []))[1].append(col)
        assert keys == SPEC_KEYS[table], table
    for table, col, cs, coll in d.sql(
            "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND CHARACTER_SET_NAME IS NOT NULL", (d.name,)):
        json_col = table == "calls" and col in ("latency", "transcript")
        assert (cs, coll) == ("utf8mb4", "utf8mb4_bin" if json_col else "utf8mb4_unicode_ci"), \
            (table, col)
    comments = dict(((t, c), m) for t, c, m in d.sql(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_COMMENT FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s", (d.name,)))
    for k, v in SPEC_COMMENTS.items():
        assert comments[k] == v, k
    for col in ("booking_ref", "source", "call_uuid", "dispatched_at"):
        assert comments[("ai_agent_bookings", col)], "no comment on new column " + col
    checks = d.sql("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                   "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = 'calls' "
                   "ORDER BY CHECK_CLAUSE", (d.name,))
    assert [c[0] for c in checks] == ["json_valid(`latency`)", "json_valid(`transcript`)"]


def versions(d):
    return d.sql("SELECT version, name FROM schema_migrations ORDER BY version")


def new_booking(d, ref, name="Test Caller", source="local"):
    d.sql("INSERT INTO ai_agent_bookings (booking_ref, source, customer_name, customer_phone, "
          "postcode, address, problem_description, trade_type) "
          "VALUES (%s, %s, %s, '447700900000', 'E1 1AA', '1 High St', 'No hot water', "
          "'plumbing')", (ref, source, name))


def copy_sql(tmp_path):
    """A private copy of sql/ to add migrations to."""
    dst = str(tmp_path / "sql")
    shutil.copytree(SQL_DIR, dst)
    return dst


def add_migration(sql_dir, name, text):
    with open(os.path.join(sql_dir, "migrations", name), "w") as f:
        f.write(text)


# --- migrate ----------------------------------------------------------------

def test_migrate_applies_all_and_records_each_version(empty_db):
    r = empty_db.migrate()
    applied = re.findall(r"^applied (\S+)", r.stdout, re.M)
    assert applied == MIGRATIONS
    assert r.stdout.strip().splitlines()[-1] == "schema at version %d" % LATEST
    assert versions(empty_db) == [(int(f.split("_")[0]), f) for f in MIGRATIONS]


def test_second_migrate_is_a_no_op(db):
    before = db.sql("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    new_booking(db, "REF1")
    r = db.migrate()
    assert r.stdout == "schema at version %d\n" % LATEST
    assert db.sql("SELECT version, name, applied_at FROM schema_migrations "
                  "ORDER BY version") == before
    assert db.sql("SELECT booking_ref FROM ai_agent_bookings") == [("REF1",)]


def test_new_database_has_the_spec_schema(db):
    assert_schema(db)


def test_duplicate_booking_ref_is_rejected(db):
    import pymysql
    new_booking(db, "A1B2C3D4E5F6G7H8")
    with pytest.raises(pymysql.err.IntegrityError) as e:
        new_booking(db, "A1B2C3D4E5F6G7H8", name="Someone Else")
    assert e.value.args[0] == 1062  # ER_DUP_ENTRY
    # The writer's idempotent retry: the second insert changes nothing.
    db.sql("INSERT INTO ai_agent_bookings (booking_ref, customer_name, customer_phone, "
           "postcode, address, problem_description, trade_type) VALUES "
           "('A1B2C3D4E5F6G7H8', 'Retry', '1', '2', '3', '4', 'plumbing') "
           "ON DUPLICATE KEY UPDATE id = id")
    assert db.sql("SELECT customer_name FROM ai_agent_bookings") == [("Test Caller",)]


def test_booking_defaults_and_utf8mb4(db):
    new_booking(db, "R1", name="Ana \U0001F600 O\u2019Neil", source="cloud")
    row = db.sql("SELECT customer_name, source, callout_fee, is_repeat, outcome, dispatched, "
                 "call_uuid, dispatched_at, notes FROM ai_agent_bookings")
    assert row == [("Ana \U0001F600 O\u2019Neil", "cloud", 49, 0, "booked", 0, None, None, None)]


def test_calls_json_columns_refuse_invalid_json(db):
    import pymysql
    ins = ("INSERT INTO calls (uuid, did, cli, engine, started_at, ended_at, outcome, latency) "
           "VALUES (%s, '442039962952', '447700900000', 'echo', '2025-01-01 10:00:00.123', "
           "'2025-01-01 10:01:00.456', 'booked', %s)")
    db.sql(ins, ("0f8fad5b-d9cb-469f-a165-70867728950e", '{"stt_ms": [120, 95]}'))
    with pytest.raises(pymysql.err.MySQLError) as e:
        db.sql(ins, ("7c9e6679-7425-40de-944b-e07fc1f90ae7", "{not json"))
    assert e.value.args[0] == 4025  # ER_CONSTRAINT_FAILED
    assert db.sql("SELECT started_at FROM calls")[0][0].microsecond == 123000


# --- an existing PHP install --------------------------------------------------

def test_php_install_migrates_to_the_spec_keeping_its_rows(empty_db):
    php_install(empty_db)
    assert empty_db.sql("SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE "
                        "TABLE_SCHEMA = %s AND TABLE_NAME = 'ai_agent_bookings'",
                        (empty_db.name,))[0][0].startswith("utf8mb3")
    before = snapshot(empty_db)
    empty_db.migrate()
    assert_schema(empty_db)
    assert snapshot(empty_db) == before
    assert empty_db.sql("SELECT id, booking_ref, source, call_uuid, dispatched_at "
                        "FROM ai_agent_bookings ORDER BY id") == \
        [(1, "LEGACY1", "api", None, None), (2, "LEGACY2", "api", None, None)]
    # What utf8 could not hold, and new bookings carry on after the old ids.
    new_booking(empty_db, "NEW1", name="\U0001F527 Fixit")
    assert empty_db.sql("SELECT id, customer_name FROM ai_agent_bookings "
                        "WHERE booking_ref = 'NEW1'") == [(3, "\U0001F527 Fixit")]


def migration_statements(name):
    """A migration's statements: split on ';' outside quotes and comments,
    as vagentctl splits them."""
    with open(os.path.join(SQL_DIR, "migrations", name)) as f:
        text = f.read()
    stmts, cur, i, n = [], [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" and ch != "`" else 1
            cur.append(text[i:j + 1])
            i = j + 1
        elif ch == "#" or (text.startswith("--", i) and text[i + 2:i + 3] in ("", " ", "\t", "\n", "\r")):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        elif ch == ";":
            stmts.append("".join(cur).strip())
            cur = []
            i += 1
        else:
            cur.append(ch)
            i += 1
    stmts.append("".join(cur).strip())
    return [s for s in stmts if s]


def sql_dir_before(tmp_path, version):
    """A copy of sql/ holding only the migrations numbered below version."""
    dst = tmp_path / ("sql-before-%d" % version)
    if not dst.exists():
        (dst / "migrations").mkdir(parents=True)
        for m in MIGRATIONS:
            if int(m.split("_")[0]) < version:
                shutil.copy(os.path.join(SQL_DIR, "migrations", m), str(dst / "migrations"))
    return str(dst)


@pytest.mark.parametrize("base", ["new", "php"])
@pytest.mark.parametrize("name", MIGRATIONS)
def test_each_migration_reruns_after_failing_part_way(mariadb, tmp_path, name, base):
    """MariaDB commits DDL statement by statement: a migration cut off after
    any of its statements (connection lost, server killed) is not recorded,
    and the next migrate runs it again from the top. That must succeed and
    end in the spec with every row kept, on a new database as on a PHP
    install."""
    version = int(name.split("_")[0])
    stmts = migration_statements(name)
    assert stmts
    for cut in range(len(stmts)):
        d = ScratchDB(mariadb, tmp_path).create()
        try:
            if base == "php":
                php_install(d)
            d.migrate(sql_dir=sql_dir_before(tmp_path, version))
            for stmt in stmts[:cut]:
                d.sql(stmt)
            before = snapshot(d) if base == "php" else None
            d.migrate()
            assert_schema(d)
            if before:
                assert snapshot(d) == before, "rows changed (cut after %d)" % cut
            assert [v for v, _ in versions(d)] == [int(m.split("_")[0]) for m in MIGRATIONS]
        finally:
            d.drop()


# --- the seed -----------------------------------------------------------------

SEED_DIDS = [
    ("441211234567", "DRAIN CLEAR BHAM", "Drain Clear Birmingham", "drainage", 49, "Birmingham"),
    ("442039962952", "GEORGE THE PLUMBER LTD", "George The Plumber", "plumbing", 48, "London"),
    ("442071234567", "SPARK ELEC SERVICES", "Spark Electrical", "electrical", 50, "London"),
    ("443001234567", "LOCKFIX 24/7", "LockFix", "locksmith", 47, "Manchester"),
]


def load_seed(d):
    """As an operator would: the mariadb client, file on stdin."""
    with open(os.path.join(SQL_DIR, "seed", "example_dids.sql")) as f:
        r = subprocess.run(["mariadb", "--no-defaults", "--socket=" + d.mariadb.socket, "-uroot",
                            d.name], stdin=f, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_seed_loads_the_four_dids_and_can_be_rerun(db):
    load_seed(db)
    dids = "SELECT did, company_name, clean_name, trade_type, callout_fee, area " \
           "FROM did_company_map ORDER BY did"
    assert db.sql(dids) == SEED_DIDS
    db.sql("UPDATE did_company_map SET callout_fee = 99 WHERE did = '443001234567'")
    load_seed(db)
    assert db.sql(dids) == SEED_DIDS


# --- status and failures ------------------------------------------------------

def test_status_lists_pending_and_changes_nothing(empty_db):
    r = empty_db.ctl("db", "status", "-s", SQL_DIR)
    assert r.stdout.splitlines() == ["schema at version 0"] + ["pending " + m for m in MIGRATIONS]
    assert empty_db.sql("SHOW TABLES") == []
    empty_db.migrate()
    r = empty_db.ctl("db", "status", "-s", SQL_DIR)
    assert r.stdout.splitlines() == ["schema at version %d" % LATEST, "no migrations pending"]


def test_status_notes_versions_it_has_no_file_for(db):
    db.sql("INSERT INTO schema_migrations (version, name) VALUES (999, '999_future.sql')")
    r = db.ctl("db", "status", "-s", SQL_DIR)
    assert r.stdout.splitlines()[0] == "schema at version 999"
    assert "version 999 is recorded" in r.stderr


def test_failed_migration_names_file_line_and_error_and_is_not_recorded(db, tmp_path):
    sql_dir = copy_sql(tmp_path)
    name = "%03d_broken.sql" % (LATEST + 1)
    add_migration(sql_dir, name, "-- a migration with a mistake\n"
                  "CREATE TABLE IF NOT EXISTS half (id INT PRIMARY KEY)\n"
                  "    ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n\n"
                  "ALTER TABLE no_such_table ADD COLUMN x INT;\n")
    r = db.migrate(sql_dir=sql_dir, check=False)
    assert r.returncode == 1
    assert "%s/migrations/%s:5: MariaDB error 1146" % (sql_dir, name) in r.stderr
    assert "no_such_table" in r.stderr
    assert "schema left at version %d" % LATEST in r.stderr
    assert [v for v, _ in versions(db)][-1] == LATEST
    assert db.ctl("db", "status", "-s", sql_dir).stdout.splitlines()[-1] == "pending " + name
    # Fixed, it runs again from the top (its first statement already ran).
    add_migration(sql_dir, name, "CREATE TABLE IF NOT EXISTS half (id INT PRIMARY KEY)\n"
                  "    ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n")
    r = db.migrate(sql_dir=sql_dir)
    assert re.fullmatch(r"applied %s \(1 statement, [0-9.]+ s\)\nschema at version %d\n"
                        % (re.escape(name), LATEST + 1), r.stdout), r.stdout


def test_statements_split_on_semicolons_outside_quotes_and_comments(db, tmp_path):
    sql_dir = copy_sql(tmp_path)
    add_migration(sql_dir, "%03d_tricky.sql" % (LATEST + 1), r"""-- a comment; with a semicolon
CREATE TABLE tricky (id INT PRIMARY KEY, s VARCHAR(100), `we;ird` INT DEFAULT 7)
    ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
# a hash comment; here
INSERT INTO tricky (id, s) VALUES (1, 'a;b'), (2, 'it''s; fine'), (3, "dq;\"x");;
/* a block comment;
   over lines; */ INSERT INTO tricky (id, s) VALUES (4, 'back\\slash; \'q');
INSERT INTO tricky (id, s) VALUES (5, '-- not a comment;') /* trailing; */
""")
    r = db.migrate(sql_dir=sql_dir)
    assert "(4 statements," in r.stdout
    assert db.sql("SELECT id, s, `we;ird` FROM tricky ORDER BY id") == [
        (1, "a;b", 7), (2, "it's; fine", 7), (3, 'dq;"x', 7), (4, "back\\slash; 'q", 7),
        (5, "-- not a comment;", 7)]


def test_unterminated_quote_is_refused_before_running_anything_after_it(db, tmp_path):
    sql_dir = copy_sql(tmp_path)
    name = "%03d_open.sql" % (LATEST + 1)
    add_migration(sql_dir, name, "CREATE TABLE t1 (id INT) ENGINE=InnoDB;\n"
                  "INSERT INTO t1 VALUES ('oops);\n")
    r = db.migrate(sql_dir=sql_dir, check=False)
    assert r.returncode == 1
    assert "%s:2: quote or comment never closed" % name in r.stderr
    assert [v for v, _ in versions(db)][-1] == LATEST


def test_misnamed_and_duplicate_migrations_are_refused(db, tmp_path):
    sql_dir = copy_sql(tmp_path)
    add_migration(sql_dir, "004-oops.sql", "SELECT 1;\n")
    r = db.migrate(sql_dir=sql_dir, check=False)
    assert r.returncode == 1 and "004-oops.sql: not named NNN_name.sql" in r.stderr
    os.unlink(os.path.join(sql_dir, "migrations", "004-oops.sql"))
    add_migration(sql_dir, "%03d_copy.sql" % LATEST, "SELECT 1;\n")
    r = db.migrate(sql_dir=sql_dir, check=False)
    assert r.returncode == 1 and "have the same number" in r.stderr


def test_usage_errors(db):
    assert db.ctl("db", check=False).returncode == 2
    assert db.ctl("db", "frob", check=False).returncode == 2
    assert db.ctl("db", "migrate", "-x", check=False).returncode == 2
    r = db.ctl("db", "status", "-s", "/nonexistent", check=False)
    assert r.returncode == 1 and "/nonexistent/migrations: no such directory" in r.stderr


# --- connecting -----------------------------------------------------------------

def conf_with(d, tmp_path, **db):
    settings = dict(d.settings(), api={"enabled": "no"})  # as ScratchDB's own conf
    settings["db"].update(db)
    for k in [k for k, v in settings["db"].items() if v is None]:
        del settings["db"][k]
    path = str(tmp_path / "alt.conf")
    write_settings(path, settings)
    return path


def test_password_file_readable_by_others_is_refused(empty_db, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("vagent\n")
    os.chmod(str(pw), 0o644)
    r = empty_db.ctl("db", "migrate", "-s", SQL_DIR, check=False,
                     conf=conf_with(empty_db, tmp_path, password_file=str(pw)))
    assert r.returncode == 1
    assert "readable by others (mode 0644)" in r.stderr
    assert empty_db.sql("SHOW TABLES") == []


def test_password_is_never_printed(empty_db, tmp_path):
    secret = "Wr0ng-S3cret-xyzzy"
    pw = tmp_path / "pw"
    pw.write_text(secret + "\nsecond line ignored\n")
    os.chmod(str(pw), 0o600)
    r = empty_db.ctl("db", "migrate", "-s", SQL_DIR, check=False,
                     conf=conf_with(empty_db, tmp_path, password_file=str(pw)))
    assert r.returncode == 1
    assert "MariaDB error 1045" in r.stderr and "Access denied" in r.stderr
    assert secret not in r.stderr + r.stdout


def test_password_from_environment_when_no_file(empty_db, tmp_path):
    conf = conf_with(empty_db, tmp_path, password_file=None)
    env = dict(os.environ, VAGENT_DB_PASSWORD="vagent")
    empty_db.ctl("db", "migrate", "-s", SQL_DIR, conf=conf, env=env)
    env.pop("VAGENT_DB_PASSWORD")
    r = empty_db.ctl("db", "status", "-s", SQL_DIR, conf=conf, env=env, check=False)
    assert r.returncode == 1 and "using password: NO" in r.stderr


def test_empty_host_connects_over_the_socket(empty_db, tmp_path, mariadb):
    conf = conf_with(empty_db, tmp_path, host="", port=None, socket=mariadb.socket)
    r = empty_db.ctl("db", "migrate", "-s", SQL_DIR, conf=conf)
    assert r.stdout.endswith("schema at version %d\n" % LATEST)


def test_unreachable_server_fails_with_a_clear_line(empty_db, tmp_path):
    from harness import free_port
    conf = conf_with(empty_db, tmp_path, port=str(free_port()), connect_timeout="2")
    r = empty_db.ctl("db", "status", "-s", SQL_DIR, conf=conf, check=False)
    assert r.returncode == 1
    assert "cannot connect to MariaDB at 127.0.0.1 port" in r.stderr and "2002" in r.stderr


def test_times_are_stored_in_utc_whatever_the_server_zone(empty_db, mariadb):
    mariadb.sql("SET GLOBAL time_zone = '+05:00'")
    try:
        empty_db.migrate()
    finally:
        mariadb.sql("SET GLOBAL time_zone = 'SYSTEM'")
    skew = empty_db.sql("SELECT MAX(ABS(TIMESTAMPDIFF(SECOND, applied_at, UTC_TIMESTAMP()))) "
                        "FROM schema_migrations")[0][0]
    assert skew < 120


def test_connections_are_strict_whatever_the_server_mode(db, tmp_path, mariadb):
    """A value that does not fit is an error (the writer dead-letters it),
    never a silent truncation, even on a server configured without strict mode."""
    sql_dir = copy_sql(tmp_path)
    name = "%03d_truncate.sql" % (LATEST + 1)
    add_migration(sql_dir, name, "CREATE TABLE IF NOT EXISTS small (s VARCHAR(3)) "
                  "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n"
                  "INSERT INTO small VALUES ('too long');\n")
    old = mariadb.sql("SELECT @@GLOBAL.sql_mode")[0][0]
    mariadb.sql("SET GLOBAL sql_mode = ''")
    try:
        r = db.migrate(sql_dir=sql_dir, check=False)
    finally:
        mariadb.sql("SET GLOBAL sql_mode = %s", (old,))
    assert r.returncode == 1 and "%s:2: MariaDB error 1406" % name in r.stderr
    assert db.sql("SELECT * FROM small") == []


def test_only_the_privileges_in_the_readme_are_needed(empty_db, tmp_path, mariadb):
    user = "m" + empty_db.name[-12:]
    mariadb.sql("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY 'vagent'" % user)
    try:
        mariadb.sql("GRANT CREATE, ALTER, INDEX, SELECT, INSERT, UPDATE ON `%s`.* "
                    "TO '%s'@'127.0.0.1'" % (empty_db.name, user))
        php_install(empty_db)
        empty_db.ctl("db", "migrate", "-s", SQL_DIR, conf=conf_with(empty_db, tmp_path, user=user))
        assert_schema(empty_db)
    finally:
        mariadb.sql("DROP USER '%s'@'127.0.0.1'" % user)


# --- concurrency -----------------------------------------------------------------

def test_migrate_waits_for_another_migration_of_the_same_database(empty_db, tmp_path, mariadb):
    holder = mariadb.connect(empty_db.name)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(CONCAT('vagent.migrate.', DATABASE()), 0)")
            assert cur.fetchone()[0] == 1
        err = open(str(tmp_path / "err"), "w+")
        p = subprocess.Popen([VAGENTCTL, "-c", empty_db.conf, "db", "migrate", "-s", SQL_DIR],
                             stdout=subprocess.PIPE, stderr=err, text=True)
        wait_for(lambda: "another migration" in open(err.name).read(), what="migrate to wait")
        assert empty_db.sql("SHOW TABLES") == []
    finally:
        holder.close()  # releases the lock
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0 and out.endswith("schema at version %d\n" % LATEST)


def test_two_migrations_at_once_apply_each_file_once(empty_db):
    ps = [subprocess.Popen([VAGENTCTL, "-c", empty_db.conf, "db", "migrate", "-s", SQL_DIR],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in ps]
    assert [p.returncode for p in ps] == [0, 0], outs
    applied = sum(len(re.findall("^applied ", o, re.M)) for o, _ in outs)
    assert applied == len(MIGRATIONS)
    assert_schema(empty_db)


# --- the harness's server ----------------------------------------------------------

def test_committed_rows_survive_sigkill_of_the_server(db, mariadb):
    """What the writer's crash tests rely on: a commit is on disk when it
    returns (innodb_flush_log_at_trx_commit=1), and kill()/restart() work."""
    new_booking(db, "DURABLE1")
    old = mariadb.pid()
    mariadb.kill()
    assert not mariadb.running()
    mariadb.restart()
    assert mariadb.pid() != old
    assert db.sql("SELECT booking_ref FROM ai_agent_bookings") == [("DURABLE1",)]
    assert db.ctl("db", "status", "-s", SQL_DIR).stdout.endswith("no migrations pending\n")
