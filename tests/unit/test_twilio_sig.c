/*
 * test_twilio_sig.c - unit tests for common/twilio_sig.h.
 *
 * Protects: the api's /twilio/voice (and the stream upgrade) accepting
 * exactly what Twilio signed: the documented example of Twilio's security
 * page (token 12345; the value was also recomputed with Python's hmac),
 * the pairs sorted by name whatever order they came in, and a change to
 * any byte of URL, name, value or token refused; a missing, empty or
 * truncated header never matches.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/twilio_sig.h"

static const char TOKEN[] = "12345";
static const char URL[] = "https://mycompany.com/myapp.php?foo=1&bar=2";
/* Deliberately not in sorted order. */
static const char *const NAMES[] = { "To", "CallSid", "From", "Digits", "Caller" };
static const char *const VALUES[] = { "+18005551212", "CA1234567890ABCDE", "+14158675310",
				      "1234", "+14158675310" };
static const char EXPECT[] = "GvWf1cFY/Q7PnoempGyD5oXAezc=";

static void test_documented_example(void **state)
{
	(void)state;
	char out[TWILIO_SIG_LEN];

	assert_int_equal(twilio_sig_compute(TOKEN, URL, NAMES, VALUES, 5, out, sizeof(out)), 0);
	assert_string_equal(out, EXPECT);
	assert_true(twilio_sig_valid(TOKEN, URL, NAMES, VALUES, 5, EXPECT));
}

static void test_url_alone_without_params(void **state)
{
	(void)state;
	char out[TWILIO_SIG_LEN];

	assert_int_equal(twilio_sig_compute(TOKEN, URL, NULL, NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "zYQTYrRWXE7LtzbG4PfP7/bkkGo=");	/* Python's hmac */
}

static void test_any_change_is_refused(void **state)
{
	(void)state;
	const char *v2[5];

	memcpy(v2, VALUES, sizeof(v2));
	v2[1] = "CA1234567890ABCDF";
	assert_false(twilio_sig_valid(TOKEN, URL, NAMES, v2, 5, EXPECT));
	assert_false(twilio_sig_valid("12346", URL, NAMES, VALUES, 5, EXPECT));
	assert_false(twilio_sig_valid(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", NAMES,
				      VALUES, 5, EXPECT));
	assert_false(twilio_sig_valid(TOKEN, URL, NAMES, VALUES, 4, EXPECT));
	/* the same values under other names */
	const char *n2[] = { "To", "CallSid", "From", "Digit", "sCaller" };
	assert_false(twilio_sig_valid(TOKEN, URL, n2, VALUES, 5, EXPECT));
}

static void test_bad_headers_never_match(void **state)
{
	(void)state;
	char trunc[sizeof(EXPECT)];

	memcpy(trunc, EXPECT, sizeof(EXPECT));
	trunc[sizeof(EXPECT) - 2] = '\0';
	assert_false(twilio_sig_valid(TOKEN, URL, NAMES, VALUES, 5, NULL));
	assert_false(twilio_sig_valid(TOKEN, URL, NAMES, VALUES, 5, ""));
	assert_false(twilio_sig_valid(TOKEN, URL, NAMES, VALUES, 5, trunc));
	assert_false(twilio_sig_valid(TOKEN, URL, NAMES, VALUES, 5, "GvWf1cFY/Q7PnoempGyD5oXAezc=x"));
	/* an empty token (not configured) matches nothing, not even its own HMAC */
	assert_false(twilio_sig_valid("", URL, NAMES, VALUES, 5, EXPECT));
}

static void test_errors(void **state)
{
	(void)state;
	char small[TWILIO_SIG_LEN - 1];
	char out[TWILIO_SIG_LEN];

	assert_int_equal(twilio_sig_compute(TOKEN, URL, NAMES, VALUES, 5, small, sizeof(small)),
			 -ENOSPC);
	assert_int_equal(twilio_sig_compute(NULL, URL, NULL, NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(twilio_sig_compute(TOKEN, "", NULL, NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(twilio_sig_compute(TOKEN, URL, NULL, VALUES, 1, out, sizeof(out)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_example),
		cmocka_unit_test(test_url_alone_without_params),
		cmocka_unit_test(test_any_change_is_refused),
		cmocka_unit_test(test_bad_headers_never_match),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
