/*
 * agent_render.c - fills a template's {{name}} with the call's variables,
 * for the system prompt and the greeting.
 *
 * {{name}} as ElevenLabs' dynamic variables spell them, so one prompt file
 * serves the local and the cloud agent. A name may have spaces inside the
 * braces; a variable that is not there, or is an array, object or null,
 * becomes nothing; numbers and booleans are written as a person would say
 * them ("yes", "no").
 *
 * Owns: nothing; a pure function of its arguments (unit-tested on its own).
 * Never: logs.
 * Fails: a negative errno (out of memory), with *out NULL.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../common/buf.h"
#include "agent.h"

#define NAME_LEN 64	/* {{...}} with this much or more inside is text */
#define VALUE_MAX 1023	/* bytes of one value: a peer's field cannot swell the prompt */

/* The variable named between b and end, spaces around the name ignored. */
static json_t *lookup(json_t *vars, const char *b, const char *end)
{
	char name[NAME_LEN];
	size_t len = (size_t)(end - b);

	while (len && *b == ' ')
		b++, len--;
	while (len && b[len - 1] == ' ')
		len--;
	snprintf(name, sizeof(name), "%.*s", (int)len, b);
	return json_object_get(vars, name);
}

/* The value as a person would say it; anything else is nothing. */
static int put_value(struct buf *out, json_t *v)
{
	if (json_is_string(v))
		return buf_printf(out, "%.*s", VALUE_MAX, json_string_value(v));
	if (json_is_integer(v))
		return buf_printf(out, "%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return buf_printf(out, "%g", json_real_value(v));
	if (json_is_boolean(v))
		return buf_append_str(out, json_is_true(v) ? "yes" : "no");
	return 0;
}

int agent_render(const char *tmpl, json_t *vars, char **out)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	rc = buf_reserve(&b, 0, NULL);	/* an empty result is "", not NULL */
	for (const char *p = tmpl; *p && rc == 0;) {
		const char *end = p[0] == '{' && p[1] == '{' ? strstr(p + 2, "}}") : NULL;
		if (end && end - p - 2 < NAME_LEN) {
			rc = put_value(&b, lookup(vars, p + 2, end));
			p = end + 2;
		} else {
			rc = buf_append_byte(&b, (uint8_t)*p++);
		}
	}
	if (rc < 0) {
		buf_free(&b);
		*out = NULL;
		return rc;
	}
	*out = buf_steal(&b, NULL);
	return 0;
}
