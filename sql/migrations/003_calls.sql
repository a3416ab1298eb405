-- 003_calls.sql - one row per finished call.
--
-- Written by the booking-writer from the call records the workers queue;
-- read by the api and by people looking into a call. Times are UTC
-- (every vagent connection sets time_zone '+00:00'), to the millisecond.
-- JSON is MariaDB's alias for LONGTEXT with a JSON_VALID check, so a
-- malformed document is refused rather than stored.

CREATE TABLE calls (
    uuid        CHAR(36)    NOT NULL COMMENT 'AudioSocket call UUID',
    did         VARCHAR(50) NULL COMMENT 'Number dialled',
    cli         VARCHAR(30) NULL COMMENT 'Caller id',
    engine      VARCHAR(16) NOT NULL COMMENT 'Engine that answered',
    started_at  DATETIME(3) NOT NULL,
    ended_at    DATETIME(3) NOT NULL,
    outcome     VARCHAR(30) NOT NULL COMMENT 'booked, declined, hangup, timeout, error, ...',
    turn_count  INT         NOT NULL DEFAULT 0,
    barge_ins   INT         NOT NULL DEFAULT 0,
    latency     JSON        NULL COMMENT 'Per-stage latency figures',
    transcript  JSON        NULL COMMENT 'Turns, in order',
    created_at  DATETIME    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (uuid),
    KEY idx_started (started_at),
    KEY idx_did_started (did, started_at),
    KEY idx_cli (cli)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
