/*
 * test_http_status.c - unit tests for worker/http_status.h.
 *
 * Protects (issue items 2 and 4): one rule for which HTTP statuses end a
 * provider for good, the same for STT, TTS and LLM; and a Retry-After from
 * a provider, however large or odd, becomes a bounded wait or "none",
 * never an overflowed int.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../worker/http_status.h"

static void permanent_statuses_end_the_provider(void **state)
{
	static const long yes[] = { 400, 401, 402, 403, 404, 405, 410, 413, 414, 422, 499 };
	(void)state;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(http_status_permanent(yes[i]));
}

static void transient_statuses_are_retried(void **state)
{
	static const long no[] = { 0, -1, 101, 200, 301, 399, 408, 409, 425, 429,
				   500, 502, 503, 504, 599, 600, 1000 };
	(void)state;

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(http_status_permanent(no[i]));
}

static void retry_after_seconds_become_milliseconds(void **state)
{
	(void)state;
	assert_int_equal(http_retry_after_ms("1"), 1000);
	assert_int_equal(http_retry_after_ms(" 2 "), 2000);
	assert_int_equal(http_retry_after_ms("0"), 0);
	assert_int_equal(http_retry_after_ms("0.5"), 500);
	assert_int_equal(http_retry_after_ms("1.25"), 1250);
	assert_int_equal(http_retry_after_ms(".2"), 200);
	assert_int_equal(http_retry_after_ms("3.14159"), 3141);
}

/* Issue item 4: "1e7" went through atof() * 1000 into an int (UBSan). */
static void retry_after_huge_or_odd_is_bounded(void **state)
{
	(void)state;
	assert_int_equal(http_retry_after_ms("1e7"), -1);
	assert_int_equal(http_retry_after_ms("10000000"), HTTP_RETRY_AFTER_MAX_MS);
	assert_int_equal(http_retry_after_ms("99999999999999999999999999999999"),
			 HTTP_RETRY_AFTER_MAX_MS);
	assert_int_equal(http_retry_after_ms("3600"), HTTP_RETRY_AFTER_MAX_MS);
	assert_int_equal(http_retry_after_ms("3601"), HTTP_RETRY_AFTER_MAX_MS);
	assert_int_equal(http_retry_after_ms(NULL), -1);
	assert_int_equal(http_retry_after_ms(""), -1);
	assert_int_equal(http_retry_after_ms("-1"), -1);
	assert_int_equal(http_retry_after_ms("."), -1);
	assert_int_equal(http_retry_after_ms("inf"), -1);
	assert_int_equal(http_retry_after_ms("nan"), -1);
	assert_int_equal(http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
	assert_int_equal(http_retry_after_ms("5 s"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(permanent_statuses_end_the_provider),
		cmocka_unit_test(transient_statuses_are_retried),
		cmocka_unit_test(retry_after_seconds_become_milliseconds),
		cmocka_unit_test(retry_after_huge_or_odd_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
