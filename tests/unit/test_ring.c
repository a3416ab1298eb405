/*
 * test_ring.c - unit tests for ipc/ring.h.
 *
 * Protects: the single-producer single-consumer sample ring that carries
 * one direction of a call's audio through shared memory: samples come out
 * in the order they went in, across the end of the buffer and across the
 * 2^32 wrap of the free-running indices; a write never overwrites unread
 * samples; a flush drops exactly what was queued; unaligned sources (an
 * AudioSocket payload at an odd offset) are fine; and one producer thread
 * with one consumer thread never lose, duplicate or reorder a sample.
 * Never: shares a ring between tests; each test allocates its own.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../ipc/ring.h"

static struct ring *ring_new(uint32_t cap)
{
	size_t bytes = ring_bytes(cap);
	struct ring *r;

	assert_true(bytes >= sizeof(struct ring) + (size_t)cap * 2);
	bytes = (bytes + 63) & ~(size_t)63;	/* aligned_alloc wants a multiple */
	r = aligned_alloc(64, bytes);
	assert_non_null(r);
	memset(r, 0xa5, bytes);	/* garbage, so ring_init must set everything */
	ring_init(r, cap);
	return r;
}

/* Sets both indices to idx, as if idx samples had already passed. */
static void ring_seek(struct ring *r, uint32_t idx)
{
	atomic_store(&r->head, idx);
	atomic_store(&r->tail, idx);
}

static void fill(int16_t *s, size_t n, int16_t first)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (int16_t)(first + (int16_t)i);
}

static void test_new_ring_is_empty_with_full_space(void **state)
{
	(void)state;
	struct ring *r = ring_new(64);

	assert_int_equal(ring_avail(r), 0);
	assert_int_equal(ring_space(r), 64);
	free(r);
}

static void test_write_then_read_returns_same_samples(void **state)
{
	(void)state;
	struct ring *r = ring_new(256);
	int16_t in[100], out[100];

	fill(in, 100, -50);
	assert_int_equal(ring_write(r, in, 100), 100);
	assert_int_equal(ring_avail(r), 100);
	assert_int_equal(ring_space(r), 156);
	memset(out, 0, sizeof(out));
	assert_int_equal(ring_read(r, out, 100), 100);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(ring_avail(r), 0);
	assert_int_equal(ring_space(r), 256);
	free(r);
}

static void test_read_in_pieces_keeps_order(void **state)
{
	(void)state;
	struct ring *r = ring_new(64);
	int16_t in[60], out[60];

	fill(in, 60, 1000);
	assert_int_equal(ring_write(r, in, 60), 60);
	assert_int_equal(ring_read(r, out, 7), 7);
	assert_int_equal(ring_read(r, out + 7, 20), 20);
	assert_int_equal(ring_read(r, out + 27, 33), 33);
	assert_memory_equal(out, in, sizeof(in));
	free(r);
}

static void test_wrap_around_end_with_odd_sizes(void **state)
{
	(void)state;
	struct ring *r = ring_new(16);
	int16_t in[64], out[64];
	int16_t next_in = 0, next_out = 0;

	/* Odd chunk sizes make every offset in the buffer a write/read start. */
	for (int round = 0; round < 200; round++) {
		size_t w = (size_t)(round * 7 % 13) + 1, rd = (size_t)(round * 5 % 11) + 1;
		size_t space = ring_space(r);
		size_t want = w < space ? w : space;

		fill(in, w, next_in);
		assert_int_equal(ring_write(r, in, w), want);
		next_in = (int16_t)(next_in + (int16_t)want);

		size_t avail = ring_avail(r);
		size_t got = ring_read(r, out, rd);
		assert_int_equal(got, rd < avail ? rd : avail);
		for (size_t i = 0; i < got; i++)
			assert_int_equal(out[i], (int16_t)(next_out + (int16_t)i));
		next_out = (int16_t)(next_out + (int16_t)got);
	}
	assert_true(next_out > 100);	/* the loop really moved data */
	free(r);
}

static void test_write_across_end_splits_correctly(void **state)
{
	(void)state;
	struct ring *r = ring_new(16);
	int16_t in[16], out[16];

	ring_seek(r, 11);	/* 5 slots to the end, then 6 at the start */
	fill(in, 11, 300);
	assert_int_equal(ring_write(r, in, 11), 11);
	assert_int_equal(ring_read(r, out, 16), 11);
	assert_memory_equal(out, in, 11 * sizeof(int16_t));
	free(r);
}

