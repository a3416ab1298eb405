/*
 * test_audio.c - unit tests for common/audio.h.
 *
 * Protects: rate conversion between the AudioSocket rates and our sources
 * (output length n * out_rate / in_rate, a slow tone kept closely, the
 * same rate left untouched, no write past out_cap, interpolated samples
 * between their neighbours even for full-scale steps) and the RMS level
 * used for energy checks.
 * Never: compares against a band-limited reference; the resampler is
 * documented as linear interpolation, so tolerances are set for that.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/audio.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static void sine(int16_t *s, size_t n, int rate, double hz, double amp)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (int16_t)lrint(amp * sin(2 * M_PI * hz * (double)i / rate));
}

/* Largest distance between s and the ideal tone sampled at rate. */
static double max_error(const int16_t *s, size_t n, int rate, double hz, double amp)
{
	double worst = 0;

	for (size_t i = 0; i < n; i++) {
		double e = fabs(s[i] - amp * sin(2 * M_PI * hz * (double)i / rate));
		if (e > worst)
			worst = e;
	}
	return worst;
}

static void test_upsample_8k_to_16k_doubles_length_and_keeps_slow_sine(void **state)
{
	(void)state;
	static int16_t in[800], out[1700];

	sine(in, 800, 8000, 200, 10000);	/* 100 ms of 200 Hz */
	assert_int_equal(audio_resample(in, 800, 8000, out, 1700, 16000), 1600);
	/*
	 * Linear interpolation of 200 Hz at 8 kHz: error about 31 at most. The
	 * last output lies beyond the last input, with nothing to interpolate
	 * towards, so it is left out.
	 */
	double e = max_error(out, 1599, 16000, 200, 10000);
	if (e > 60)
		fail_msg("max error %.1f against the ideal 200 Hz tone", e);
	/* The original samples are where they were. */
	for (size_t i = 0; i < 800; i++)
		assert_int_equal(out[2 * i], in[i]);
	/* And the tone is really there (not, say, all zeros). */
	double rms = audio_rms(out, 1600);
	assert_true(fabs(rms - 10000 / sqrt(2)) < 100);
}

static void test_downsample_16k_to_8k_halves_length(void **state)
{
	(void)state;
	static int16_t in[1600], out[900];

	sine(in, 1600, 16000, 300, 12000);
	assert_int_equal(audio_resample(in, 1600, 16000, out, 900, 8000), 800);
	double e = max_error(out, 800, 8000, 300, 12000);
	if (e > 2)
		fail_msg("max error %.1f against the ideal 300 Hz tone", e);
	/* Odd input length rounds down. */
	assert_int_equal(audio_resample(in, 1599, 16000, out, 900, 8000), 799);
}

static void test_same_rate_is_identity(void **state)
{
	(void)state;
	int16_t in[257], out[257];

	for (size_t i = 0; i < 257; i++)
		in[i] = (int16_t)((i * 40503u) ^ 0x8000u);
	in[0] = INT16_MIN;
	in[1] = INT16_MAX;
	memset(out, 0, sizeof(out));
	assert_int_equal(audio_resample(in, 257, 16000, out, 257, 16000), 257);
	assert_memory_equal(out, in, sizeof(in));
}

static void test_output_length_rounds_down(void **state)
{
	(void)state;
	static int16_t in[441], out[1000];

	sine(in, 441, 44100, 440, 8000);
	/* 10 ms at 44.1 kHz is 80 samples at 8 kHz. */
	assert_int_equal(audio_resample(in, 441, 44100, out, 1000, 8000), 80);
	assert_int_equal(audio_resample(in, 440, 44100, out, 1000, 8000), 79);
	assert_int_equal(audio_resample(in, 3, 8000, out, 1000, 16000), 6);
	assert_int_equal(audio_resample(in, 0, 8000, out, 1000, 16000), 0);
}

