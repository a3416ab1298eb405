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
 * Fails: NULL when out of memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* {{name}} -> the variable's value; unknown names become nothing. */
char *agent_render(const char *tmpl, json_t *vars)
{
	size_t cap = strlen(tmpl) * 2 + 1024, n = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (const char *p = tmpl; *p;) {
		const char *end = p[0] == '{' && p[1] == '{' ? strstr(p + 2, "}}") : NULL;
		char val[1024] = "";
		size_t add;
		if (end && end - p - 2 < 64) {
			char name[64];
			const char *b = p + 2;
			size_t len = (size_t)(end - b);
			while (len && *b == ' ')
				b++, len--;
			while (len && b[len - 1] == ' ')
				len--;
			snprintf(name, sizeof(name), "%.*s", (int)len, b);
			json_t *v = json_object_get(vars, name);
			if (json_is_string(v))
				snprintf(val, sizeof(val), "%s", json_string_value(v));
			else if (json_is_integer(v))
				snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
			else if (json_is_real(v))
				snprintf(val, sizeof(val), "%g", json_real_value(v));
			else if (json_is_boolean(v))
				snprintf(val, sizeof(val), "%s", json_is_true(v) ? "yes" : "no");
			p = end + 2;
		} else {
			val[0] = *p++;
			val[1] = '\0';
		}
		add = strlen(val);
		if (n + add + 1 > cap) {
			char *q = realloc(out, cap = (n + add + 1) * 2);
			if (!q) {
				free(out);
				return NULL;
			}
			out = q;
		}
		memcpy(out + n, val, add);
		n += add;
	}
	out[n] = '\0';
	return out;
}