static void test_write_beyond_capacity_stores_only_what_fits(void **state)
{
	(void)state;
	struct ring *r = ring_new(32);
	int16_t in[50], out[50];

	fill(in, 50, 7);
	assert_int_equal(ring_write(r, in, 50), 32);
	assert_int_equal(ring_space(r), 0);
	assert_int_equal(ring_write(r, in + 32, 18), 0);	/* full: nothing more */
	assert_int_equal(ring_avail(r), 32);

	/* The first 32 samples, untouched by the refused writes. */
	assert_int_equal(ring_read(r, out, 50), 32);
	assert_memory_equal(out, in, 32 * sizeof(int16_t));

	/* Partly full: only the free part is taken. */
	assert_int_equal(ring_write(r, in, 20), 20);
	assert_int_equal(ring_write(r, in + 20, 20), 12);
	assert_int_equal(ring_read(r, out, 50), 32);
	assert_memory_equal(out, in, 32 * sizeof(int16_t));
	free(r);
}

static void test_read_from_empty_returns_zero(void **state)
{
	(void)state;
	struct ring *r = ring_new(32);
	int16_t in[4] = { 1, 2, 3, 4 }, out[8];

	memset(out, 0x11, sizeof(out));
	assert_int_equal(ring_read(r, out, 8), 0);
	assert_int_equal(ring_avail(r), 0);
	/* Still empty after the failed read; what follows is intact. */
	assert_int_equal(ring_write(r, in, 4), 4);
	assert_int_equal(ring_read(r, out, 8), 4);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(ring_read(r, out, 8), 0);
	free(r);
}

static void test_flush_drops_everything_and_counts_it(void **state)
{
	(void)state;
	struct ring *r = ring_new(64);
	int16_t in[40], out[40];

	fill(in, 40, 0);
	assert_int_equal(ring_write(r, in, 40), 40);
	assert_int_equal(ring_read(r, out, 3), 3);
	assert_int_equal(ring_flush(r), 37);
	assert_int_equal(ring_avail(r), 0);
	assert_int_equal(ring_space(r), 64);
	assert_int_equal(ring_read(r, out, 40), 0);
	assert_int_equal(ring_flush(r), 0);

	/* The ring keeps working after a flush, from the new position. */
	fill(in, 10, 500);
	assert_int_equal(ring_write(r, in, 10), 10);
	assert_int_equal(ring_read(r, out, 40), 10);
	assert_memory_equal(out, in, 10 * sizeof(int16_t));
	free(r);
}

static void test_indices_keep_working_across_2_32_wrap(void **state)
{
	(void)state;
	struct ring *r = ring_new(64);
	int16_t in[48], out[48];
	int16_t next_in = 0, next_out = 0;

	ring_seek(r, UINT32_MAX - 100);
	assert_int_equal(ring_avail(r), 0);
	assert_int_equal(ring_space(r), 64);
	/* Enough rounds to carry both indices well past 2^32. */
	for (int round = 0; round < 40; round++) {
		size_t w = (size_t)(round % 5) * 9 + 3;

		fill(in, w, next_in);
		size_t put = ring_write(r, in, w);
		next_in = (int16_t)(next_in + (int16_t)put);
		assert_true(ring_avail(r) <= 64);
		assert_int_equal(ring_avail(r) + ring_space(r), 64);

		size_t got = ring_read(r, out, (size_t)(round % 3) * 11 + 5);
		for (size_t i = 0; i < got; i++)
			assert_int_equal(out[i], (int16_t)(next_out + (int16_t)i));
		next_out = (int16_t)(next_out + (int16_t)got);
	}
	/* Both indices went past UINT32_MAX: head is small again. */
	assert_true(atomic_load(&r->head) < 1000);
	assert_true(atomic_load(&r->tail) < 1000);

	/* Full and flush right across the wrap. */
	ring_seek(r, UINT32_MAX - 20);
	fill(in, 48, 9);
	assert_int_equal(ring_write(r, in, 48), 48);
	assert_int_equal(ring_write(r, in, 48), 16);
	assert_int_equal(ring_avail(r), 64);
	assert_int_equal(ring_space(r), 0);
	assert_int_equal(ring_read(r, out, 48), 48);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(ring_flush(r), 16);
	assert_int_equal(ring_avail(r), 0);
	free(r);
}

