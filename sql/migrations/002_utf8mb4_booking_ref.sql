-- 002_utf8mb4_booking_ref.sql - utf8mb4 everywhere; idempotent bookings.
--
-- Upgrades the tables of 001, whether 001 created them or a PHP install
-- did (utf8, i.e. utf8mb3, which cannot hold a 4-byte character such as an
-- emoji in a customer's name), and adds what the booking-writer needs:
--
--   booking_ref    the writer's idempotency key: UNIQUE, so a retried
--                  insert of the same booking cannot make a second row.
--                  Rows from before this migration get 'LEGACY' || id
--                  (at most 6 + 10 = 16 characters).
--   source         who made the booking: local agent, cloud agent, api.
--   call_uuid      the call it came from, when it came from a call.
--   dispatched_at  when dispatched became 1.
--
-- New columns go at the end, so that anything reading the old columns by
-- position (SELECT * in a dispatch script) still sees them where it did.
-- Every statement can run twice (IF NOT EXISTS, WHERE ... IS NULL, and
-- CONVERT/MODIFY to the shape they already have), so a failed run is
-- repeated from the top. On a large table each ALTER rebuilds it: run this
-- at a quiet hour. While it runs the table is readable; writes wait.
--
-- After this migration booking_ref has no default: the old
-- create_booking.php, which does not send one, can no longer insert.

-- CONVERT TO turns a utf8 TEXT column into MEDIUMTEXT (so that it can hold
-- as many characters as before); the MODIFYs that follow put the seed's
-- TEXT back. utf8 and utf8mb4 encode the old data in the same bytes, so
-- nothing that fitted before can stop fitting.
ALTER TABLE did_company_map
    CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

ALTER TABLE doppia_calls
    CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

ALTER TABLE ai_agent_bookings
    CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
    MODIFY problem_description TEXT NOT NULL,
    MODIFY notes TEXT DEFAULT NULL;

-- Nullable first, so that old rows can be given their value, then the key.
ALTER TABLE ai_agent_bookings
    ADD COLUMN IF NOT EXISTS booking_ref VARCHAR(16) NULL
        COMMENT 'Idempotency key from the booking-writer; LEGACY<id> for older rows',
    ADD COLUMN IF NOT EXISTS source ENUM('local','cloud','api') NOT NULL DEFAULT 'api'
        COMMENT 'Which agent made it: local, cloud (webhook) or api',
    ADD COLUMN IF NOT EXISTS call_uuid CHAR(36) NULL
        COMMENT 'AudioSocket UUID of the call that made it, if any',
    ADD COLUMN IF NOT EXISTS dispatched_at DATETIME NULL
        COMMENT 'When dispatched was set to 1 (UTC)';

UPDATE ai_agent_bookings SET booking_ref = CONCAT('LEGACY', id)
    WHERE booking_ref IS NULL OR booking_ref = '';

ALTER TABLE ai_agent_bookings
    MODIFY booking_ref VARCHAR(16) NOT NULL
        COMMENT 'Idempotency key from the booking-writer; LEGACY<id> for older rows',
    ADD UNIQUE KEY IF NOT EXISTS uq_booking_ref (booking_ref),
    ADD KEY IF NOT EXISTS idx_call_uuid (call_uuid);
