/*
 * test_hist.c - unit tests for ipc/hist.h.
 *
 * Protects: the log-linear bucket layout shared by workers and readers
 * (every value has exactly one bucket, buckets tile the range without gaps
 * or overlaps, small values are exact, huge values are kept), quantiles
 * within the promised ~6 %, exact Prometheus "le" counts at bucket edges,
 * and summing several workers' histograms.
 * Never: depends on bucket numbers other than what the header promises
 * (exact below 8 us, HIST_BUCKETS buckets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../ipc/hist.h"

static struct hist *hist_new(void)
{
	struct hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	return h;
}

static void test_every_bucket_maps_back_to_itself(void **state)
{
	(void)state;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_lower(i), hi = hist_upper(i);

		if (hi <= lo)
			fail_msg("bucket %u: upper %llu <= lower %llu", i,
				 (unsigned long long)hi, (unsigned long long)lo);
		if (hist_index(lo) != i)
			fail_msg("bucket %u: hist_index(lower %llu) = %u", i,
				 (unsigned long long)lo, hist_index(lo));
		if (hist_index(hi - 1) != i)
			fail_msg("bucket %u: hist_index(upper-1 %llu) = %u", i,
				 (unsigned long long)(hi - 1), hist_index(hi - 1));
	}
}

static void test_buckets_tile_without_gaps(void **state)
{
	(void)state;
	assert_int_equal(hist_lower(0), 0);
	for (unsigned i = 0; i + 1 < HIST_BUCKETS; i++)
		if (hist_upper(i) != hist_lower(i + 1))
			fail_msg("bucket %u: upper %llu != lower of next %llu", i,
				 (unsigned long long)hist_upper(i),
				 (unsigned long long)hist_lower(i + 1));
}

static void test_bucket_width_within_one_eighth(void **state)
{
	(void)state;
	/* Log-linear, 8 per power of two: width <= lower / 8 beyond the exact part. */
	for (unsigned i = 8; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_lower(i), w = hist_upper(i) - lo;
		assert_true(w * 8 <= lo);
	}
}

static void test_values_below_8_are_exact(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < 8; v++) {
		unsigned i = hist_index(v);
		assert_int_equal(hist_lower(i), v);
		assert_int_equal(hist_upper(i), v + 1);
	}
	/* Distinct buckets, in order. */
	for (uint64_t v = 1; v < 8; v++)
		assert_true(hist_index(v) > hist_index(v - 1));
}

static void test_index_is_monotonic(void **state)
{
	(void)state;
	unsigned prev = 0;

	for (uint64_t v = 0; v < 200000; v++) {
		unsigned i = hist_index(v);
		assert_true(i >= prev && i <= prev + 1);
		assert_true(hist_lower(i) <= v && v < hist_upper(i));
		prev = i;
	}
	for (unsigned k = 18; k < 64; k++) {
		uint64_t v = 1ULL << k;
		assert_true(hist_index(v) >= hist_index(v - 1));
		assert_true(hist_index(v) < HIST_BUCKETS);
	}
}

static void test_huge_values_land_in_last_bucket(void **state)
{
	(void)state;
	static const uint64_t huge[] = {
		1ULL << 32, (1ULL << 32) + 12345, 1ULL << 40, 1ULL << 63, UINT64_MAX,
	};

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++)
		assert_int_equal(hist_index(huge[i]), HIST_BUCKETS - 1);
	/* The layout reaches about 71 minutes. */
	assert_true(hist_upper(HIST_BUCKETS - 1) >= 71ULL * 60 * 1000000);

	struct hist *h = hist_new();
	struct hist_snap s = { 0 };
	hist_add(h, UINT64_MAX / 4);
	hist_sum(&s, h);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.bucket[HIST_BUCKETS - 1], 1);
	free(h);
}

static void test_add_counts_value_and_sum(void **state)
{
	(void)state;
	struct hist *h = hist_new();
	struct hist_snap s = { 0 };

	hist_add(h, 3);
	hist_add(h, 3);
	hist_add(h, 1000);
	hist_sum(&s, h);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.sum_us, 1006);
	assert_int_equal(s.bucket[hist_index(3)], 2);
	assert_int_equal(s.bucket[hist_index(1000)], 1);
	uint64_t total = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		total += s.bucket[i];
	assert_int_equal(total, 3);
	free(h);
}

