/*
 * pacer.h - the 20 ms playout clock of one call.
 *
 * Owns: a timerfd on CLOCK_MONOTONIC with an absolute first expiry and a
 * fixed period, so ticks never drift across a long call however late a
 * callback runs. The kernel counts expirations; the callback learns how
 * many periods passed and may catch up a bounded number of frames.
 */
#ifndef VG_PACER_H
#define VG_PACER_H

#include <stdint.h>

struct event_base;
struct pacer;

/* ticks: periods elapsed since the last callback (>= 1). */
typedef void (*pacer_fn)(void *arg, uint64_t ticks);

/* 0 or -errno. */
int pacer_start(struct pacer **out, struct event_base *base, int period_ms,
		pacer_fn fn, void *arg);

/*
 * Moves the clock: the next tick at at_ns (CLOCK_MONOTONIC), then every
 * period from there. Used once per agent reply, so its first audio does
 * not wait up to a period for the old phase. 0 or -errno.
 */
int pacer_rephase(struct pacer *p, int64_t at_ns);

/* Stops and frees; NULL is fine. */
void pacer_stop(struct pacer *p);

#endif