static void test_resample_never_writes_past_out_cap(void **state)
{
	(void)state;
	int16_t in[100], out[64];

	sine(in, 100, 8000, 200, 5000);
	for (size_t i = 0; i < 64; i++)
		out[i] = 0x5a5a;
	size_t n = audio_resample(in, 100, 8000, out, 50, 16000);
	assert_true(n >= 50 && n <= 200);
	for (size_t i = 50; i < 64; i++)
		assert_int_equal(out[i], 0x5a5a);
	/* What was written is the start of the full conversion. */
	for (size_t i = 0; i < 25; i++)
		assert_int_equal(out[2 * i], in[i]);
}

static void test_rms_of_full_scale_square_wave(void **state)
{
	(void)state;
	int16_t s[160];

	for (size_t i = 0; i < 160; i++)
		s[i] = (i / 10) % 2 ? -32767 : 32767;
	assert_true(fabs(audio_rms(s, 160) - 32767.0) < 1e-6);

	/* Using the most negative value too: sqrt((32768^2 + 32767^2) / 2). */
	for (size_t i = 0; i < 160; i++)
		s[i] = i % 2 ? INT16_MIN : INT16_MAX;
	assert_true(fabs(audio_rms(s, 160) - sqrt((32768.0 * 32768 + 32767.0 * 32767) / 2)) < 1e-6);
}

static void test_rms_of_silence_sine_and_nothing(void **state)
{
	(void)state;
	static int16_t s[8000];

	memset(s, 0, sizeof(s));
	assert_true(audio_rms(s, 8000) == 0);
	assert_true(audio_rms(s, 0) == 0);
	sine(s, 8000, 8000, 400, 20000);	/* whole periods */
	assert_true(fabs(audio_rms(s, 8000) - 20000 / sqrt(2)) < 1);
}

/*
 * Full-scale steps (a clipped or square signal) converted to a rate with
 * interpolated positions: each output lies between the two input samples
 * it is interpolated from. 8 kHz -> 24 kHz puts outputs at 1/3 and 2/3.
 * Kept last: under UBSan (make SAN=1) an arithmetic overflow inside the
 * resampler stops the process here.
 */
static void test_resample_full_scale_steps_stay_between_neighbours(void **state)
{
	(void)state;
	static const int rates[][2] = {
		{ 8000, 24000 }, { 8000, 12000 }, { 16000, 24000 }, { 44100, 8000 },
		{ 24000, 16000 },
	};
	int16_t in[64], out[400];

	for (size_t i = 0; i < 64; i++)
		in[i] = i % 2 ? INT16_MAX : INT16_MIN;
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		int ir = rates[r][0], orate = rates[r][1];
		size_t n = audio_resample(in, 64, ir, out, 400, orate);
		assert_int_equal(n, (size_t)64 * (size_t)orate / (size_t)ir);
		for (size_t i = 0; i < n; i++) {
			double pos = (double)i * ir / orate;
			size_t k = (size_t)pos;
			double frac = pos - (double)k;
			int a = in[k], b = k + 1 < 64 ? in[k + 1] : a;
			double want = a + (b - a) * frac;
			if (fabs(out[i] - want) > 2)
				fail_msg("%d -> %d Hz: out[%zu] = %d, want about %.1f", ir, orate,
					 i, out[i], want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upsample_8k_to_16k_doubles_length_and_keeps_slow_sine),
		cmocka_unit_test(test_downsample_16k_to_8k_halves_length),
		cmocka_unit_test(test_same_rate_is_identity),
		cmocka_unit_test(test_output_length_rounds_down),
		cmocka_unit_test(test_resample_never_writes_past_out_cap),
		cmocka_unit_test(test_rms_of_full_scale_square_wave),
		cmocka_unit_test(test_rms_of_silence_sine_and_nothing),
		cmocka_unit_test(test_resample_full_scale_steps_stay_between_neighbours),
	};

	return cmocka_run_group_tests_name("audio", tests, NULL, NULL);
}
