/*
 * test_breaker.c - unit tests for the providers' circuit breakers
 * (worker/breaker.c) and the local voice's resampler (worker/resample.c).
 *
 * Protects (issues 11 and 13): K failures within the window open a stage,
 * fewer or older ones do not; an open stage sends calls elsewhere until the
 * cool-down, then exactly one call probes; the probe's success closes the
 * stage, its failure opens it again; a probe that never answers expires;
 * a probe is not given while another stage is down. The resampler keeps a
 * tone below the call's Nyquist frequency and removes one above it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/vg_time.h"
#include "../../worker/breaker.h"
#include "../../worker/resample.h"

static const struct brk_limits lim = { 3, 30 * NS_PER_S, 10 * NS_PER_S };
#define T0 (1000 * NS_PER_S)

static void failure(struct brk_section *b, enum brk_stage s, int64_t at)
{
	brk_report(b, &lim, s, false, at);
}

static void test_k_failures_in_the_window_open(void **st)
{
	struct brk_section b = { 0 };
	(void)st;

	failure(&b, BRK_LLM, T0);
	failure(&b, BRK_LLM, T0 + NS_PER_S);
	assert_int_equal(brk_route(&b, &lim, T0 + 2 * NS_PER_S), 0);
	failure(&b, BRK_LLM, T0 + 2 * NS_PER_S);
	assert_int_equal(atomic_load(&b.st[BRK_LLM].state), BRK_OPEN);
	assert_int_equal(brk_route(&b, &lim, T0 + 3 * NS_PER_S), 1u << BRK_LLM);
	assert_int_equal(atomic_load(&b.st[BRK_LLM].opened_total), 1);
	assert_int_equal(atomic_load(&b.st[BRK_STT].state), BRK_CLOSED);
}

static void test_old_failures_leave_the_window(void **st)
{
	struct brk_section b = { 0 };
	(void)st;

	failure(&b, BRK_TTS, T0);
	failure(&b, BRK_TTS, T0 + NS_PER_S);
	assert_int_equal(brk_recent(&b, &lim, BRK_TTS, T0 + 2 * NS_PER_S), 2);
	/* 40 s later both are out of the 30 s window: a third does not open. */
	failure(&b, BRK_TTS, T0 + 40 * NS_PER_S);
	assert_int_equal(brk_recent(&b, &lim, BRK_TTS, T0 + 40 * NS_PER_S), 1);
	assert_int_equal(atomic_load(&b.st[BRK_TTS].state), BRK_CLOSED);
	assert_int_equal(atomic_load(&b.st[BRK_TTS].failures_total), 3);
}

static void test_one_probe_after_the_cooldown_then_closed(void **st)
{
	struct brk_section b = { 0 };
	int64_t t = T0;
	(void)st;

	for (int i = 0; i < 3; i++)
		failure(&b, BRK_LLM, t);
	assert_int_equal(brk_route(&b, &lim, t + 9 * NS_PER_S), 1u << BRK_LLM);
	t += 11 * NS_PER_S;
	assert_int_equal(brk_route(&b, &lim, t), 0);		/* this call probes */
	assert_int_equal(atomic_load(&b.st[BRK_LLM].state), BRK_HALF_OPEN);
	assert_int_equal(brk_route(&b, &lim, t + 1), 1u << BRK_LLM);	/* the next does not */
	/* A success of an older call while open would not close; the probe's does. */
	brk_report(&b, &lim, BRK_LLM, true, t + NS_PER_S);
	assert_int_equal(atomic_load(&b.st[BRK_LLM].state), BRK_CLOSED);
	assert_int_equal(brk_recent(&b, &lim, BRK_LLM, t + NS_PER_S), 0);
	assert_int_equal(brk_route(&b, &lim, t + 2 * NS_PER_S), 0);
}

static void test_success_while_open_does_not_close(void **st)
{
	struct brk_section b = { 0 };
	(void)st;

	for (int i = 0; i < 3; i++)
		failure(&b, BRK_STT, T0);
	brk_report(&b, &lim, BRK_STT, true, T0 + NS_PER_S);
	assert_int_equal(atomic_load(&b.st[BRK_STT].state), BRK_OPEN);
}

