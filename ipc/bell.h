/*
 * bell.h - the booking-writer's doorbell: a futex word in shared memory.
 *
 * Owns: waking the writer when a producer has enqueued a record, from any
 * process that maps the bell's page (workers, the api, local tools),
 * without a descriptor per producer. It lives on its own page so a worker
 * can be given it without the segment header.
 *
 * No lost wake-up: the writer reads seq, announces it is waiting, checks
 * its queues once more, then sleeps only while seq is unchanged (the
 * kernel compares atomically); a producer bumps seq before it looks at
 * the waiting flag (both sequentially consistent).
 */
#ifndef VG_BELL_H
#define VG_BELL_H

#include <stdatomic.h>
#include <stdint.h>

struct bell {
	_Atomic uint32_t seq;
	_Atomic uint32_t waiting;
};

/* Producer: a record is ready. */
void bell_ring(struct bell *b);

/* Writer: the value to pass to bell_wait() once the queues look empty. */
uint32_t bell_seen(struct bell *b);

/*
 * Writer: sleeps until the bell rings after seen was read, timeout_ms
 * passes, or a signal arrives. Returns 0 either way (callers re-check).
 */
int bell_wait(struct bell *b, uint32_t seen, int timeout_ms);

/* Writer: marks itself waiting (call before the final check). */
void bell_arm(struct bell *b);
void bell_disarm(struct bell *b);

#endif
