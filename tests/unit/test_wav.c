/*
 * test_wav.c - unit tests for common/wav.h.
 *
 * Protects: the one WAV format vagent plays and records (16-bit PCM mono):
 * what wav_save writes, wav_load reads back unchanged; files from other
 * tools with extra chunks (LIST, fact, an 18-byte fmt) still load; stereo,
 * 8-bit, non-PCM and non-RIFF files are refused with a message that says
 * why; and an incrementally written recording has a correct header.
 * Never: leaves files behind; each is a mkstemp() file removed by teardown.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/wav.h"

#define MAX_TMP 8

static char tmp_paths[MAX_TMP][4096];
static int ntmp;

static const char *tmp_file(void)
{
	const char *d = getenv("TMPDIR");

	assert_true(ntmp < MAX_TMP);
	char *p = tmp_paths[ntmp++];
	snprintf(p, sizeof(tmp_paths[0]), "%s/vagent-test-wav-XXXXXX", d && *d ? d : "/tmp");
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	close(fd);
	return p;
}

static int cleanup(void **state)
{
	(void)state;
	for (int i = 0; i < ntmp; i++)
		unlink(tmp_paths[i]);
	ntmp = 0;
	return 0;
}

/* A little-endian byte builder for hand-made files. */
struct bytes {
	uint8_t b[8192];
	size_t n;
};