static uint64_t dist(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

static void test_quantiles_of_uniform_1_to_1000_within_7_percent(void **state)
{
	(void)state;
	struct hist *h = hist_new();
	struct hist_snap s = { 0 };

	for (uint64_t v = 1; v <= 1000; v++)
		hist_add(h, v);
	hist_sum(&s, h);

	uint64_t p50 = hist_quantile(&s, 0.50), p99 = hist_quantile(&s, 0.99);
	if (dist(p50, 500) * 100 > 500 * 7)
		fail_msg("p50 = %llu, want 500 +- 7%%", (unsigned long long)p50);
	if (dist(p99, 990) * 100 > 990 * 7)
		fail_msg("p99 = %llu, want 990 +- 7%%", (unsigned long long)p99);
	/* An upper edge: never below the true value. */
	assert_true(p50 >= 500);
	assert_true(p99 >= 990);
	uint64_t p100 = hist_quantile(&s, 1.0);
	assert_true(p100 >= 1000 && p100 <= 1070);
	free(h);
}

static void test_quantile_of_exact_values(void **state)
{
	(void)state;
	struct hist *h = hist_new();
	struct hist_snap s = { 0 };

	/* 90 at 2 us, 10 at 5 us: p50 is 2 us, p95 is 5 us (upper edges 3 and 6). */
	for (int i = 0; i < 90; i++)
		hist_add(h, 2);
	for (int i = 0; i < 10; i++)
		hist_add(h, 5);
	hist_sum(&s, h);
	assert_int_equal(hist_quantile(&s, 0.5), 3);
	assert_int_equal(hist_quantile(&s, 0.9), 3);
	assert_int_equal(hist_quantile(&s, 0.95), 6);
	free(h);
}

static void test_quantile_of_empty_is_zero(void **state)
{
	(void)state;
	struct hist_snap s = { 0 };

	assert_int_equal(hist_quantile(&s, 0.5), 0);
	assert_int_equal(hist_quantile(&s, 0.99), 0);
	assert_int_equal(hist_count_below(&s, 1000), 0);
}

static void test_count_below_bucket_edge_is_exact(void **state)
{
	(void)state;
	struct hist *h = hist_new();
	struct hist_snap s = { 0 };

	for (uint64_t v = 0; v < 5000; v++)
		hist_add(h, v);
	hist_add(h, 1ULL << 40);
	hist_sum(&s, h);
	/* At every bucket edge up to 5000, exactly the values below it. */
	for (unsigned i = 0; i < HIST_BUCKETS && hist_lower(i) <= 5000; i++) {
		uint64_t edge = hist_lower(i);
		if (hist_count_below(&s, edge) != edge)
			fail_msg("below %llu: %llu", (unsigned long long)edge,
				 (unsigned long long)hist_count_below(&s, edge));
	}
	assert_int_equal(hist_count_below(&s, 0), 0);
	/* All the small values, and not the huge one. */
	assert_int_equal(hist_count_below(&s, 1ULL << 31), 5000);
	free(h);
}

static void test_sum_of_two_hists_adds(void **state)
{
	(void)state;
	struct hist *a = hist_new(), *b = hist_new();
	struct hist_snap s = { 0 }, sa = { 0 }, sb = { 0 };

	for (uint64_t v = 1; v <= 100; v++)
		hist_add(a, v * 10);
	for (uint64_t v = 1; v <= 50; v++)
		hist_add(b, v * 1000);
	hist_add(b, 10);
	hist_sum(&sa, a);
	hist_sum(&sb, b);
	hist_sum(&s, a);
	hist_sum(&s, b);

	assert_int_equal(s.count, 151);
	assert_int_equal(s.sum_us, 50500 + 1275000 + 10);
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		assert_int_equal(s.bucket[i], sa.bucket[i] + sb.bucket[i]);
	assert_int_equal(s.bucket[hist_index(10)], 2);
	/* The sources are read, not consumed. */
	memset(&sa, 0, sizeof(sa));
	hist_sum(&sa, a);
	assert_int_equal(sa.count, 100);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_bucket_maps_back_to_itself),
		cmocka_unit_test(test_buckets_tile_without_gaps),
		cmocka_unit_test(test_bucket_width_within_one_eighth),
		cmocka_unit_test(test_values_below_8_are_exact),
		cmocka_unit_test(test_index_is_monotonic),
		cmocka_unit_test(test_huge_values_land_in_last_bucket),
		cmocka_unit_test(test_add_counts_value_and_sum),
		cmocka_unit_test(test_quantiles_of_uniform_1_to_1000_within_7_percent),
		cmocka_unit_test(test_quantile_of_exact_values),
		cmocka_unit_test(test_quantile_of_empty_is_zero),
		cmocka_unit_test(test_count_below_bucket_edge_is_exact),
		cmocka_unit_test(test_sum_of_two_hists_adds),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
