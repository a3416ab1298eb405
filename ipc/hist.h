/*
 * hist.h - latency histograms that live in shared memory.
 *
 * Owns: a fixed log-linear bucket layout (8 buckets per power of two of
 * microseconds, exact below 8 us, up to about 71 minutes), so that one
 * writer (a worker) can count with relaxed atomics and any reader can sum
 * slots and compute quantiles within about 6 % without locks. The layout
 * is part of the shared-memory ABI: change it only with the layout version.
 */
#ifndef VG_HIST_H
#define VG_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_SUB 8
#define HIST_MAX_LOG2 31
#define HIST_BUCKETS ((HIST_MAX_LOG2 - 2) * HIST_SUB + HIST_SUB)

struct hist {
	_Atomic uint64_t count;
	_Atomic uint64_t sum_us;
	_Atomic uint64_t bucket[HIST_BUCKETS];
};

/* A private, summed copy a reader works on. */
struct hist_snap {
	uint64_t count;
	uint64_t sum_us;
	uint64_t bucket[HIST_BUCKETS];
};

/* Bucket index for a value in microseconds. */
unsigned hist_index(uint64_t us);

/* Smallest value (us) counted in bucket i, and the first value beyond it. */
uint64_t hist_lower(unsigned i);
uint64_t hist_upper(unsigned i);

/* Writer side: one observation. Single writer per struct hist. */
void hist_add(struct hist *h, uint64_t us);

/* Reader side: adds h into s (relaxed loads; counters only grow). */
void hist_sum(struct hist_snap *s, const struct hist *h);

/* Value (us) below which fraction q of observations fall; upper bucket edge. */
uint64_t hist_quantile(const struct hist_snap *s, double q);

/* Observations strictly below limit_us, for Prometheus "le" buckets. */
uint64_t hist_count_below(const struct hist_snap *s, uint64_t limit_us);

#endif
