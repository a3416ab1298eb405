/*
 * test_tap.c - unit tests for supervisor/ctl/ctl_tap.h (vagentctl listen's
 * read-only follower of a ring) and the stereo helpers of common/wav.h.
 *
 * Protects: the tap copies exactly what the producer wrote after it
 * started, in order, across the end of the buffer and the 2^32 wrap of
 * the indices; it never moves the consumer's index; when the producer
 * laps it, it says so, counts what it lost and goes on from live audio;
 * a capacity that is not a power of two is refused. wav_interleave puts
 * left and right where a stereo WAV wants them, silence for a NULL side,
 * and a stereo header says 2 channels and 4 bytes a frame.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/wav.h"
#include "../../supervisor/ctl/ctl_tap.h"

#define CAP 65536u

static struct ring *ring_new(uint32_t cap, uint32_t start)
{
	struct ring *r = aligned_alloc(64, (ring_bytes(cap) + 63) / 64 * 64);

	assert_non_null(r);
	ring_init(r, cap);
	atomic_store(&r->head, start);
	atomic_store(&r->tail, start);
	return r;
}

/* Producer writes n samples counting from *v; the consumer keeps up. */
static void produce(struct ring *r, int16_t *v, size_t n)
{
	int16_t buf[1000];

	while (n) {
		size_t k = n < 1000 ? n : 1000;
		for (size_t i = 0; i < k; i++)
			buf[i] = (*v)++;
		assert_int_equal(ring_write(r, buf, k), k);
		assert_int_equal(ring_read(r, buf, k), k);	/* the worker's consumer */
		n -= k;
	}
}

static void follows_the_producer_across_the_wrap(void **state)
{
	struct ring *r = ring_new(CAP, UINT32_MAX - 5000);
	struct tap t;
	int16_t v = 0, want = 0, out[3000];
	(void)state;

	produce(r, &v, 777);		/* before the tap: not heard */
	want = v;
	assert_int_equal(tap_init(&t, r, CAP), 0);
	for (int round = 0; round < 40; round++) {
		produce(r, &v, 1500);
		uint32_t tail = atomic_load(&r->tail);
		bool lapped = true;
		size_t n = tap_read(&t, out, 3000, &lapped);
		assert_false(lapped);
		assert_int_equal(n, 1500);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(out[i], want++);
		assert_int_equal(atomic_load(&r->tail), tail);	/* read-only */
		assert_int_equal(tap_read(&t, out, 3000, NULL), 0);
	}
	assert_int_equal(t.lapped, 0);
	free(r);
}

static void a_lapped_tap_says_so_and_goes_on_live(void **state)
{
	struct ring *r = ring_new(CAP, 0);
	struct tap t;
	int16_t v = 0, out[CAP];
	bool lapped = false;
	(void)state;

	assert_int_equal(tap_init(&t, r, CAP), 0);
	produce(r, &v, CAP + 1000);	/* the tap slept through more than the ring */
	size_t n = tap_read(&t, out, CAP, &lapped);
	assert_true(lapped);
	assert_true(t.lapped > 0);
	assert_int_equal(n + t.lapped, CAP + 1000);
	/* What it did copy is the newest audio, in order, ending at head. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i], (int16_t)(CAP + 1000 - n + i));
	assert_true(n <= CAP - TAP_GUARD);
	free(r);
}

static void refuses_a_capacity_not_a_power_of_two(void **state)
{
	struct ring *r = ring_new(CAP, 0);
	struct tap t;
	(void)state;

	assert_int_equal(tap_init(&t, r, 3000), -EINVAL);
	assert_int_equal(tap_init(&t, r, 0), -EINVAL);
	free(r);
}

static void interleave_left_right_and_silence(void **state)
{
	int16_t l[3] = { 1, 2, 3 }, rt[3] = { -1, -2, -3 }, out[6];
	static const int16_t both[6] = { 1, -1, 2, -2, 3, -3 }, left[6] = { 1, 0, 2, 0, 3, 0 };
	static const int16_t right[6] = { 0, -1, 0, -2, 0, -3 };
	uint8_t h[WAV_HDR_LEN];
	(void)state;

	wav_interleave(out, l, rt, 3);
	assert_memory_equal(out, both, sizeof(both));
	wav_interleave(out, l, NULL, 3);
	assert_memory_equal(out, left, sizeof(left));
	wav_interleave(out, NULL, rt, 3);
	assert_memory_equal(out, right, sizeof(right));
	wav_header(h, 8000, 2, 6);
	assert_int_equal(h[22], 2);				/* channels */
	assert_int_equal(h[28] | h[29] << 8 | h[30] << 16, 32000);	/* bytes a second */
	assert_int_equal(h[32], 4);				/* block align */
	assert_int_equal(h[40], 12);				/* data bytes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(follows_the_producer_across_the_wrap),
		cmocka_unit_test(a_lapped_tap_says_so_and_goes_on_live),
		cmocka_unit_test(refuses_a_capacity_not_a_power_of_two),
		cmocka_unit_test(interleave_left_right_and_silence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
