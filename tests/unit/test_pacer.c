/*
 * test_pacer.c - unit tests for worker/pacer.h, the caller-driven clock.
 *
 * Protects (issue 10): a steady caller gets exactly one outbound frame per
 * frame it sends, a burst of its frames never bursts ours, a phase left
 * near half a period by a rephase does not make jitter slip a frame, and
 * a late wake-up reports every tick it missed. The timer is never
 * dispatched here: only the inbound side is driven, with chosen times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/event.h>

#include "../../common/vg_time.h"
#include "../../worker/pacer.h"

#define MS NS_PER_MS

struct rec {
	uint64_t calls, ticks, last;
};

static void on_pace(void *arg, uint64_t ticks)
{
	struct rec *r = arg;

	r->calls++;
	r->ticks += ticks;
	r->last = ticks;
}

struct fix {
	struct event_base *base;
	struct pacer *p;
	struct rec r;
	int64_t first;		/* the first tick, within 1 ms */
};

static int setup(void **state)
{
	static struct fix f;

	f = (struct fix){ .base = event_base_new() };
	f.first = mono_ns() + 20 * MS;
	assert_int_equal(pacer_start(&f.p, f.base, 20, on_pace, &f.r), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	pacer_stop(f->p);
	event_base_free(f->base);
	return 0;
}

static void a_steady_caller_gets_one_frame_per_frame(void **state)
{
	struct fix *f = *state;

	for (int k = 0; k < 500; k++) {
		uint64_t before = f->r.ticks;
		pacer_inbound(f->p, f->first + k * 20 * MS + 1 * MS);
		assert_int_equal(f->r.ticks - before, 1);
	}
}

static void a_burst_of_caller_frames_serves_no_more(void **state)
{
	struct fix *f = *state;
	int64_t t = f->first;

	for (int k = 0; k < 50; k++, t += 20 * MS)
		pacer_inbound(f->p, t);
	/* 20 frames held up by the network arrive within a millisecond. */
	for (int k = 0; k < 20; k++)
		pacer_inbound(f->p, t + k * 50 * NS_PER_US);
	assert_int_equal(f->r.ticks, 51);
	for (int k = 1; k <= 50; k++)
		pacer_inbound(f->p, t + k * 20 * MS);
	assert_int_equal(f->r.ticks, 101);
}

static void jitter_at_half_a_period_does_not_slip(void **state)
{
	struct fix *f = *state;

	/* Caller frames ~9.5 ms before the ticks, +-1 ms: the window's edge. */
	for (int k = 0; k < 300; k++) {
		uint64_t before = f->r.ticks;
		int64_t jitter = (k % 3 - 1) * MS;
		pacer_inbound(f->p, f->first + k * 20 * MS - 9500 * NS_PER_US + jitter);
		if (k >= 2)
			assert_int_equal(f->r.ticks - before, 1);
	}
}

static void a_late_wakeup_reports_the_ticks_it_missed(void **state)
{
	struct fix *f = *state;
	int64_t t = f->first;

	pacer_inbound(f->p, t);
	/* Starved for 100 ms: five ticks were due, the caller decides how many play. */
	pacer_inbound(f->p, t + 100 * MS);
	assert_int_equal(f->r.last, 5);
	for (int k = 1; k <= 10; k++) {
		uint64_t before = f->r.ticks;
		pacer_inbound(f->p, t + 100 * MS + k * 20 * MS);
		assert_int_equal(f->r.ticks - before, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_steady_caller_gets_one_frame_per_frame,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_burst_of_caller_frames_serves_no_more,
						setup, teardown),
		cmocka_unit_test_setup_teardown(jitter_at_half_a_period_does_not_slip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_late_wakeup_reports_the_ticks_it_missed,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