static void test_unaligned_source_and_destination_work(void **state)
{
	(void)state;
	struct ring *r = ring_new(128);
	/* An AudioSocket frame: 3-byte header, then little-endian samples. */
	uint8_t frame[3 + 200], back[1 + 200];
	int16_t expect[100];

	for (int i = 0; i < 100; i++) {
		int16_t v = (int16_t)(i * 321 - 16000);
		expect[i] = v;
		frame[3 + 2 * i] = (uint8_t)((uint16_t)v & 0xff);
		frame[3 + 2 * i + 1] = (uint8_t)((uint16_t)v >> 8);
	}
	ring_seek(r, 100);	/* and across the end of the buffer */
	assert_int_equal(ring_write(r, frame + 3, 100), 100);
	assert_int_equal(ring_read(r, back + 1, 100), 100);
	assert_memory_equal(back + 1, expect, sizeof(expect));
	assert_memory_equal(back + 1, frame + 3, 200);
	free(r);
}

/* Two-thread stress: one producer, one consumer, a counting sequence. */

#define STRESS_SAMPLES 4000000u
#define STRESS_CAP 1024u

struct stress {
	struct ring *r;
	uint32_t seed;
	uint32_t errors;	/* consumer: first mismatch index + 1 */
	int16_t got, want;
	uint64_t received;
};

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void *producer(void *arg)
{
	struct stress *st = arg;
	uint32_t seed = st->seed, sent = 0;
	int16_t buf[700];

	while (sent < STRESS_SAMPLES) {
		size_t n = xorshift(&seed) % 700 + 1;
		if (n > STRESS_SAMPLES - sent)
			n = STRESS_SAMPLES - sent;
		for (size_t i = 0; i < n; i++)
			buf[i] = (int16_t)(uint16_t)(sent + i);
		size_t done = 0;
		while (done < n) {
			size_t put = ring_write(st->r, buf + done, n - done);
			done += put;
			if (!put)
				sched_yield();
		}
		sent += (uint32_t)n;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *st = arg;
	uint32_t seed = st->seed * 2654435761u + 1, next = 0;
	int16_t buf[900];

	while (next < STRESS_SAMPLES) {
		size_t n = xorshift(&seed) % 900 + 1;
		size_t got = ring_read(st->r, buf, n);
		if (!got) {
			sched_yield();
			continue;
		}
		for (size_t i = 0; i < got; i++) {
			int16_t want = (int16_t)(uint16_t)(next + i);
			if (buf[i] != want && !st->errors) {
				st->errors = next + (uint32_t)i + 1;
				st->got = buf[i];
				st->want = want;
			}
		}
		next += (uint32_t)got;
	}
	st->received = next;
	return NULL;
}

static void test_spsc_threads_pass_exact_sequence(void **state)
{
	(void)state;
	/* Start just below the 2^32 wrap so the stress crosses it too. */
	struct stress st = { .r = ring_new(STRESS_CAP), .seed = 0x9e3779b9u };
	pthread_t p, c;
	struct timespec t0, t1;

	ring_seek(st.r, UINT32_MAX - 3 * STRESS_CAP);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&c, NULL, consumer, &st), 0);
	assert_int_equal(pthread_create(&p, NULL, producer, &st), 0);
	assert_int_equal(pthread_join(p, NULL), 0);
	assert_int_equal(pthread_join(c, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (st.errors)
		fail_msg("sample %u: got %d, want %d", st.errors - 1, st.got, st.want);
	assert_int_equal(st.received, STRESS_SAMPLES);
	assert_int_equal(ring_avail(st.r), 0);
	print_message("%u samples in %.2f s\n", STRESS_SAMPLES,
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(st.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_ring_is_empty_with_full_space),
		cmocka_unit_test(test_write_then_read_returns_same_samples),
		cmocka_unit_test(test_read_in_pieces_keeps_order),
		cmocka_unit_test(test_wrap_around_end_with_odd_sizes),
		cmocka_unit_test(test_write_across_end_splits_correctly),
		cmocka_unit_test(test_write_beyond_capacity_stores_only_what_fits),
		cmocka_unit_test(test_read_from_empty_returns_zero),
		cmocka_unit_test(test_flush_drops_everything_and_counts_it),
		cmocka_unit_test(test_indices_keep_working_across_2_32_wrap),
		cmocka_unit_test(test_unaligned_source_and_destination_work),
		cmocka_unit_test(test_spsc_threads_pass_exact_sequence),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
