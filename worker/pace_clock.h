/*
 * pace_clock.h - the rules of a call's 20 ms playout clock, without timers.
 *
 * Owns: the virtual clock (ticks at t0 + k * period) and the decision, for
 * each wake-up, of how many ticks it serves and where the watchdog waits
 * next. wrk_pacer.c turns those decisions into a libevent timer and a
 * timerfd; the unit tests drive them with simulated times.
 *
 * Three kinds of wake-up serve ticks:
 *   frame - a caller frame was read (the normal case: one per period);
 *   watch - no caller frame came for a while after a tick: the watchdog;
 *   timer - the periodic timer, which runs on the ticks while the caller
 *           is quiet (after the watchdog fired, or after a rephase);
 *           after the watchdog it walks from the watchdog's lateness back
 *           onto them (pace_clock_timer_at).
 *
 * Never: reads a clock, makes a system call, or serves more than what is
 * due; every time comes in as an argument (CLOCK_MONOTONIC ns).
 */
#ifndef VG_PACE_CLOCK_H
#define VG_PACE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct pace_clock {
	int64_t period;
	int64_t next;		/* the first tick not served yet */
	int64_t last_served;	/* when a wake-up last served ticks */
	int64_t last_frame;	/* when the caller's last frame came */
	int64_t watch_at;	/* the watchdog's deadline, while !periodic */
	bool watched;		/* the watchdog served last; no frame behind it yet */
	unsigned astray;	/* frames in a row that found the clock off their phase */
	int64_t moved_at;	/* when the clock last moved onto the caller */
	bool periodic;		/* the timer runs on the ticks: no caller */
	bool rearm;		/* the timer must restart on the ticks from next */
	bool slewing;		/* after a rephase: the timer's ticks walk onto the caller's */
	unsigned slew_ticks;	/* ticks served since the rephase */
	int64_t target;		/* a caller frame's time to walk onto; 0: none yet */
	int64_t lag;		/* the timer serves each tick this late (after the watchdog) */
};

/* The first tick one period after now; the watchdog waits for the caller. */
void pace_clock_init(struct pace_clock *k, int64_t now, int64_t period);

/* Each returns the ticks this wake-up serves (late ones included), or 0. */
uint64_t pace_clock_frame(struct pace_clock *k, int64_t now);
uint64_t pace_clock_watch(struct pace_clock *k, int64_t now);
uint64_t pace_clock_timer(struct pace_clock *k, int64_t now);

/*
 * The next tick at at, then every period; the timer serves it. The ticks
 * after it walk onto the caller's phase, at most SLEW a period, instead
 * of jumping there (pace_clock.c).
 */
void pace_clock_rephase(struct pace_clock *k, int64_t at);

/* When the timer, while it runs (periodic), serves the next tick. */
int64_t pace_clock_timer_at(const struct pace_clock *k);

#endif
