/*
 * ring.c - SPSC sample ring. See ring.h for the memory-ordering pairs.
 */
#include "ring.h"

#include <string.h>

static inline int16_t *ring_data(const struct ring *r)
{
	return (int16_t *)(uintptr_t)(r + 1);
}

size_t ring_bytes(uint32_t cap)
{
	return sizeof(struct ring) + (size_t)cap * sizeof(int16_t);
}

void ring_init(struct ring *r, uint32_t cap)
{
	r->cap = cap;
	r->mask = cap - 1;
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	atomic_store_explicit(&r->tail, 0, memory_order_release);
}

size_t ring_space(const struct ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);	/* B */

	return r->cap - (head - tail);
}

size_t ring_avail(const struct ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);	/* A */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	return head - tail;
}

/* Copies n samples between linear memory and the ring at index idx. */
static void copy_in(struct ring *r, uint32_t idx, const uint8_t *s, size_t n)
{
	uint32_t off = idx & r->mask;
	size_t first = r->cap - off < n ? r->cap - off : n;

	memcpy(ring_data(r) + off, s, first * 2);
	memcpy(ring_data(r), s + first * 2, (n - first) * 2);
}

static void copy_out(const struct ring *r, uint32_t idx, uint8_t *s, size_t n)
{
	uint32_t off = idx & r->mask;
	size_t first = r->cap - off < n ? r->cap - off : n;

	memcpy(s, ring_data(r) + off, first * 2);
	memcpy(s + first * 2, ring_data(r), (n - first) * 2);
}

size_t ring_write(struct ring *r, const void *s, size_t n)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t space = ring_space(r);

	if (n > space)
		n = space;
	copy_in(r, head, s, n);
	atomic_store_explicit(&r->head, head + (uint32_t)n, memory_order_release);	/* A */
	return n;
}

size_t ring_read(struct ring *r, void *s, size_t n)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t avail = ring_avail(r);

	if (n > avail)
		n = avail;
	copy_out(r, tail, s, n);
	atomic_store_explicit(&r->tail, tail + (uint32_t)n, memory_order_release);	/* B */
	return n;
}

size_t ring_flush(struct ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);	/* A */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	atomic_store_explicit(&r->tail, head, memory_order_release);		/* B */
	return head - tail;
}
