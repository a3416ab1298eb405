-- 001_initial.sql - the three tables of the PHP install, in its exact shape.
--
-- did_company_map, ai_agent_bookings and doppia_calls are the tables that
-- did_context.php and create_booking.php already use; an existing install
-- has them (in utf8) and keeps its rows. CREATE TABLE IF NOT EXISTS is on
-- purpose here, and only here: on an existing install these statements do
-- nothing, on a new one they create the same shape (but utf8mb4). Migration
-- 002 then brings both to one shape, so a new install and an upgraded one
-- end up with identical tables by the same path.
--
-- Conventions for every migration (see sql/README.md): one statement per
-- ';', no DELIMITER or BEGIN...END bodies; every statement safe to run
-- twice, because MariaDB commits DDL at once and a migration that fails
-- part way is run again from its first statement.

CREATE TABLE IF NOT EXISTS did_company_map (
    did          VARCHAR(50)  NOT NULL,
    company_name VARCHAR(255) NOT NULL COMMENT 'Original messy name from provider',
    clean_name   VARCHAR(255) NOT NULL COMMENT 'Display name for agent to speak',
    trade_type   ENUM('plumbing','electrical','drainage','locksmith') NOT NULL,
    callout_fee  INT          NOT NULL DEFAULT 49,
    area         VARCHAR(100) DEFAULT NULL COMMENT 'e.g. London, Birmingham',
    created_at   DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (did)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ai_agent_bookings (
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Often already there: repeat-caller routing keeps it up to date.
CREATE TABLE IF NOT EXISTS doppia_calls (
    id              INT UNSIGNED NOT NULL AUTO_INCREMENT,
    phone_number    VARCHAR(30)  NOT NULL,
    did             VARCHAR(50)  NOT NULL,
    last_call_time  DATETIME     NOT NULL,
    call_count      INT          NOT NULL DEFAULT 1,
    PRIMARY KEY (id),
    UNIQUE KEY idx_phone_did (phone_number, did),
    KEY idx_last_call (last_call_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
