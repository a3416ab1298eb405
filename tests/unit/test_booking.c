/*
 * test_booking.c - unit tests for the booking checks in common/booking.h.
 *
 * Protects: what a dispatch team relies on in every booking, from either
 * door (the api, the local agent): a UK postcode is a real one written the
 * standard way; a customer's phone number is 7 to 15 digits kept the
 * seed's way; did_context's numbers are digits of a number as people write
 * it, and anything longer than a column or not a number is refused with
 * the buffer still a string (the issue: 32 digits left it unterminated);
 * a create_booking request takes its source and reference from the body
 * or the headers with the header winning.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/booking/booking.h"

static void postcode_ok(const char *in, const char *want)
{
	char out[16];

	memset(out, 'x', sizeof(out));
	if (!postcode_norm(in, out, sizeof(out)))
		fail_msg("postcode \"%s\" refused", in);
	assert_string_equal(out, want);
}

static void postcode_bad(const char *in)
{
	char out[16];

	if (postcode_norm(in, out, sizeof(out)))
		fail_msg("postcode \"%s\" accepted as \"%s\"", in, out);
}

static void test_postcode_every_outward_shape(void **state)
{
	(void)state;
	postcode_ok("M1 1AE", "M1 1AE");		/* A9 */
	postcode_ok("B33 8TH", "B33 8TH");		/* A99 */
	postcode_ok("CR2 6XH", "CR2 6XH");		/* AA9 */
	postcode_ok("DN55 1PT", "DN55 1PT");		/* AA99 */
	postcode_ok("W1A 0AX", "W1A 0AX");		/* A9A */
	postcode_ok("EC1A 1BB", "EC1A 1BB");		/* AA9A */
	postcode_ok("GIR 0AA", "GIR 0AA");
}

static void test_postcode_written_any_way_comes_back_standard(void **state)
{
	(void)state;
	postcode_ok("e59es", "E5 9ES");
	postcode_ok("  sw1a1aa ", "SW1A 1AA");
	postcode_ok("S W 1 A 1 A A", "SW1A 1AA");
	postcode_ok("gir0aa", "GIR 0AA");
}

static void test_postcode_refuses_what_is_not_one(void **state)
{
	(void)state;
	const char *bad[] = {
		"", " ", "12345", "E5 9ESS", "E5", "9ES", "E59E", "EEE 9ES", "1E5 9ES",
		"E5 99S", "E5 9E5", "EC1AA 1BB", "A999 9AA", "E5-9ES", "E5\t9ES", "E5 9ÉS",
		"E5 9ES;", "'; DROP TABLE x; --", "SW1A 1AAA", "SW1A1AA1AA",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		postcode_bad(bad[i]);
}

static void test_postcode_never_writes_past_out(void **state)
{
	char out[9];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_true(postcode_norm("ec1a1bb", out, 9));
	assert_string_equal(out, "EC1A 1BB");
	memset(out, 'x', sizeof(out));
	assert_false(postcode_norm("ec1a1bb", out, 8));	/* refused, never cut short */
	assert_string_equal(out, "");
	assert_false(postcode_norm("m11ae", out, 0));
}

static void phone_ok(const char *in, const char *want)
{
	char out[32];

	if (!phone_norm(in, out, sizeof(out)))
		fail_msg("phone \"%s\" refused", in);
	assert_string_equal(out, want);
}

static void test_phone_keeps_digits_and_a_leading_plus(void **state)
{
	(void)state;
	phone_ok("447963155448", "447963155448");
	phone_ok("+44 (0)7963-155 448", "+4407963155448");
	phone_ok("07963.155.448", "07963155448");
	phone_ok("1234567", "1234567");
	phone_ok("123456789012345", "123456789012345");
	phone_ok("44+7963155448", "447963155448");	/* '+' only first */
}

static void test_phone_refuses_too_few_or_too_many_digits(void **state)
{
	char out[32];
	const char *bad[] = { "", "+", "123456", "+44 12", "1234567890123456",
			      "+1234567890123456", "no number here", "'; DROP TABLE x; --" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'x', sizeof(out));
		if (phone_norm(bad[i], out, sizeof(out)))
			fail_msg("phone \"%s\" accepted as \"%s\"", bad[i], out);
		assert_non_null(memchr(out, '\0', sizeof(out)));
	}
}

static void test_phone_too_long_for_out_is_refused_not_cut(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_false(phone_norm("123456789", out, sizeof(out)));	/* 9 digits, 7 fit */
	assert_string_equal(out, "1234567");
	assert_false(phone_norm("123", out, 0));
}

static void digits(const char *in, int want_rc, const char *want)
{
	char out[PHONE_DIGITS_MAX + 1];

	memset(out, 'x', sizeof(out));
	int rc = phone_digits(in, out, sizeof(out));
	if (rc != want_rc)
		fail_msg("phone_digits(\"%s\") = %d, not %d", in, rc, want_rc);
	assert_non_null(memchr(out, '\0', sizeof(out)));
	assert_string_equal(out, want);
}

