/*
 * api_req.c - the api's request bodies. See api_req.h.
 */
#include "api_req.h"

#include <string.h>

json_t *api_json_object(const void *buf, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* -1 if v is there and not a string; else phone_digits() of it ("" if absent). */
static int number_field(json_t *v, char *out, size_t len)
{
	out[0] = '\0';
	if (!v || json_is_null(v))
		return 1;
	if (!json_is_string(v))
		return -1;
	return phone_digits(json_string_value(v), out, len);
}

const char *didctx_parse(json_t *in, struct didctx_req *r)
{
	json_t *given = json_object_get(in, "did_number");
	int d = number_field(given, r->did, sizeof(r->did));
	int c = number_field(json_object_get(in, "caller_id"), r->cli, sizeof(r->cli));

	if (d < 0 || c < 0)
		return "did_number and caller_id must be strings";
	/* Written, but with no digits or too few or too many to be a number. */
	if (d == 0 || (json_is_string(given) && json_string_length(given) > 0 &&
		       strlen(r->did) < 3))
		return "did_number must be a phone number";
	if (!r->did[0])
		return "did_number is required";
	return NULL;	/* c == 0: not a number, so no caller ID (r->cli is "") */
}
