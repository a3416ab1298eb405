/*
 * test_pacer.c - unit tests for worker/pace_clock.h, the rules of the
 * caller-driven playout clock (issue 10).
 *
 * A small simulation stands in for the worker's loop: caller frames at
 * chosen times, the watchdog firing where libevent would (its deadline
 * rounded up to the millisecond, or a little early on its cached clock),
 * the timerfd on its ticks a little late. It counts what a call would
 * notice: wake-ups beyond one per caller frame (CPU), ticks served (audio
 * time), and the gaps between our outbound frames (jitter, bursts).
 *
 * Protects: one wake-up per caller frame at any phase of the caller, also
 * after its phase jumps, after a late frame and after a reply's rephase,
 * onto which the clock walks a step a frame rather than jumping
 * (the watchdog once served every tick just before the frame, two wake-ups
 * per frame for good), and a caller we do not acknowledge at once (Nagle)
 * does not make the clock drop time; a burst of caller frames never
 * bursts ours; a quiet caller gets one frame a period from the timer,
 * with one late frame where it stopped and no early one after it; a
 * late wake-up reports every tick it missed. PACE_TRACE=1 prints every wake-up and the clock
 * after it, to see why a case fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../common/vg_time.h"
#include "../../worker/pace_clock.h"

#define MS NS_PER_MS
#define US NS_PER_US
#define P (20 * MS)
#define NEVER INT64_MAX

struct sim {
	struct pace_clock k;
	uint64_t rng;
	int64_t watch_for, watch_fire;	/* the deadline, when it fires */
	int64_t timer_at;		/* the timerfd's next expiry, or NEVER */
	/* counted from the first service at or after `from` */
	int64_t from, last_out;
	uint64_t frames, extra, ticks, services, multi;
	int64_t min_gap, max_gap;
};

static int64_t rnd(struct sim *s, int64_t lo, int64_t hi)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return lo + (int64_t)(s->rng % (uint64_t)(hi - lo + 1));
}

static void sim_init(struct sim *s, uint64_t seed, int64_t t0)
{
	*s = (struct sim){ .rng = seed * 2654435761u + 1, .timer_at = NEVER,
			   .min_gap = NEVER };
	pace_clock_init(&s->k, t0, P);
}

/* What wrk_pacer.c's apply() does with the clock's decision. */
static void sync_timers(struct sim *s)
{
	if (s->k.periodic) {
		if (s->k.rearm)
			s->timer_at = pace_clock_timer_at(&s->k);
		s->k.rearm = false;
		return;
	}
	s->timer_at = NEVER;
	if (s->k.watch_at != s->watch_for) {
		s->watch_for = s->k.watch_at;
		s->watch_fire = s->watch_for + rnd(s, -50 * US, 1100 * US);
	}
}

static void served(struct sim *s, int64_t now, uint64_t ticks, bool frame)
{
	bool counted = now >= s->from;

	if (getenv("PACE_TRACE"))
		fprintf(stderr, "%9.3f %s ticks %llu next %9.3f %s %9.3f watched %d astray %u\n",
			(double)(now % (100000 * MS)) / MS, frame ? "frame" : "timer",
			(unsigned long long)ticks, (double)(s->k.next % (100000 * MS)) / MS,
			s->k.periodic ? "periodic" : "watch", (double)(s->k.watch_at % (100000 * MS)) / MS,
			s->k.watched, s->k.astray);

	if (counted && !frame)
		s->extra++;
	if (counted && frame)
		s->frames++;
	sync_timers(s);
	if (!ticks)
		return;
	if (counted) {
		if (s->services) {
			int64_t gap = now - s->last_out;
			s->min_gap = gap < s->min_gap ? gap : s->min_gap;
			s->max_gap = gap > s->max_gap ? gap : s->max_gap;
		}
		s->services++;
		s->ticks += ticks;
		s->multi += ticks > 1;
	}
	s->last_out = now;
}

