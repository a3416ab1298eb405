/*
 * test_emu_vad.c - unit tests for tests/emu/emu_dg_vad.c, the energy
 * detector of vagent-emu's Deepgram test double.
 *
 * Protects: one verdict per 20 ms window, whatever the message sizes
 * (a sample split across messages included); the threshold is RMS >=
 * --vad-rms exactly; G.711 is decoded before the energy; channels are
 * mixed to mono first (opposite channels cancel), as the emulator always
 * heard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../tests/emu/emu.h"
#include "../../tests/emu/emu_dg.h"

struct verdicts {
	bool v[64];
	size_t frames[64];
	size_t n;
};

static void on_window(void *arg, size_t frames, bool voiced)
{
	struct verdicts *r = arg;

	if (r->n < 64) {
		r->v[r->n] = voiced;
		r->frames[r->n] = frames;
	}
	r->n++;
}

/* 8 kHz mono linear16: windows of amplitude amp[i] (a square wave). */
static size_t pcm(uint8_t *out, const int *amp, size_t nwin)
{
	size_t o = 0;

	for (size_t w = 0; w < nwin; w++)
		for (int i = 0; i < 160; i++) {
			int16_t s = (int16_t)(i & 1 ? -amp[w] : amp[w]);

			out[o++] = (uint8_t)(s & 0xff);
			out[o++] = (uint8_t)((uint16_t)s >> 8);
		}
	return o;
}

static void feed_in_pieces(struct dg_vad *v, const uint8_t *p, size_t len, size_t piece,
			   struct verdicts *r)
{
	for (size_t off = 0; off < len; off += piece)
		dg_vad_feed(v, p + off, len - off < piece ? len - off : piece, on_window, r);
}

static void message_size_does_not_change_the_verdicts(void **state)
{
	static const int amp[] = { 0, 2000, 2000, 30, 0, 900 };
	uint8_t buf[6 * 320];
	size_t len = pcm(buf, amp, 6);
	static const size_t pieces[] = { 1, 7, 320, 333, sizeof(buf) };
	(void)state;

	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		struct dg_vad v;
		struct verdicts r = { 0 };

		dg_vad_init(&v, DG_ENC_LINEAR16, 1, 8000, 500);
		feed_in_pieces(&v, buf, len, pieces[k], &r);
		assert_int_equal(r.n, 6);
		for (size_t i = 0; i < 6; i++) {
			assert_int_equal(r.frames[i], 160);
			assert_int_equal(r.v[i], amp[i] >= 500);
		}
	}
}

static void threshold_is_rms_at_least_vad_rms(void **state)
{
	static const int amp[] = { 500, 499 };
	uint8_t buf[2 * 320];
	struct dg_vad v;
	struct verdicts r = { 0 };
	(void)state;

	dg_vad_init(&v, DG_ENC_LINEAR16, 1, 8000, 500);
	dg_vad_feed(&v, buf, pcm(buf, amp, 2), on_window, &r);
	assert_int_equal(r.n, 2);
	assert_true(r.v[0]);
	assert_false(r.v[1]);
}

static void g711_is_decoded_first(void **state)
{
	uint8_t mu[320], a[320];
	struct dg_vad v;
	struct verdicts r = { 0 };
	(void)state;

	for (int i = 0; i < 160; i++) {	/* a loud window, then a quiet one */
		mu[i] = emu_ulaw_encode((int16_t)(i & 1 ? -3000 : 3000));
		mu[160 + i] = emu_ulaw_encode((int16_t)(i & 1 ? -100 : 100));
		a[i] = emu_alaw_encode((int16_t)(i & 1 ? -3000 : 3000));
		a[160 + i] = emu_alaw_encode((int16_t)(i & 1 ? -100 : 100));
	}
	dg_vad_init(&v, DG_ENC_MULAW, 1, 8000, 500);
	feed_in_pieces(&v, mu, sizeof(mu), 33, &r);
	dg_vad_init(&v, DG_ENC_ALAW, 1, 8000, 500);
	feed_in_pieces(&v, a, sizeof(a), 320, &r);
	assert_int_equal(r.n, 4);
	assert_true(r.v[0]);
	assert_false(r.v[1]);
	assert_true(r.v[2]);
	assert_false(r.v[3]);
}

static void channels_are_mixed_before_the_energy(void **state)
{
	uint8_t buf[160 * 4 * 2];
	struct dg_vad v;
	struct verdicts r = { 0 };
	size_t o = 0;
	(void)state;

	for (int w = 0; w < 2; w++)	/* window 0: L = -R (silence); window 1: L = R */
		for (int i = 0; i < 160; i++) {
			int16_t l = 4000, rr = (int16_t)(w ? 4000 : -4000);

			buf[o++] = (uint8_t)(l & 0xff);
			buf[o++] = (uint8_t)((uint16_t)l >> 8);
			buf[o++] = (uint8_t)(rr & 0xff);
			buf[o++] = (uint8_t)((uint16_t)rr >> 8);
		}
	dg_vad_init(&v, DG_ENC_LINEAR16, 2, 8000, 500);
	feed_in_pieces(&v, buf, o, 3, &r);
	assert_int_equal(r.n, 2);
	assert_false(r.v[0]);
	assert_true(r.v[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_size_does_not_change_the_verdicts),
		cmocka_unit_test(threshold_is_rms_at_least_vad_rms),
		cmocka_unit_test(g711_is_decoded_first),
		cmocka_unit_test(channels_are_mixed_before_the_energy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
