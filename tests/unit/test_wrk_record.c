/*
 * test_wrk_record.c - unit tests for worker/wrk_record.h, a call's stereo
 * recording.
 *
 * Protects: the two sides pair up sample for sample (caller left, agent
 * right); a side alone for the pairing window (a second) is written
 * against silence, so the file never lags the call by more than that;
 * catch-up pads the agent's side with silence to where the caller's is
 * (plus what is still on its way), so audio after the agent's silence
 * sits where it was played, also after the window has flushed the
 * caller's side alone; it adds nothing when the agent's side is already
 * there (audio queued ahead at the peer); audio the peer cleared unplayed
 * is dropped from the agent's side while it is still queued; close writes
 * what is queued.
 * Never: plays a clock of its own.
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
#include "../../worker/wrk_record.h"

#define RATE 8000
#define UUID "2f9c1d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"

struct rec_test {
	char dir[64];
	char path[128];
	struct wrk_record *r;
	int16_t *l, *rt;	/* the file's sides, once closed */
	size_t n;
};

static int setup(void **state)
{
	struct rec_test *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/vg-wrk-record.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/%s.wav", t->dir, UUID);
	assert_int_equal(wrk_record_open(&t->r, t->dir, UUID, RATE), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct rec_test *t = *state;

	wrk_record_close(t->r);
	unlink(t->path);
	rmdir(t->dir);
	free(t->l);
	free(t->rt);
	free(t);
	return 0;
}

/* Closes the recording and splits the file into its two sides. */
static void finish(struct rec_test *t)
{
	FILE *fp;
	long size;
	int16_t *s;

	wrk_record_close(t->r);
	t->r = NULL;
	assert_non_null(fp = fopen(t->path, "rb"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp) - WAV_HDR_LEN;
	assert_true(size >= 0 && size % 4 == 0);
	t->n = (size_t)size / 4;
	assert_non_null(s = malloc((size_t)size + 1));
	assert_int_equal(fseek(fp, WAV_HDR_LEN, SEEK_SET), 0);
	assert_int_equal(fread(s, 4, t->n, fp), t->n);
	fclose(fp);
	t->l = malloc(t->n * 2 + 1);
	t->rt = malloc(t->n * 2 + 1);
	assert_true(t->l && t->rt);
	for (size_t i = 0; i < t->n; i++) {
		t->l[i] = s[2 * i];
		t->rt[i] = s[2 * i + 1];
	}
	free(s);
}

/* n samples of value v to one side, a 20 ms frame at a time. */
static void feed(struct wrk_record *r, int side, int16_t v, size_t n)
{
	int16_t f[RATE / 50];

	for (size_t i = 0; i < RATE / 50; i++)
		f[i] = v;
	while (n) {
		size_t k = n < RATE / 50 ? n : RATE / 50;
		if (side == 0)
			wrk_record_in(r, f, k);
		else
			wrk_record_out(r, f, k);
		n -= k;
	}
}

/* The first index at or after from where s holds v; n if none. */
static size_t first(const int16_t *s, size_t n, size_t from, int16_t v)
{
	while (from < n && s[from] != v)
		from++;
	return from;
}

static void test_the_sides_pair_up_sample_for_sample(void **state)
{
	struct rec_test *t = *state;

	for (int i = 0; i < 100; i++) {	/* two seconds, frame by frame */
		feed(t->r, 0, 100, RATE / 50);
		feed(t->r, 1, 200, RATE / 50);
	}
	finish(t);
	assert_int_equal(t->n, 2 * RATE);
	for (size_t i = 0; i < t->n; i++) {
		assert_int_equal(t->l[i], 100);
		assert_int_equal(t->rt[i], 200);
	}
}

static void test_a_side_alone_is_written_against_silence(void **state)
{
	struct rec_test *t = *state;

	feed(t->r, 0, 100, RATE * 5 / 2);	/* 2.5 s of caller, a silent agent */
	finish(t);
	assert_int_equal(t->n, RATE * 5 / 2);
	assert_int_equal(first(t->rt, t->n, 0, 0), 0);
	for (size_t i = 0; i < t->n; i++)
		assert_true(t->l[i] == 100 && t->rt[i] == 0);
}

/* Without catch-up the reply is pulled forward over the caller's words. */
static void test_audio_after_silence_sits_where_it_is_played(void **state)
{
	struct rec_test *t = *state;

	feed(t->r, 0, 100, RATE / 2);		/* 0.5 s of caller */
	wrk_record_out_catch_up(t->r, 80);	/* 10 ms more are on their way */
	feed(t->r, 1, 300, RATE / 5);		/* the reply, sent ahead */
	feed(t->r, 0, 100, RATE);
	finish(t);
	assert_int_equal(first(t->rt, t->n, 0, 300), RATE / 2 + 80);
	assert_int_equal(first(t->rt, t->n, RATE / 2 + 80, 0), RATE / 2 + 80 + RATE / 5);
}

static void test_catch_up_counts_what_the_window_flushed(void **state)
{
	struct rec_test *t = *state;

	feed(t->r, 0, 100, RATE * 3 / 2);	/* a second of it written alone */
	wrk_record_out_catch_up(t->r, 0);
	feed(t->r, 1, 300, RATE / 10);
	feed(t->r, 0, 100, RATE / 10);
	finish(t);
	assert_int_equal(first(t->rt, t->n, 0, 300), RATE * 3 / 2);
	assert_int_equal(t->n, RATE * 8 / 5);
}

static void test_catch_up_leaves_audio_queued_ahead_alone(void **state)
{
	struct rec_test *t = *state;

	feed(t->r, 0, 100, RATE / 10);
	feed(t->r, 1, 300, RATE / 2);		/* sent 0.4 s ahead of the caller */
	wrk_record_out_catch_up(t->r, 160);
	feed(t->r, 1, 400, RATE / 10);		/* more of it: straight after */
	feed(t->r, 0, 100, RATE);
	finish(t);
	assert_int_equal(first(t->rt, t->n, 0, 300), 0);
	assert_int_equal(first(t->rt, t->n, 0, 400), RATE / 2);
	assert_int_equal(first(t->rt, t->n, RATE / 2, 0), RATE * 6 / 10);
}

/* A barge-in cleared what the peer held: the caller never heard it. */
static void test_audio_cleared_unplayed_is_dropped(void **state)
{
	struct rec_test *t = *state;

	feed(t->r, 0, 100, RATE / 10);
	feed(t->r, 1, 300, RATE / 2);		/* 0.4 s of it still at the peer */
	wrk_record_out_drop(t->r, RATE * 4 / 10);
	wrk_record_out_catch_up(t->r, 0);
	feed(t->r, 1, 400, RATE / 10);		/* the next reply, from now */
	wrk_record_out_drop(t->r, RATE);	/* more than is queued: what is */
	wrk_record_out_catch_up(t->r, 0);
	feed(t->r, 1, 500, RATE / 10);
	feed(t->r, 0, 100, RATE);
	finish(t);
	assert_int_equal(first(t->rt, t->n, 0, 300), 0);
	assert_int_equal(first(t->rt, t->n, 0, 400), t->n);
	assert_int_equal(first(t->rt, t->n, 0, 500), RATE / 10);
	assert_int_equal(first(t->rt, t->n, RATE / 10, 0), RATE / 5);
}

static void test_a_null_recording_takes_anything(void **state)
{
	int16_t f[4] = { 1, 2, 3, 4 };

	(void)state;
	wrk_record_in(NULL, f, 4);
	wrk_record_out(NULL, f, 4);
	wrk_record_out_catch_up(NULL, 100);
	wrk_record_out_drop(NULL, 100);
	assert_string_equal(wrk_record_path(NULL), "");
	wrk_record_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_the_sides_pair_up_sample_for_sample,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_side_alone_is_written_against_silence,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_audio_after_silence_sits_where_it_is_played,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_up_counts_what_the_window_flushed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_up_leaves_audio_queued_ahead_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_audio_cleared_unplayed_is_dropped,
						setup, teardown),
		cmocka_unit_test(test_a_null_recording_takes_anything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