/* Runs the first timer that fires before t; false if none does. */
static bool run_next(struct sim *s, int64_t t)
{
	int64_t w = s->k.periodic ? NEVER : s->watch_fire;
	int64_t tm = s->timer_at == NEVER ? NEVER : s->timer_at + rnd(s, 20 * US, 200 * US);

	if (w < t && w <= tm) {
		s->watch_for = 0;
		served(s, w, pace_clock_watch(&s->k, w), false);
	} else if (tm < t) {
		s->timer_at += P;
		served(s, tm, pace_clock_timer(&s->k, tm), false);
	} else {
		return false;
	}
	return true;
}

static void run_until(struct sim *s, int64_t t)
{
	while (run_next(s, t))
		;
}

static void frame_at(struct sim *s, int64_t t)
{
	run_until(s, t);
	served(s, t, pace_clock_frame(&s->k, t), true);
}

/*
 * A caller writing with Nagle on whom we do not acknowledge at once: after
 * a frame that served nothing, what it writes next waits for our next
 * frame (the acknowledgement rides on it), and goes then in one segment:
 * one wake-up for all the frames it held. Frames every period from sched
 * to end; the wake-ups up to end.
 */
static void unacked_caller(struct sim *s, int64_t sched, int64_t end)
{
	bool held = false;

	while (sched < end) {
		int64_t at = sched;

		run_until(s, at);
		if (held) {
			int64_t out = s->last_out;

			while (s->last_out == out && run_next(s, end))
				;
			if (s->last_out == out)
				break;
			if (s->last_out + 100 * US > at)
				at = s->last_out + 100 * US;
		}
		uint64_t ticks = pace_clock_frame(&s->k, at);

		held = !ticks;
		served(s, at, ticks, true);
		while (sched <= at)	/* what it held went in the same segment */
			sched += P;
	}
	run_until(s, end);
}

/* Counting starts now: what came before is the settling. */
static void measure_from(struct sim *s, int64_t t)
{
	s->from = t;
	s->frames = s->extra = s->ticks = s->services = s->multi = 0;
	s->min_gap = NEVER;
	s->max_gap = 0;
}

/* n steady frames from t, +-j of jitter; returns the time of the next one. */
static int64_t steady(struct sim *s, int64_t t, int n, int64_t j)
{
	for (int i = 0; i < n; i++, t += P)
		frame_at(s, t + (j ? rnd(s, -j, j) : 0));
	return t;
}

#define expect(cond, ...) do { if (!(cond)) fail_msg(__VA_ARGS__); } while (0)

static void expect_one_wakeup_per_frame(const struct sim *s, const char *what, int64_t at)
{
	if (s->extra || s->multi || s->ticks != s->frames)
		fail_msg("%s %.1f ms: %llu frames, %llu extra wake-ups, %llu ticks, "
			 "%llu multi-tick services", what, (double)at / MS,
			 (unsigned long long)s->frames, (unsigned long long)s->extra,
			 (unsigned long long)s->ticks, (unsigned long long)s->multi);
}

static void any_caller_phase_costs_one_wakeup_per_frame(void **state)
{
	(void)state;
	for (int64_t phase = 0; phase < P; phase += 500 * US) {
		struct sim s;
		int64_t t0 = 1000 * MS;

		sim_init(&s, (uint64_t)phase, t0);
		int64_t t = steady(&s, t0 + phase, 10, 300 * US);
		measure_from(&s, t - P / 2);
		steady(&s, t, 300, 300 * US);
		expect_one_wakeup_per_frame(&s, "caller phase", phase);
	}
}

