/*
 * fuzz_didctx.c - did_context's body as the api reads it from a client.
 *
 * The input is the HTTP body: api_json_object() then didctx_parse(), the
 * very functions the handler calls. A body either gives a DID of 3 to 30
 * digits and a caller ID of at most 30 digits (or none), or one of the
 * handler's reasons; the numbers are always strings (the issue: a caller
 * ID of 32 digits left its buffer unterminated). The same bytes, as a C
 * string, also go through phone_digits() with a small output buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../supervisor/api/api_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void digits_only(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			abort();
}

static void check_phone_digits(const uint8_t *data, size_t size)
{
	char s[128], out[PHONE_DIGITS_MAX + 1];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1, want = 0;

	memcpy(s, data, n);
	s[n] = '\0';
	for (size_t len = 1; len <= sizeof(out); len += 7) {
		memset(out, 'x', sizeof(out));
		int rc = phone_digits(s, out, len);
		if (!memchr(out, '\0', len))
			abort();
		if (rc < 0 && out[0])
			abort();
		if (rc == 0)
			digits_only(out, PHONE_DIGITS_MAX);
	}
	memset(out, 'x', sizeof(out));
	if (phone_digits(s, out, sizeof(out)) == 0) {	/* every digit kept, in order */
		for (const char *p = s; *p; p++)
			if (*p >= '0' && *p <= '9' && out[want++] != *p)
				abort();
		if (out[want])
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct didctx_req r;

	check_phone_digits(data, size);
	json_t *in = api_json_object(data, size);
	if (!in)
		return 0;
	if (!json_is_object(in))
		abort();
	memset(&r, 'x', sizeof(r));
	const char *bad = didctx_parse(in, &r);
	if (!memchr(r.did, '\0', sizeof(r.did)) || !memchr(r.cli, '\0', sizeof(r.cli)))
		abort();
	if (!bad) {
		digits_only(r.did, PHONE_DIGITS_MAX);
		digits_only(r.cli, PHONE_DIGITS_MAX);
		if (strlen(r.did) < 3)
			abort();
	} else if (strcmp(bad, "did_number and caller_id must be strings") &&
		   strcmp(bad, "did_number must be a phone number") &&
		   strcmp(bad, "did_number is required")) {
		abort();
	}
	json_decref(in);
	return 0;
}
