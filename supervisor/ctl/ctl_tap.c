/*
 * ctl_tap.c - a read-only follower of a ring's producer. See ctl_tap.h.
 */
#include "ctl_tap.h"

#include <errno.h>
#include <string.h>

static const int16_t *samples(const struct ring *r)
{
	return (const int16_t *)(const void *)(r + 1);
}

/* How far behind head a copied cell is safe from a write in progress. */
static uint32_t window(const struct tap *t)
{
	return t->cap > TAP_GUARD ? t->cap - TAP_GUARD : t->cap / 2;
}

int tap_init(struct tap *t, const struct ring *r, uint32_t cap)
{
	if (!cap || (cap & (cap - 1)))
		return -EINVAL;
	t->r = r;
	t->cap = cap;
	t->mask = cap - 1;
	t->pos = atomic_load_explicit(&r->head, memory_order_acquire);
	t->lapped = 0;
	return 0;
}

size_t tap_read(struct tap *t, int16_t *out, size_t n, bool *lapped_now)
{
	const struct ring *r = t->r;
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);	/* A */
	uint32_t win = window(t), avail, first, off;

	if (lapped_now)
		*lapped_now = false;
	if (head - t->pos > win) {	/* already overtaken before copying */
		t->lapped += head - t->pos - win;
		t->pos = head - win;
		if (lapped_now)
			*lapped_now = true;
	}
	avail = head - t->pos;
	if (n > avail)
		n = avail;
	off = t->pos & t->mask;
	first = t->cap - off < n ? r->cap - off : (uint32_t)n;
	memcpy(out, samples(r) + off, (size_t)first * 2);
	memcpy(out + first, samples(r), (n - first) * 2);
	/* The copy's loads before the second look at head (seqlock reader). */
	atomic_thread_fence(memory_order_acquire);
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (head - t->pos > win) {
		/* The producer may have written over the start of the copy: drop it all. */
		uint32_t skip = head - t->pos - win;
		if (skip < n)
			skip = (uint32_t)n;
		t->lapped += skip;
		t->pos += skip;
		if (lapped_now)
			*lapped_now = true;
		return 0;
	}
	t->pos += (uint32_t)n;
	return n;
}