static void a_caller_whose_phase_jumps_is_followed(void **state)
{
	static const int64_t before[] = { -4 * MS, -1 * MS, 0, 1 * MS, 4 * MS };
	(void)state;

	for (size_t b = 0; b < sizeof(before) / sizeof(*before); b++) {
		for (int64_t jump = 500 * US; jump < P; jump += 500 * US) {
			struct sim s;
			int64_t t0 = 1000 * MS;

			sim_init(&s, (uint64_t)(jump + b), t0);
			int64_t t = steady(&s, t0 + P + before[b], 100, 0);
			measure_from(&s, t);
			t = steady(&s, t + jump, 3, 0);
			expect(!s.multi && s.ticks + 1 >= s.frames,	/* a moved clock, no lost frame */
			       "jump %.1f from %.1f ms: %llu multi, %llu ticks for %llu frames",
			       (double)jump / MS, (double)before[b] / MS, (unsigned long long)s.multi,
			       (unsigned long long)s.ticks, (unsigned long long)s.frames);
			measure_from(&s, t - P / 2);
			steady(&s, t, 200, 200 * US);
			expect_one_wakeup_per_frame(&s, "phase jump", jump);
		}
	}
}

static void a_late_frame_loses_nothing_and_passes(void **state)
{
	static const int64_t phase[] = { -4 * MS, -1 * MS, 0, 1 * MS, 4 * MS };
	(void)state;

	for (size_t b = 0; b < sizeof(phase) / sizeof(*phase); b++) {
		for (int64_t late = 500 * US; late < P; late += 500 * US) {
			struct sim s;
			int64_t t0 = 1000 * MS;

			sim_init(&s, (uint64_t)(late + b), t0);
			int64_t t = steady(&s, t0 + P + phase[b], 50, 0);
			measure_from(&s, t - P / 2);
			frame_at(&s, t + late);
			t = steady(&s, t + P, 3, 0);
			/* The watchdog at most twice; every tick served, none doubled. */
			expect(s.extra <= 2 && !s.multi && s.ticks == s.frames &&
			       s.min_gap >= P / 4 && s.max_gap <= P + P / 2 + 1200 * US,
			       "late %.1f at phase %.1f ms: %llu extra, %llu multi, %llu ticks for "
			       "%llu frames, gaps %.1f-%.1f ms", (double)late / MS,
			       (double)phase[b] / MS, (unsigned long long)s.extra,
			       (unsigned long long)s.multi, (unsigned long long)s.ticks,
			       (unsigned long long)s.frames, (double)s.min_gap / MS,
			       (double)s.max_gap / MS);
			measure_from(&s, t - P / 2);
			steady(&s, t, 100, 0);
			expect_one_wakeup_per_frame(&s, "late frame", late);
		}
	}
}

static void a_burst_after_a_hiccup_bursts_no_audio(void **state)
{
	(void)state;
	for (int64_t phase = 0; phase < P; phase += 500 * US) {
		struct sim s;
		int64_t t0 = 1000 * MS;

		sim_init(&s, (uint64_t)phase, t0);
		int64_t t = steady(&s, t0 + P, 50, 200 * US);
		/* 300 ms of nothing: the timer keeps the pace... */
		measure_from(&s, t);
		run_until(&s, t + 300 * MS);
		assert_true(s.ticks >= 14 && s.ticks <= 15);
		assert_int_equal(s.multi, 0);
		/* ...then the 15 held-up frames and 5 more arrive within 1 ms. */
		int64_t burst = t + 300 * MS;
		measure_from(&s, burst);
		for (int i = 0; i < 20; i++)
			frame_at(&s, burst + i * 50 * US);
		/* The caller goes on at some new phase: a second of audio. */
		steady(&s, burst + 1 * MS + phase, 50, 200 * US);
		run_until(&s, burst + 1000 * MS);
		expect(!s.multi && s.ticks >= 48 && s.ticks <= 51 && s.min_gap >= P / 4 &&
		       s.extra <= 2, "burst, then phase %.1f ms: %llu multi, %llu ticks, "
		       "%llu extra, min gap %.1f ms", (double)phase / MS,
		       (unsigned long long)s.multi, (unsigned long long)s.ticks,
		       (unsigned long long)s.extra, (double)s.min_gap / MS);
	}
}

