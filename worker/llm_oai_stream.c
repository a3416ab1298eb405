/*
 * llm_oai_stream.c - an OpenAI-compatible stream's meaning. See
 * llm_oai_stream.h.
 *
 * Tool calls come in fragments keyed by index; some servers start a new
 * call at an index already used, with a new id (protocols.md pitfall 6).
 * A failure inside a 200 stream (an "error" event, an error object,
 * x_groq.error) is an error, never a short reply, and always has a reason:
 * a peer's {"error": 1} has no message to pass on.
 */
#include "llm_oai_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct oai_stream *s, const char *why)
{
	if (!s->failed) {
		s->failed = true;
		snprintf(s->why, sizeof(s->why), "%s", why && *why ? why : "error in the stream");
	}
	return -EPROTO;
}

/* The text of an error value: a string, or an object's "message". */
static const char *error_text(json_t *e)
{
	if (json_is_string(e))
		return json_string_value(e);
	return json_string_value(json_object_get(e, "message"));
}

static json_t *call_at(struct oai_stream *s, json_int_t idx)
{
	json_t *call = NULL;

	for (size_t i = 0; i < json_array_size(s->calls); i++) {
		json_t *c = json_array_get(s->calls, i);
		if (json_integer_value(json_object_get(c, "index")) == idx)
			call = c;	/* the last one at this index */
	}
	return call;
}

static int append_args(struct oai_stream *s, json_t *call, const char *args)
{
	json_t *old = json_object_get(call, "arguments");
	size_t a = json_string_length(old), b = strlen(args);

	if (a + b > OAI_ARGS_MAX)
		return fail(s, "tool call arguments too long");
	char *cat = malloc(a + b + 1);
	if (!cat)
		return fail(s, "out of memory");
	memcpy(cat, json_string_value(old), a);
	memcpy(cat + a, args, b + 1);
	int rc = json_object_set_new(call, "arguments", json_stringn(cat, a + b));
	free(cat);
	return rc ? fail(s, "out of memory") : 0;
}

static int tool_fragment(struct oai_stream *s, json_t *tc)
{
	json_t *fn = json_object_get(tc, "function");
	const char *id = json_string_value(json_object_get(tc, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	const char *args = json_string_value(json_object_get(fn, "arguments"));
	json_int_t idx = json_integer_value(json_object_get(tc, "index"));
	json_t *call = call_at(s, idx);

	if (!call || (id && *id && strcmp(id, json_string_value(json_object_get(call, "id"))))) {
		if (json_array_size(s->calls) >= OAI_CALLS_MAX)
			return fail(s, "too many tool calls");
		call = json_pack("{s:I, s:s, s:s, s:s}", "index", idx, "id", id ? id : "",
				 "name", "", "arguments", "");
		if (!call || json_array_append_new(s->calls, call))
			return fail(s, "out of memory");
	}
	if (name && *name && json_object_set_new(call, "name", json_string(name)))
		return fail(s, "out of memory");
	return args && *args ? append_args(s, call, args) : 0;
}

static int on_chunk(struct oai_stream *s, json_t *j)
{
	json_t *err = json_object_get(j, "error");

	if (!err || json_is_null(err))
		err = json_object_get(json_object_get(j, "x_groq"), "error");
	if (err && !json_is_null(err))
		return fail(s, error_text(err));
	json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
	json_t *delta = json_object_get(ch, "delta"), *tcs = json_object_get(delta, "tool_calls");
	json_t *content = json_object_get(delta, "content");
	const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
	size_t i;
	json_t *tc;

	if (json_string_length(content) && !s->on_token(s->arg, json_string_value(content),
							 json_string_length(content))) {
		s->stopped = true;
		return 1;
	}
	json_array_foreach(tcs, i, tc)
		if (tool_fragment(s, tc))
			return -EPROTO;
	if (fin)
		snprintf(s->finish, sizeof(s->finish), "%s", fin);
	return 0;
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct oai_stream *s = arg;
	json_error_t jerr;
	json_t *j;
	int rc;

	if (s->done)
		return 0;
	if (!strcmp(data, "[DONE]")) {
		s->done = true;
		return 0;
	}
	j = json_loadb(data, len, 0, &jerr);
	if (!strcmp(event, "error"))
		rc = fail(s, j ? error_text(json_object_get(j, "error")) : "error event in the stream");
	else if (!json_is_object(j))
		rc = fail(s, "malformed data line in the stream");
	else
		rc = on_chunk(s, j);
	json_decref(j);
	return rc;
}

int oai_stream_init(struct oai_stream *s, oai_token_fn on_token, void *arg)
{
	memset(s, 0, sizeof(*s));
	sse_init(&s->sse, OAI_EVENT_MAX);
	s->on_token = on_token;
	s->arg = arg;
	return (s->calls = json_array()) ? 0 : -ENOMEM;
}

void oai_stream_free(struct oai_stream *s)
{
	if (!s)
		return;
	sse_free(&s->sse);
	json_decref(s->calls);
	s->calls = NULL;
}

static int result(struct oai_stream *s, int rc)
{
	if (s->failed)
		return -EPROTO;
	if (s->stopped)
		return 1;
	if (rc == -EMSGSIZE)
		return fail(s, "stream event too long");
	if (rc < 0)
		return fail(s, "out of memory");
	return 0;
}

int oai_stream_feed(struct oai_stream *s, const char *data, size_t len)
{
	if (s->failed || s->stopped)
		return result(s, 0);
	if (s->done)
		return 0;
	return result(s, sse_feed(&s->sse, data, len, on_event, s));
}

int oai_stream_end(struct oai_stream *s)
{
	int rc = s->failed || s->stopped || s->done ? 0 :
		 sse_finish(&s->sse, on_event, s);

	if ((rc = result(s, rc)))
		return rc < 0 ? rc : 0;
	if (!s->done && !s->finish[0])
		return fail(s, "stream ended before [DONE]");
	return 0;
}