static void test_digits_of_numbers_as_people_write_them(void **state)
{
	(void)state;
	digits("442039962952", 0, "442039962952");
	digits("+44 (0)20 3996-2952", 0, "4402039962952");
	digits("020.3996.2952", 0, "02039962952");
	digits("", 0, "");
	digits("  ", 0, "");
	digits("123456789012345678901234567890", 0, "123456789012345678901234567890");
}

static void test_digits_of_what_is_not_a_number_is_empty(void **state)
{
	(void)state;
	digits("anonymous", -EINVAL, "");
	digits("unknown", -EINVAL, "");
	digits("4420399629x", -EINVAL, "");
	digits("442039962952;", -EINVAL, "");
	digits("44 20\t3996", -EINVAL, "");
}

/* The issue: 32 digits returned 0 and left out without its terminator. */
static void test_issue_digits_longer_than_a_column_are_refused_terminated(void **state)
{
	(void)state;
	digits("11111111111111111111111111111114", -EINVAL, "");
	digits("1111111111111111111111111111111", -EINVAL, "");
	digits("+44 (0) 1111111111 1111111111 1111111111", -EINVAL, "");
}

static void test_digits_never_write_past_a_small_out(void **state)
{
	char out[4];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_int_equal(phone_digits("1234", out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(phone_digits("123", out, sizeof(out)), 0);
	assert_string_equal(out, "123");
	assert_int_equal(phone_digits("1", out, 0), -EINVAL);
}

static json_t *seed_booking(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "customer_name", "Ahmed Lekan",
			 "customer_phone", "447963155448", "postcode", "e59es",
			 "address", "42 Amhurst Road", "problem_description", "Leaking pipe",
			 "trade_type", "plumbing");
}

static void test_request_reference_follows_the_idempotency_key(void **state)
{
	struct booking_in a, b, c, d;
	char why[256];
	json_t *in = seed_booking();

	(void)state;
	assert_null(booking_request(in, NULL, "key-1", &a, why, sizeof(why)));
	json_object_set_new(in, "idempotency_key", json_string("key-1"));
	assert_null(booking_request(in, NULL, NULL, &b, why, sizeof(why)));
	assert_string_equal(a.ref, b.ref);
	assert_null(booking_request(in, NULL, "key-2", &c, why, sizeof(why)));
	assert_string_not_equal(a.ref, c.ref);			/* the header wins */
	json_object_set_new(in, "idempotency_key", json_string(""));
	assert_null(booking_request(in, NULL, NULL, &d, why, sizeof(why)));
	assert_int_equal(strlen(d.ref), 10);			/* "" is no key */
	assert_string_equal(a.postcode, "E5 9ES");
	json_decref(in);
}

static void test_request_refuses_bad_keys_and_sources(void **state)
{
	struct booking_in b;
	char why[256], long_key[130];
	json_t *in = seed_booking();

	(void)state;
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[129] = '\0';
	assert_string_equal(booking_request(in, NULL, long_key, &b, why, sizeof(why)),
			    "Idempotency-Key must be 1 to 128 characters");
	assert_string_equal(booking_request(in, NULL, "", &b, why, sizeof(why)),
			    "Idempotency-Key must be 1 to 128 characters");
	assert_string_equal(booking_request(in, "robot", NULL, &b, why, sizeof(why)),
			    "X-Source must be api, cloud or local");
	assert_null(booking_request(in, "cloud", NULL, &b, why, sizeof(why)));
	assert_string_equal(b.source, "cloud");
	json_object_set_new(in, "source", json_string("local"));
	assert_null(booking_request(in, "robot", NULL, &b, why, sizeof(why)));	/* body wins */
	assert_string_equal(b.source, "local");
	json_object_set_new(in, "idempotency_key", json_integer(7));
	assert_string_equal(booking_request(in, NULL, NULL, &b, why, sizeof(why)),
			    "idempotency_key must be a string of up to 128 characters");
	json_decref(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postcode_every_outward_shape),
		cmocka_unit_test(test_postcode_written_any_way_comes_back_standard),
		cmocka_unit_test(test_postcode_refuses_what_is_not_one),
		cmocka_unit_test(test_postcode_never_writes_past_out),
		cmocka_unit_test(test_phone_keeps_digits_and_a_leading_plus),
		cmocka_unit_test(test_phone_refuses_too_few_or_too_many_digits),
		cmocka_unit_test(test_phone_too_long_for_out_is_refused_not_cut),
		cmocka_unit_test(test_digits_of_numbers_as_people_write_them),
		cmocka_unit_test(test_digits_of_what_is_not_a_number_is_empty),
		cmocka_unit_test(test_issue_digits_longer_than_a_column_are_refused_terminated),
		cmocka_unit_test(test_digits_never_write_past_a_small_out),
		cmocka_unit_test(test_request_reference_follows_the_idempotency_key),
		cmocka_unit_test(test_request_refuses_bad_keys_and_sources),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
