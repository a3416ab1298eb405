/*
 * wrk_record.h - one call's recording: a stereo WAV, caller left, agent
 * right, at the call's rate, written as the call goes.
 *
 * Owns: the file (created 0640, never over an existing one) and the two
 * short queues that pair the directions' samples up. Left is every sample
 * the caller sent, right every sample sent to the caller, each in order;
 * a direction that has nothing to say for longer than the pairing window
 * (one second) is padded with silence, so the two stay within a second of
 * each other without a clock of their own. Stereo rather than a mix: the
 * two sides stay separable (who said what, barge-in, echo) and a mix could
 * not be undone.
 *
 * Never: buffers the call (about a second per direction is held), wakes
 * up on its own (it writes on the frame path, through a stdio buffer of
 * about a second, so a write() is one per second of call), or ends or
 * slows the call: a failed write (a full disk) stops the recording with
 * one warning naming the call, and the call goes on.
 */
#ifndef VG_WRK_RECORD_H
#define VG_WRK_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct wrk_record;

/*
 * Starts dir/<uuid>.wav at rate (dir is made 0750 if missing). 0 and
 * *out, or -errno, logged once with the call's uuid.
 */
int wrk_record_open(struct wrk_record **out, const char *dir, const char *uuid, int rate);

/* n samples (little-endian, any alignment) the caller sent. NULL r: nothing. */
void wrk_record_in(struct wrk_record *r, const void *pcm, size_t n);

/* n samples sent to the caller. NULL r: nothing. */
void wrk_record_out(struct wrk_record *r, const void *pcm, size_t n);

/*
 * The agent's side is silence up to where the caller's is, plus ahead
 * samples of the caller's that are on their way: for a peer that plays
 * what it buffers and was sent nothing while the agent was silent
 * (Twilio), so that audio sent next sits where it is played. Nothing when
 * the agent's side is already there. NULL r: nothing.
 */
void wrk_record_out_catch_up(struct wrk_record *r, size_t ahead);

/*
 * The last n samples sent to the caller were never played (the peer's
 * queue was cleared on a barge-in): out of the recording, as far as they
 * are still queued, which they are unless the agent's side ran the whole
 * pairing window ahead. NULL r: nothing.
 */
void wrk_record_out_drop(struct wrk_record *r, size_t n);

/* The file's path ("" once a failure has given it up). */
const char *wrk_record_path(const struct wrk_record *r);

/* Writes what is queued, fixes the header up, frees r. NULL is fine. */
void wrk_record_close(struct wrk_record *r);

#endif