static void a_quiet_caller_gets_a_frame_a_period_from_the_timer(void **state)
{
	struct sim s;
	int64_t t0 = 1000 * MS;
	(void)state;

	sim_init(&s, 7, t0);
	int64_t t = steady(&s, t0 + P, 50, 0);
	measure_from(&s, t);
	run_until(&s, t + 1000 * MS);
	/* The watchdog once, then the timer on every tick. */
	assert_true(s.ticks >= 49 && s.ticks <= 50);
	assert_int_equal(s.multi, 0);
	assert_true(s.extra <= s.ticks + 1);
	assert_true(s.max_gap <= P + P / 2 + 1200 * US);
	/* One late frame where the caller stopped, then none early: the
	 * ticks walk back from the watchdog's lateness. */
	expect(s.min_gap >= P - 2200 * US, "a frame %.1f ms after the one before",
	       (double)s.min_gap / MS);
	/* The caller back: its frames serve again, the timer stops. */
	t = steady(&s, t + 1000 * MS + 7 * MS, 5, 0);
	measure_from(&s, t - P / 2);
	steady(&s, t, 100, 200 * US);
	expect_one_wakeup_per_frame(&s, "back from quiet", 0);
}

/* The walk after a rephase: every interval within SLEW of a period (the timer's lateness and the caller's jitter on top). */
#define WALKED(s) ((s)->max_gap <= P + 2600 * US && (s)->min_gap >= P - 2600 * US)

/*
 * After a rephase at `from`: n caller frames from t walk onto the caller
 * without a jump, then 200 more cost one wake-up each.
 */
static void expect_a_walk(struct sim *s, int64_t from, int64_t t, int n, const char *what,
			  int64_t at)
{
	measure_from(s, from);
	t = steady(s, t, n, 200 * US);
	expect(!s->multi && WALKED(s) && s->extra <= 8,
	       "%s %.1f ms: %llu multi, %llu extra wake-ups, intervals %.2f-%.2f ms", what,
	       (double)at / MS, (unsigned long long)s->multi, (unsigned long long)s->extra,
	       (double)s->min_gap / MS, (double)s->max_gap / MS);
	measure_from(s, t - P / 2);
	steady(s, t, 200, 200 * US);
	expect_one_wakeup_per_frame(s, what, at);
}

static void a_reply_rephase_at_any_time_walks_onto_the_caller(void **state)
{
	(void)state;
	for (int64_t at = 0; at < P; at += 500 * US) {
		struct sim s;
		int64_t t0 = 1000 * MS;

		sim_init(&s, (uint64_t)at + 3, t0);
		int64_t t = steady(&s, t0 + P, 50, 200 * US);
		run_until(&s, t - P + at);
		pace_clock_rephase(&s.k, t - P + at);
		sync_timers(&s);
		/* From the reply's first frame: no jump back onto the caller. */
		expect_a_walk(&s, t - P + at, t, 8, "rephase at", at);
	}
}

static void a_rephase_after_batched_reads_walks_onto_the_caller(void **state)
{
	(void)state;
	/* [call] send_silence = no: the pacer stopped, nothing fed it for 300 ms. */
	for (int64_t phase = 0; phase < P; phase += 500 * US) {
		struct sim s;
		int64_t t0 = 1000 * MS;

		sim_init(&s, (uint64_t)phase + 5, t0);
		int64_t t = steady(&s, t0 + P, 20, 200 * US) + 300 * MS;
		int64_t at = t + phase;

		pace_clock_rephase(&s.k, at);
		sync_timers(&s);
		s.watch_for = s.k.watch_at;	/* the paused watchdog did not fire */
		expect_a_walk(&s, at, t + P, 10, "resumed at", phase);
	}
}

