/*
 * pacer.h - the 20 ms playout clock of one call.
 *
 * Owns: a virtual clock (ticks at t0 + k * period, CLOCK_MONOTONIC), a
 * watchdog timer and a timerfd that only stand in for the caller. Asterisk sends one frame per
 * period on a live call, so the call's read of that frame is the wake-up
 * that serves the outbound frames due too (pacer_inbound): one wake-up per
 * frame instead of two, which is what a call costs on a hypervisor.
 *
 * Rules (pace_clock.h): a caller frame serves the ticks already due, or
 * else the one due within half a period, so a steady caller gets exactly
 * one frame per frame at a constant phase; a wake-up less than a quarter
 * period after one that served ticks serves none, so a burst of caller
 * frames after a network hiccup never bursts audio out; when the caller's
 * phase moves, the clock moves onto it. The timers fire only when the
 * caller has gone quiet (silence suppression, hold: protocols.md 7.4 item
 * 6): the watchdog is moved, without a wake-up or a system call, to the
 * next tick + half a period after each inbound service; when it fires, the
 * timerfd runs periodically on the ticks until a caller frame comes. Ticks
 * are absolute, so the clock never drifts however late a wake-up is.
 */
#ifndef VG_PACER_H
#define VG_PACER_H

#include <stdint.h>

struct event_base;
struct pacer;

/* ticks: ticks served by this wake-up (>= 1); the late ones included. */
typedef void (*pacer_fn)(void *arg, uint64_t ticks);

/* The first tick one period from now. 0 or -errno. */
int pacer_start(struct pacer **out, struct event_base *base, int period_ms,
		pacer_fn fn, void *arg);

/* A caller frame was read at now_ns: serves the ticks due, if any. */
void pacer_inbound(struct pacer *p, int64_t now_ns);

/*
 * Moves the clock: the next tick at at_ns (CLOCK_MONOTONIC); the timer
 * serves that tick and walks the next ones back onto the caller's phase,
 * a step of 2 ms a period. Used once per agent reply, so its first audio
 * does not wait up to a period for the old phase. 0 or -errno.
 */
int pacer_rephase(struct pacer *p, int64_t at_ns);

/*
 * Stops the timers while the call reads the caller's frames in batches
 * and sends nothing (wrk_call.c); pacer_rephase starts them again, and
 * pacer_inbound must not be called in between.
 */
void pacer_pause(struct pacer *p);

/* Stops and frees; NULL is fine. */
void pacer_stop(struct pacer *p);

#endif
