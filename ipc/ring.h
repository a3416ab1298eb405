/*
 * ring.h - single-producer single-consumer ring of 16-bit samples.
 *
 * Owns: one audio direction of one call, in shared memory. The header and
 * its samples are contiguous, so the ring is position-independent (no
 * pointers; the samples follow the header). Free-running 32-bit indices,
 * power-of-two capacity, producer and consumer indices on separate cache
 * lines (as DPDK's rte_ring).
 *
 * Synchronisation: the producer writes samples, then publishes head with
 * release; the consumer reads head with acquire before reading samples
 * (pair A). The consumer publishes tail with release after it has copied
 * samples out; the producer reads tail with acquire before overwriting
 * (pair B). The consumer may discard everything queued (barge-in flush)
 * by moving tail to head: only the consumer ever writes tail.
 */
#ifndef VG_RING_H
#define VG_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct ring {
	_Alignas(64) _Atomic uint32_t head;	/* written by the producer only */
	_Alignas(64) _Atomic uint32_t tail;	/* written by the consumer only */
	_Alignas(64) uint32_t cap;		/* samples, power of two; set once */
	uint32_t mask;
};

/* Bytes a ring of cap samples occupies (header + samples). */
size_t ring_bytes(uint32_t cap);

/* Initialises an empty ring; cap must be a power of two. */
void ring_init(struct ring *r, uint32_t cap);

/*
 * Producer: copies up to n samples in; returns how many fit. s need not be
 * aligned (AudioSocket payloads start at odd offsets).
 */
size_t ring_write(struct ring *r, const void *s, size_t n);

/* Producer: samples that can be written now. */
size_t ring_space(const struct ring *r);

/* Consumer: copies up to n samples out; returns how many were there. */
size_t ring_read(struct ring *r, void *s, size_t n);

/* Consumer: samples waiting. */
size_t ring_avail(const struct ring *r);

/* Consumer: drops everything queued; returns how many samples went. */
size_t ring_flush(struct ring *r);

#endif