static void caller_frames_of_10_or_30_ms_get_our_20_ms_pace(void **state)
{
	static const int64_t framing[] = { 10 * MS, 30 * MS };
	(void)state;

	/* Asterisk sends what the channel's framing gives (protocols.md 7.1). */
	for (size_t f = 0; f < sizeof(framing) / sizeof(*framing); f++) {
		for (int64_t phase = 0; phase < P; phase += 1 * MS) {
			struct sim s;
			int64_t t0 = 1000 * MS, t = t0 + phase;

			sim_init(&s, (uint64_t)(phase + f), t0);
			for (; t < t0 + 500 * MS; t += framing[f])
				frame_at(&s, t + rnd(&s, -300 * US, 300 * US));
			measure_from(&s, t);
			int64_t end = t + 2000 * MS;

			for (; t < end; t += framing[f])
				frame_at(&s, t + rnd(&s, -300 * US, 300 * US));
			run_until(&s, end);
			expect(s.ticks >= 99 && s.ticks <= 101 && !s.multi && s.min_gap >= P / 4 &&
			       s.max_gap <= P + P / 2 + 1200 * US,
			       "%lld ms frames at phase %.1f ms: %llu ticks in 2 s, %llu multi, "
			       "gaps %.1f-%.1f ms", (long long)(framing[f] / MS), (double)phase / MS,
			       (unsigned long long)s.ticks, (unsigned long long)s.multi,
			       (double)s.min_gap / MS, (double)s.max_gap / MS);
		}
	}
}

static void a_caller_we_do_not_acknowledge_keeps_our_pace(void **state)
{
	(void)state;
	for (int64_t late = 11 * MS; late < P; late += 1 * MS) {
		struct sim s;
		int64_t t0 = 1000 * MS;

		/* Its frames move into the watchdog's shadow, and its Nagle keeps them there. */
		sim_init(&s, (uint64_t)late, t0);
		int64_t t = steady(&s, t0 + P, 50, 0);
		measure_from(&s, t);
		unacked_caller(&s, t + late, t + 2000 * MS);
		expect(s.ticks >= 98 && !s.multi, "unacknowledged caller %.0f ms late: "
		       "%llu ticks in 2 s, %llu multi", (double)late / MS,
		       (unsigned long long)s.ticks, (unsigned long long)s.multi);
	}
}

static void jitter_at_half_a_period_does_not_slip(void **state)
{
	struct sim s;
	int64_t t0 = 1000 * MS;
	(void)state;

	/* Caller frames ~9.5 ms before the ticks, +-1 ms: the window's edge. */
	sim_init(&s, 11, t0);
	int64_t t = steady(&s, t0 + P - 9500 * US, 2, 1 * MS);
	measure_from(&s, t - P / 2);
	steady(&s, t, 300, 1 * MS);
	expect_one_wakeup_per_frame(&s, "jitter", 0);
}

static void a_late_wakeup_reports_the_ticks_it_missed(void **state)
{
	struct sim s;
	int64_t t0 = 1000 * MS;
	(void)state;

	sim_init(&s, 5, t0);
	int64_t t = steady(&s, t0 + P, 10, 0);
	/* Starved for 100 ms, the watchdog included: five ticks were due. */
	assert_int_equal(pace_clock_frame(&s.k, t + 80 * MS), 5);
	sync_timers(&s);
	measure_from(&s, t + 90 * MS);
	steady(&s, t + 100 * MS, 10, 0);
	expect_one_wakeup_per_frame(&s, "after starving", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(any_caller_phase_costs_one_wakeup_per_frame),
		cmocka_unit_test(a_caller_whose_phase_jumps_is_followed),
		cmocka_unit_test(a_late_frame_loses_nothing_and_passes),
		cmocka_unit_test(a_burst_after_a_hiccup_bursts_no_audio),
		cmocka_unit_test(a_quiet_caller_gets_a_frame_a_period_from_the_timer),
		cmocka_unit_test(a_reply_rephase_at_any_time_walks_onto_the_caller),
		cmocka_unit_test(a_rephase_after_batched_reads_walks_onto_the_caller),
		cmocka_unit_test(caller_frames_of_10_or_30_ms_get_our_20_ms_pace),
		cmocka_unit_test(a_caller_we_do_not_acknowledge_keeps_our_pace),
		cmocka_unit_test(jitter_at_half_a_period_does_not_slip),
		cmocka_unit_test(a_late_wakeup_reports_the_ticks_it_missed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
