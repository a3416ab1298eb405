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

/* Stops and frees; NULL is fine. */
void pacer_stop(struct pacer *p);

#endif