static void test_failed_probe_reopens_and_a_lost_one_expires(void **st)
{
	struct brk_section b = { 0 };
	int64_t t = T0 + 11 * NS_PER_S;
	(void)st;

	for (int i = 0; i < 3; i++)
		failure(&b, BRK_LLM, T0);
	assert_int_equal(brk_route(&b, &lim, t), 0);
	failure(&b, BRK_LLM, t + NS_PER_S);
	assert_int_equal(atomic_load(&b.st[BRK_LLM].state), BRK_OPEN);
	assert_int_equal(brk_route(&b, &lim, t + 5 * NS_PER_S), 1u << BRK_LLM);
	/* Cooled again: a probe; it never reports; after a cool-down, another. */
	t += 12 * NS_PER_S;
	assert_int_equal(brk_route(&b, &lim, t), 0);
	assert_int_equal(brk_route(&b, &lim, t + 5 * NS_PER_S), 1u << BRK_LLM);
	assert_int_equal(brk_route(&b, &lim, t + 11 * NS_PER_S), 0);
	assert_int_equal(atomic_load(&b.st[BRK_LLM].opened_total), 2);
}

static void test_no_probe_while_another_stage_is_down(void **st)
{
	struct brk_section b = { 0 };
	(void)st;

	for (int i = 0; i < 3; i++)
		failure(&b, BRK_LLM, T0);
	for (int i = 0; i < 3; i++)
		failure(&b, BRK_TTS, T0 + 5 * NS_PER_S);
	/* LLM cooled, TTS not: the call overflows and the LLM probe stays free. */
	assert_int_equal(brk_route(&b, &lim, T0 + 11 * NS_PER_S), 1u << BRK_TTS);
	assert_int_equal(atomic_load(&b.st[BRK_LLM].state), BRK_OPEN);
	assert_int_equal(brk_route(&b, &lim, T0 + 16 * NS_PER_S), 0);	/* both probe */
}

static void test_no_section_routes_nothing(void **st)
{
	(void)st;
	brk_report(NULL, &lim, BRK_LLM, false, T0);
	assert_int_equal(brk_route(NULL, &lim, T0), 0);
}

/* RMS of a tone of hz at in_rate after resampling to out_rate. */
static double tone_after(double hz, int in_rate, int out_rate)
{
	static int16_t in[22050], out[22050];
	size_t n = (size_t)in_rate / 2, m;
	double acc = 0;

	for (size_t i = 0; i < n; i++)
		in[i] = (int16_t)(10000 * sin(2 * M_PI * hz * (double)i / in_rate));
	m = resample(in, n, in_rate, out, out_rate);
	assert_int_equal(m, resample_len(n, in_rate, out_rate));
	for (size_t i = m / 4; i < 3 * m / 4; i++)	/* away from the edges */
		acc += (double)out[i] * out[i];
	return sqrt(acc / (double)(m / 2));
}

static void test_resampler_keeps_speech_and_drops_aliases(void **st)
{
	(void)st;
	double kept = tone_after(1000, 22050, 8000);
	double alias = tone_after(6000, 22050, 8000);	/* would fold to 2 kHz */

	assert_true(kept > 6500 && kept < 7600);	/* 10000 / sqrt(2) */
	assert_true(alias < 150);
	assert_true(tone_after(1000, 22050, 16000) > 6500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_k_failures_in_the_window_open),
		cmocka_unit_test(test_old_failures_leave_the_window),
		cmocka_unit_test(test_one_probe_after_the_cooldown_then_closed),
		cmocka_unit_test(test_success_while_open_does_not_close),
		cmocka_unit_test(test_failed_probe_reopens_and_a_lost_one_expires),
		cmocka_unit_test(test_no_probe_while_another_stage_is_down),
		cmocka_unit_test(test_no_section_routes_nothing),
		cmocka_unit_test(test_resampler_keeps_speech_and_drops_aliases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
