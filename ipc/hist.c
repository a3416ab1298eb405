/*
 * hist.c - log-linear latency histograms.
 */
#include "hist.h"

unsigned hist_index(uint64_t us)
{
	if (us < HIST_SUB)
		return (unsigned)us;
	unsigned k = 63 - (unsigned)__builtin_clzll(us);	/* floor(log2 us) >= 3 */
	if (k > HIST_MAX_LOG2)
		return HIST_BUCKETS - 1;
	unsigned sub = (unsigned)(us >> (k - 3)) & (HIST_SUB - 1);
	return (k - 2) * HIST_SUB + sub;
}

uint64_t hist_lower(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	unsigned k = i / HIST_SUB + 2, sub = i % HIST_SUB;
	return (uint64_t)(HIST_SUB + sub) << (k - 3);
}

uint64_t hist_upper(unsigned i)
{
	if (i < HIST_SUB)
		return i + 1;
	unsigned k = i / HIST_SUB + 2;
	return hist_lower(i) + (1ULL << (k - 3));
}

void hist_add(struct hist *h, uint64_t us)
{
	atomic_fetch_add_explicit(&h->bucket[hist_index(us)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void hist_sum(struct hist_snap *s, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		s->bucket[i] += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
	s->sum_us += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	s->count += atomic_load_explicit(&h->count, memory_order_relaxed);
}

uint64_t hist_quantile(const struct hist_snap *s, double q)
{
	uint64_t total = 0, seen = 0;

	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		total += s->bucket[i];
	if (!total)
		return 0;
	uint64_t want = (uint64_t)(q * (double)total + 0.999999);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += s->bucket[i];
		if (seen >= want)
			return hist_upper(i);
	}
	return hist_upper(HIST_BUCKETS - 1);
}

uint64_t hist_count_below(const struct hist_snap *s, uint64_t limit_us)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HIST_BUCKETS && hist_upper(i) <= limit_us; i++)
		n += s->bucket[i];
	return n;
}
