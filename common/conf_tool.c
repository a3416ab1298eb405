/*
 * conf_tool.c - [tool:NAME] sections: webhooks the local agent's model
 * may call.
 *
 * Owns: c->tools, one entry per name, made on its first key with the
 * defaults (POST, no parameters, 3 s); and the whole-file check that each
 * has a URL and a JSON Schema object, which can only be made once every
 * key of the section has been read.
 * Never: lets a tool take a built-in tool's name (create_booking,
 * end_call): the model would be told of two tools by one name.
 * Fails with ps->err (or err) naming the tool and the key.
 */
#include "conf_impl.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool tool_name_ok(const char *name)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n <= 64;

	for (const char *p = name; *p && ok; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
	return ok && strcmp(name, "create_booking") && strcmp(name, "end_call");
}

/* The [tool:NAME] entry, made on its first key. NULL with ps->err. */
static struct conf_tool *tool_entry(struct conf_parse *ps, const char *name)
{
	struct conf *c = ps->c;

	for (size_t i = 0; i < c->ntools; i++)
		if (!strcmp(c->tools[i].name, name))
			return &c->tools[i];
	if (!tool_name_ok(name)) {
		snprintf(ps->err, sizeof(ps->err), "[tool:%s]: a tool name is 1-64 of "
			 "[A-Za-z0-9_-], and not a built-in tool", name);
		return NULL;
	}
	struct conf_tool *p = realloc(c->tools, (c->ntools + 1) * sizeof(*p));
	if (!p) {
		snprintf(ps->err, sizeof(ps->err), "out of memory");
		return NULL;
	}
	c->tools = p;
	struct conf_tool *t = &c->tools[c->ntools++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->method, sizeof(t->method), "POST");
	snprintf(t->parameters, sizeof(t->parameters), "{\"type\":\"object\",\"properties\":{}}");
	t->timeout_ms = 3000;
	return t;
}

int conf_tool_key(struct conf_parse *ps, const char *name, const char *key, const char *v)
{
	struct conf_tool *t = tool_entry(ps, name);

	if (!t)
		return -EINVAL;
	struct { const char *k; char *dst; size_t len; } f[] = {
		{ "description", t->description, sizeof(t->description) },
		{ "parameters", t->parameters, sizeof(t->parameters) },
		{ "url", t->url, sizeof(t->url) },
		{ "method", t->method, sizeof(t->method) },
		{ "headers", t->headers, sizeof(t->headers) },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(key, f[i].k))
			continue;
		if (strlen(v) >= f[i].len) {
			snprintf(ps->err, sizeof(ps->err), "[tool:%s] %s: longer than %zu characters",
				 name, key, f[i].len - 1);
			return -EINVAL;
		}
		snprintf(f[i].dst, f[i].len, "%s", v);
		return 0;
	}
	if (!strcmp(key, "timeout_ms")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 50 || n > 60000) {
			snprintf(ps->err, sizeof(ps->err), "[tool:%s] timeout_ms: 50 to 60000", name);
			return -EINVAL;
		}
		t->timeout_ms = (int)n;
		return 0;
	}
	snprintf(ps->err, sizeof(ps->err), "[tool:%s] %s: unknown key", name, key);
	return -EINVAL;
}

int conf_tools_check(const struct conf *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->ntools; i++) {
		json_error_t je;
		json_t *j = json_loads(c->tools[i].parameters, 0, &je);
		bool ok = json_is_object(j) && c->tools[i].url[0];
		json_decref(j);
		if (!ok) {
			snprintf(err, errlen, "%s: [tool:%s]: needs a url and parameters as a JSON "
				 "object on one line", c->path, c->tools[i].name);
			return -EINVAL;
		}
	}
	return 0;
}
