/*
 * test_twilio_sig.c - unit tests for common/twilio_sig.h, Twilio's
 * X-Twilio-Signature.
 *
 * Protects: issue 12 item 1, the websocket upgrade (the URL alone) and the
 * api's webhooks (URL plus sorted POST parameters) are signed as Twilio
 * signs them: Twilio's own published vectors match, parameters in any
 * order give one signature, and any change to token, URL, a name or a
 * value is refused, as are absent and malformed headers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/twilio_sig.h"

/* Twilio's security documentation and its helper libraries' tests. */
#define DOC_TOKEN "12345"
#define DOC_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define DOC_SIG "RSOYDt4T1cUTdK1PDd93/VVr8B8="

static const struct twilio_param doc_params[] = {
	{ "Digits", "1234" }, { "To", "+18005551212" }, { "From", "+14158675309" },
	{ "Caller", "+14158675309" }, { "CallSid", "CA1234567890ABCDE" },
};
#define NDOC (sizeof(doc_params) / sizeof(doc_params[0]))

static void twilios_published_vector_matches(void **state)
{
	char sig[TWILIO_SIG_LEN + 1];
	(void)state;

	assert_int_equal(twilio_sig_compute(DOC_TOKEN, DOC_URL, doc_params, NDOC, sig), 0);
	assert_string_equal(sig, DOC_SIG);
	assert_true(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc_params, NDOC, DOC_SIG));
}

static void a_name_given_twice_sorts_by_value(void **state)
{
	/* twilio-python's test of repeated parameters. */
	static const struct twilio_param p[] = {
		{ "Sid", "CA123" }, { "SidAccount", "AC123" }, { "Digits", "5678" },
		{ "Digits", "1234" }, { "Digits", "1234" },
	};
	(void)state;
	assert_true(twilio_sig_valid(DOC_TOKEN, DOC_URL, p, 5, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
}

static void the_upgrade_signs_the_url_alone(void **state)
{
	char sig[TWILIO_SIG_LEN + 1];
	(void)state;

	/* base64(HMAC-SHA1("secret-token", "wss://example.com/twilio")), by Python's hmac. */
	assert_int_equal(twilio_sig_compute("secret-token", "wss://example.com/twilio", NULL, 0,
					    sig), 0);
	assert_string_equal(sig, "oE49TxYDdRRUZidXXa6MLqwzUPg=");
}

static void any_change_is_refused(void **state)
{
	struct twilio_param p[NDOC];
	(void)state;

	assert_false(twilio_sig_valid("12346", DOC_URL, doc_params, NDOC, DOC_SIG));
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL "&x=1", doc_params, NDOC, DOC_SIG));
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc_params, NDOC - 1, DOC_SIG));
	memcpy(p, doc_params, sizeof(p));
	p[0].value = "9999";
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL, p, NDOC, DOC_SIG));
	memcpy(p, doc_params, sizeof(p));
	p[1].name = "to";
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL, p, NDOC, DOC_SIG));
}

static void absent_or_malformed_headers_are_refused(void **state)
{
	(void)state;
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc_params, NDOC, NULL));
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc_params, NDOC, ""));
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc_params, NDOC, DOC_SIG "x"));
	assert_false(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc_params, NDOC, "RSOYDt4T1cUTdK1P"));
	/* No token configured: nothing can be valid. */
	assert_false(twilio_sig_valid("", DOC_URL, doc_params, NDOC, DOC_SIG));
	char sig[TWILIO_SIG_LEN + 1];
	assert_int_equal(twilio_sig_compute("", DOC_URL, NULL, 0, sig), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(twilios_published_vector_matches),
		cmocka_unit_test(a_name_given_twice_sorts_by_value),
		cmocka_unit_test(the_upgrade_signs_the_url_alone),
		cmocka_unit_test(any_change_is_refused),
		cmocka_unit_test(absent_or_malformed_headers_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
