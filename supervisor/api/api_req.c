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

static bool string_or_absent(const json_t *v)
{
	return !v || json_is_null(v) || json_is_string(v);
}

/* phone_digits() of v, a string or absent ("" and 0 when absent). */
static int number_field(const json_t *v, char *out, size_t len)
{
	out[0] = '\0';
	return json_is_string(v) ? phone_digits(json_string_value(v), out, len) : 0;
}

const char *didctx_parse(json_t *in, struct didctx_req *r)
{
	json_t *given = json_object_get(in, "did_number"), *cli = json_object_get(in, "caller_id");

	r->did[0] = r->cli[0] = '\0';
	if (!string_or_absent(given) || !string_or_absent(cli))
		return "did_number and caller_id must be strings";
	/* A caller ID that is not a number is no caller ID: r->cli stays "". */
	(void)number_field(cli, r->cli, sizeof(r->cli));
	/* Written, but with no digits or too few or too many to be a number. */
	if (number_field(given, r->did, sizeof(r->did)) < 0 ||
	    (json_is_string(given) && json_string_length(given) > 0 && strlen(r->did) < 3))
		return "did_number must be a phone number";
	if (!r->did[0])
		return "did_number is required";
	return NULL;
}
