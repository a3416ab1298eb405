/*
 * vg_time.h - clocks used across vagent.
 *
 * Owns: the one way we read time. Monotonic for every interval and deadline
 * (pacing, latency, timeouts); realtime only for what a human reads (log
 * stamps, call start shown by vagentctl).
 * Never: mixes the two clocks in one computation.
 */
#ifndef VG_TIME_H
#define VG_TIME_H

#include <stdint.h>
#include <time.h>

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static inline int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

#endif
