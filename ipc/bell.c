/*
 * bell.c - futex doorbell. Shared (not FUTEX_PRIVATE): the word is in a
 * MAP_SHARED segment used by several processes.
 */
#include "bell.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

void bell_ring(struct bell *b)
{
	atomic_fetch_add(&b->seq, 1);		/* seq_cst: before the load below */
	if (atomic_load(&b->waiting))
		futex(&b->seq, FUTEX_WAKE, 1, NULL);
}

uint32_t bell_seen(struct bell *b)
{
	return atomic_load(&b->seq);
}

void bell_arm(struct bell *b) { atomic_store(&b->waiting, 1); }
void bell_disarm(struct bell *b) { atomic_store(&b->waiting, 0); }

int bell_wait(struct bell *b, uint32_t seen, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };

	/* EAGAIN (rang already), EINTR, ETIMEDOUT: the caller looks again. */
	futex(&b->seq, FUTEX_WAIT, seen, &ts);
	return 0;
}
