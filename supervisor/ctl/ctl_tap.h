/*
 * ctl_tap.h - reading a worker's audio ring from beside it, read-only.
 *
 * Owns: a position of our own in a ring another process produces and
 * consumes. The tap follows the producer's index (head) and copies the
 * samples behind it; it never writes the ring, so the call's consumer and
 * producer cannot tell it is there and never wait for it.
 *
 * Why this is safe without a word to the producer: a sample stays in the
 * ring until the producer comes round to its cell again, cap samples
 * later. The tap copies, then reads head again (acquire, after the copy):
 * if the producer may have reached any copied cell meanwhile (head, plus
 * a write in progress of up to TAP_GUARD samples, has come within cap of
 * it), those samples may be torn and the tap has been lapped: it says so,
 * drops them and starts again from a safe place behind head. A reader too
 * slow to keep up loses audio; the call loses nothing.
 *
 * What a peer wrote is input: head is only compared and masked, never
 * trusted as a length; the capacity is the segment header's (written by
 * the supervisor alone), never the ring's own, which its worker could
 * overwrite.
 */
#ifndef VG_CTL_TAP_H
#define VG_CTL_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../ipc/ring.h"

/* Largest single write a producer makes (an AudioSocket frame is < 32768). */
#define TAP_GUARD 32768u

struct tap {
	const struct ring *r;
	uint32_t cap, mask;	/* from the segment header */
	uint32_t pos;		/* next sample to copy */
	uint64_t lapped;	/* samples lost to the producer */
};

/*
 * Starts at the ring's current head: only what is produced from now on.
 * cap: the segment header's ring_samples, a power of two. -EINVAL if not.
 */
int tap_init(struct tap *t, const struct ring *r, uint32_t cap);

/*
 * Copies up to n new samples into out. Returns how many (0: nothing new).
 * When the producer overtook the tap, the lost samples are added to
 * t->lapped and the copy restarts behind head; *lapped_now (may be NULL)
 * says it happened in this call.
 */
size_t tap_read(struct tap *t, int16_t *out, size_t n, bool *lapped_now);

#endif