static void put(struct bytes *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put16(struct bytes *o, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	put(o, b, 2);
}

static void put32(struct bytes *o, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(o, b, 4);
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void riff_start(struct bytes *o)
{
	o->n = 0;
	put(o, "RIFF", 4);
	put32(o, 0);		/* fixed by riff_end */
	put(o, "WAVE", 4);
}

static void riff_end(struct bytes *o)
{
	uint32_t size = (uint32_t)o->n - 8;
	memcpy(o->b + 4, (uint8_t[4]){ (uint8_t)size, (uint8_t)(size >> 8),
				       (uint8_t)(size >> 16), (uint8_t)(size >> 24) }, 4);
}

static void fmt_chunk(struct bytes *o, uint16_t tag, uint16_t channels, uint32_t rate,
		      uint16_t bits, int extended)
{
	put(o, "fmt ", 4);
	put32(o, extended ? 18 : 16);
	put16(o, tag);
	put16(o, channels);
	put32(o, rate);
	put32(o, rate * channels * bits / 8);
	put16(o, (uint16_t)(channels * bits / 8));
	put16(o, bits);
	if (extended)
		put16(o, 0);	/* cbSize */
}

static void data_chunk(struct bytes *o, const int16_t *s, size_t n)
{
	put(o, "data", 4);
	put32(o, (uint32_t)(n * 2));
	for (size_t i = 0; i < n; i++)
		put16(o, (uint16_t)s[i]);
}

static const char *write_bytes(const struct bytes *o)
{
	const char *p = tmp_file();
	FILE *fp = fopen(p, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(o->b, 1, o->n, fp), o->n);
	assert_int_equal(fclose(fp), 0);
	return p;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	size_t n = fread(buf, 1, cap, fp);
	fclose(fp);
	return n;
}

/* wav_load must refuse path with an error containing why. */
static void assert_load_refused(const char *path, const char *why)
{
	struct wav w;
	char err[512] = "";
	int rc = wav_load(path, &w, err, sizeof(err));

	if (rc == 0) {
		wav_free(&w);
		fail_msg("%s loaded; expected refusal for \"%s\"", path, why);
	}
	assert_true(rc < 0);
	assert_null(w.samples);
	if (!strstr(err, why))
		fail_msg("error \"%s\" does not mention \"%s\"", err, why);
}

static void sweep(int16_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (int16_t)((i * 2654435761u) >> 16);	/* every bit pattern varies */
	if (n > 2) {
		s[0] = INT16_MIN;
		s[1] = INT16_MAX;
	}
}

static void round_trip(int rate)
{
	static int16_t s[16000];
	const char *p = tmp_file();
	struct wav w;
	char err[256] = "";

	sweep(s, 16000);
	assert_int_equal(wav_save(p, rate, s, 16000), 0);
	assert_int_equal(wav_load(p, &w, err, sizeof(err)), 0);
	assert_int_equal(w.rate, rate);
	assert_int_equal(w.nsamples, 16000);
	assert_memory_equal(w.samples, s, sizeof(s));
	wav_free(&w);
	assert_null(w.samples);
	assert_int_equal(w.nsamples, 0);
}

static void test_save_then_load_round_trips_8000(void **state)
{
	(void)state;
	round_trip(8000);
}

static void test_save_then_load_round_trips_16000(void **state)
{
	(void)state;
	round_trip(16000);
}

static void test_saved_file_has_canonical_header(void **state)
{
	(void)state;
	int16_t s[10] = { 1, -1, 2, -2, 3, -3, 4, -4, 5, -5 };
	uint8_t b[128];
	const char *p = tmp_file();

	assert_int_equal(wav_save(p, 16000, s, 10), 0);
	assert_int_equal(read_file(p, b, sizeof(b)), 64);
	assert_memory_equal(b, "RIFF", 4);
	assert_int_equal(get32(b + 4), 56);
	assert_memory_equal(b + 8, "WAVEfmt ", 8);
	assert_int_equal(get32(b + 24), 16000);
	assert_int_equal(get32(b + 28), 32000);	/* bytes per second */
	assert_memory_equal(b + 36, "data", 4);
	assert_int_equal(get32(b + 40), 20);
	/* Samples are little-endian. */
	assert_int_equal(b[44], 1);
	assert_int_equal(b[45], 0);
	assert_int_equal(b[46], 0xff);
	assert_int_equal(b[47], 0xff);
}

static void test_empty_recording_loads_as_zero_samples(void **state)
{
	(void)state;
	const char *p = tmp_file();
	int16_t none[1] = { 0 };
	struct wav w;
	char err[256] = "";

	assert_int_equal(wav_save(p, 8000, none, 0), 0);
	assert_int_equal(wav_load(p, &w, err, sizeof(err)), 0);
	assert_int_equal(w.rate, 8000);
	assert_int_equal(w.nsamples, 0);
	wav_free(&w);
}

static void test_extra_chunks_before_data_are_skipped(void **state)
{
	(void)state;
	int16_t s[300];
	struct bytes o;
	struct wav w;
	char err[256] = "";

	sweep(s, 300);
	riff_start(&o);
	put(&o, "LIST", 4);		/* as sox and Audacity write */
	put32(&o, 26);
	put(&o, "INFOISFT", 8);
	put32(&o, 14);
	put(&o, "Lavf58.76.100\0", 14);
	fmt_chunk(&o, 1, 1, 16000, 16, 0);
	put(&o, "fact", 4);
	put32(&o, 4);
	put32(&o, 300);
	data_chunk(&o, s, 300);
	riff_end(&o);
	const char *p = write_bytes(&o);

	assert_int_equal(wav_load(p, &w, err, sizeof(err)), 0);
	assert_int_equal(w.rate, 16000);
	assert_int_equal(w.nsamples, 300);
	assert_memory_equal(w.samples, s, sizeof(s));
	wav_free(&w);
}

static void test_odd_sized_chunk_and_long_fmt_are_skipped(void **state)
{
	(void)state;
	int16_t s[50];
	struct bytes o;
	struct wav w;
	char err[256] = "";

	sweep(s, 50);
	riff_start(&o);
	fmt_chunk(&o, 1, 1, 8000, 16, 1);	/* 18-byte fmt with cbSize */
	put(&o, "junk", 4);			/* odd size: one pad byte follows */
	put32(&o, 3);
	put(&o, "abc\0", 4);
	data_chunk(&o, s, 50);
	riff_end(&o);
	const char *p = write_bytes(&o);

	assert_int_equal(wav_load(p, &w, err, sizeof(err)), 0);
	assert_int_equal(w.rate, 8000);
	assert_int_equal(w.nsamples, 50);
	assert_memory_equal(w.samples, s, sizeof(s));
	wav_free(&w);
}

static void test_stereo_is_refused_as_not_mono(void **state)
{
	(void)state;
	int16_t s[8] = { 0 };
	struct bytes o;

	riff_start(&o);
	fmt_chunk(&o, 1, 2, 8000, 16, 0);
	data_chunk(&o, s, 8);
	riff_end(&o);
	assert_load_refused(write_bytes(&o), "mono");
}

static void test_8_bit_is_refused_as_not_16_bit(void **state)
{
	(void)state;
	struct bytes o;

	riff_start(&o);
	fmt_chunk(&o, 1, 1, 8000, 8, 0);
	put(&o, "data", 4);
	put32(&o, 8);
	put(&o, "\x80\x80\x80\x80\x80\x80\x80\x80", 8);
	riff_end(&o);
	assert_load_refused(write_bytes(&o), "16-bit");
}

static void test_non_pcm_is_refused(void **state)
{
	(void)state;
	int16_t s[8] = { 0 };
	struct bytes o;

	riff_start(&o);
	fmt_chunk(&o, 7, 1, 8000, 16, 0);	/* 7 = mu-law */
	data_chunk(&o, s, 8);
	riff_end(&o);
	assert_load_refused(write_bytes(&o), "PCM");
}

static void test_non_riff_is_refused(void **state)
{
	(void)state;
	struct bytes o = { .n = 0 };

	static const char mp3[] = "ID3\x04\0\0\0\0\0\0 this is an mp3 file, or so it says";
	put(&o, mp3, sizeof(mp3));
	assert_load_refused(write_bytes(&o), "RIFF");

	/* RIFF, but not WAVE. */
	o.n = 0;
	put(&o, "RIFF", 4);
	put32(&o, 36);
	put(&o, "AVI LIST", 8);
	put32(&o, 0);
	assert_load_refused(write_bytes(&o), "RIFF");

	/* Shorter than a RIFF header. */
	o.n = 0;
	put(&o, "RIF", 3);
	assert_load_refused(write_bytes(&o), "RIFF");
}

static void test_missing_data_or_fmt_is_refused(void **state)
{
	(void)state;
	int16_t s[4] = { 1, 2, 3, 4 };
	struct bytes o;

	riff_start(&o);
	fmt_chunk(&o, 1, 1, 8000, 16, 0);
	riff_end(&o);
	assert_load_refused(write_bytes(&o), "data");

	riff_start(&o);
	data_chunk(&o, s, 4);
	fmt_chunk(&o, 1, 1, 8000, 16, 0);
	riff_end(&o);
	assert_load_refused(write_bytes(&o), "fmt");
}

static void test_missing_file_is_refused_with_errno(void **state)
{
	(void)state;
	struct wav w;
	char err[256] = "";

	assert_int_equal(wav_load("/nonexistent/vagent/prompt.wav", &w, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/vagent/prompt.wav"));
	assert_null(w.samples);
}

static void test_writer_appends_make_valid_file(void **state)
{
	(void)state;
	static int16_t all[1000];
	static uint8_t b[44 + 2000 + 16];
	const char *p = tmp_file();
	struct wav_writer ww;
	struct wav w;
	char err[256] = "";

	sweep(all, 1000);
	assert_int_equal(wav_writer_open(&ww, p, 16000), 0);
	assert_int_equal(wav_writer_append(&ww, all, 160), 0);
	assert_int_equal(wav_writer_append(&ww, all + 160, 1), 0);
	assert_int_equal(wav_writer_append(&ww, all + 161, 0), 0);
	assert_int_equal(wav_writer_append(&ww, all + 161, 839), 0);
	assert_int_equal(wav_writer_close(&ww), 0);
	assert_null(ww.fp);
	assert_int_equal(wav_writer_close(&ww), 0);	/* closing twice is harmless */

	/* Header sizes: RIFF = file - 8, data = samples * 2. */
	size_t n = read_file(p, b, sizeof(b));
	assert_int_equal(n, 44 + 2000);
	assert_memory_equal(b, "RIFF", 4);
	assert_int_equal(get32(b + 4), n - 8);
	assert_memory_equal(b + 36, "data", 4);
	assert_int_equal(get32(b + 40), 2000);
	assert_int_equal(get32(b + 24), 16000);

	assert_int_equal(wav_load(p, &w, err, sizeof(err)), 0);
	assert_int_equal(w.rate, 16000);
	assert_int_equal(w.nsamples, 1000);
	assert_memory_equal(w.samples, all, sizeof(all));
	wav_free(&w);
}

static void test_free_accepts_empty(void **state)
{
	(void)state;
	struct wav w = { 0 };
	struct wav_writer ww = { .fp = NULL };

	wav_free(&w);
	wav_free(NULL);
	assert_int_equal(wav_writer_close(&ww), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_save_then_load_round_trips_8000, cleanup),
		cmocka_unit_test_teardown(test_save_then_load_round_trips_16000, cleanup),
		cmocka_unit_test_teardown(test_saved_file_has_canonical_header, cleanup),
		cmocka_unit_test_teardown(test_empty_recording_loads_as_zero_samples, cleanup),
		cmocka_unit_test_teardown(test_extra_chunks_before_data_are_skipped, cleanup),
		cmocka_unit_test_teardown(test_odd_sized_chunk_and_long_fmt_are_skipped, cleanup),
		cmocka_unit_test_teardown(test_stereo_is_refused_as_not_mono, cleanup),
		cmocka_unit_test_teardown(test_8_bit_is_refused_as_not_16_bit, cleanup),
		cmocka_unit_test_teardown(test_non_pcm_is_refused, cleanup),
		cmocka_unit_test_teardown(test_non_riff_is_refused, cleanup),
		cmocka_unit_test_teardown(test_missing_data_or_fmt_is_refused, cleanup),
		cmocka_unit_test_teardown(test_missing_file_is_refused_with_errno, cleanup),
		cmocka_unit_test_teardown(test_writer_appends_make_valid_file, cleanup),
		cmocka_unit_test_teardown(test_free_accepts_empty, cleanup),
	};

	return cmocka_run_group_tests_name("wav", tests, NULL, NULL);
}
