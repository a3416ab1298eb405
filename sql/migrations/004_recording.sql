-- 004_recording.sql - where a call's recording is.
--
-- The worker records a call when [call] record (or its DID's) says so and
-- the booking-writer keeps the file's path here; NULL: not recorded. The
-- api serves the file from this path only, so a client never names a file.
-- vagentd removes files older than recording_days; the row keeps its path,
-- and the api answers 404 for a file that is gone.

ALTER TABLE calls
    ADD COLUMN IF NOT EXISTS recording_path VARCHAR(1024) NULL
        COMMENT 'WAV of the call (stereo: caller left, agent right)' AFTER transcript;
