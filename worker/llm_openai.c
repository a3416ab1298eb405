/*
 * llm_openai.c - OpenAI-compatible chat completions, streamed (Groq's
 * /openai/v1 and OpenAI's /v1 alike; protocols.md section 2).
 *
 * Parses the SSE stream line by line ("data:", "event:", comments, \r\n),
 * assembles tool calls from fragments keyed by index (and by a new id at
 * the same index, as some servers do), and reports a failure that comes
 * inside a 200 stream (an "error" event, an error object, x_groq.error) or
 * a stream that ends before [DONE] as an error, never as a short reply.
 */
#include "llm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "http.h"

#define LINE_MAX_BYTES (256 * 1024)
#define ERRBODY_MAX 8192

struct llm_req {
	struct http_req *http;
	const struct llm_events *ev;
	void *arg;
	long status;
	int retry_after_ms;
	char *line;			/* the SSE line being assembled */
	size_t linelen;
	char *errbody;			/* a non-200 answer's body */
	size_t errlen;
	bool error_event;		/* the last "event:" line said error */
	bool done, failed;
	char finish[24];
	json_t *calls;			/* [{id, name, arguments}] */
};

static void req_free(struct llm_req *r)
{
	free(r->line);
	free(r->errbody);
	json_decref(r->calls);
	free(r);
}

static void fail(struct llm_req *r, long status, const char *why)
{
	if (r->failed || r->done)
		return;
	r->failed = true;
	r->ev->on_error(r->arg, status, r->retry_after_ms, why);
}

/* Appends one tool-call fragment; see protocols.md 2.3 and pitfall 6. */
static void tool_fragment(struct llm_req *r, json_t *tc)
{
	json_t *fn = json_object_get(tc, "function");
	const char *id = json_string_value(json_object_get(tc, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	const char *args = json_string_value(json_object_get(fn, "arguments"));
	size_t idx = (size_t)json_integer_value(json_object_get(tc, "index"));
	json_t *call = NULL;

	for (size_t i = 0; i < json_array_size(r->calls); i++) {
		json_t *c = json_array_get(r->calls, i);
		if ((size_t)json_integer_value(json_object_get(c, "index")) == idx)
			call = c;	/* the last one at this index */
	}
	if (!call || (id && *id && strcmp(id, json_string_value(json_object_get(call, "id"))))) {
		call = json_pack("{s:I, s:s, s:s, s:s}", "index", (json_int_t)idx, "id", id ? id : "",
				 "name", "", "arguments", "");
		json_array_append_new(r->calls, call);
	}
	if (name && *name)
		json_object_set_new(call, "name", json_string(name));
	if (args && *args) {
		const char *old = json_string_value(json_object_get(call, "arguments"));
		size_t n = strlen(old) + strlen(args);
		char *cat = malloc(n + 1);
		if (cat) {
			snprintf(cat, n + 1, "%s%s", old, args);
			json_object_set_new(call, "arguments", json_string(cat));
			free(cat);
		}
	}
}

static void on_chunk(struct llm_req *r, json_t *j)
{
	json_t *err = json_object_get(j, "error"), *xg = json_object_get(j, "x_groq");

	if (err || json_object_get(xg, "error")) {
		const char *m = json_string_value(json_object_get(err, "message"));
		fail(r, 0, m ? m : json_string_value(json_object_get(xg, "error")));
		return;
	}
	json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
	json_t *delta = json_object_get(ch, "delta"), *tcs = json_object_get(delta, "tool_calls");
	const char *text = json_string_value(json_object_get(delta, "content"));
	const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
	size_t i;
	json_t *tc;

	if (text && *text)
		r->ev->on_token(r->arg, text, strlen(text));
	json_array_foreach(tcs, i, tc)
		tool_fragment(r, tc);
	if (fin)
		snprintf(r->finish, sizeof(r->finish), "%s", fin);
}

static void on_line(struct llm_req *r, char *line)
{
	json_error_t jerr;

	if (!*line || *line == ':')
		return;		/* event boundary, or a comment */
	if (!strncmp(line, "event:", 6)) {
		r->error_event = strstr(line + 6, "error") != NULL;
		return;
	}
	if (strncmp(line, "data:", 5))
		return;
	const char *data = line + 5 + (line[5] == ' ');
	if (!strcmp(data, "[DONE]")) {
		r->done = true;
		return;
	}
	json_t *j = json_loads(data, 0, &jerr);
	if (!j) {
		fail(r, 0, "malformed data line in the stream");
		return;
	}
	if (r->error_event) {
		const char *m = json_string_value(json_object_get(json_object_get(j, "error"),
								   "message"));
		fail(r, 0, m ? m : "error event in the stream");
	} else {
		on_chunk(r, j);
	}
	json_decref(j);
}

static void on_status(void *arg, long status, const char *retry_after)
{
	struct llm_req *r = arg;

	r->status = status;
	if (retry_after)
		r->retry_after_ms = (int)(atof(retry_after) * 1000);
}

static bool on_data(void *arg, const char *data, size_t len)
{
	struct llm_req *r = arg;

	if (r->status != 200) {		/* keep the error body for the message */
		size_t n = r->errlen + len > ERRBODY_MAX ? ERRBODY_MAX - r->errlen : len;
		memcpy(r->errbody + r->errlen, data, n);
		r->errlen += n;
		return true;
	}
	for (size_t i = 0; i < len && !r->failed; i++) {
		if (data[i] == '\n') {
			if (r->linelen && r->line[r->linelen - 1] == '\r')
				r->linelen--;
			r->line[r->linelen] = '\0';
			on_line(r, r->line);
			r->linelen = 0;
		} else if (r->linelen + 1 < LINE_MAX_BYTES) {
			r->line[r->linelen++] = data[i];
		} else {
			fail(r, 0, "stream line too long");
		}
	}
	return !r->failed;
}

static void on_done(void *arg, int curl_code, long status, const char *error)
{
	struct llm_req *r = arg;
	char why[300];

	if (status && status != 200) {
		json_error_t jerr;
		json_t *j = json_loadb(r->errbody, r->errlen, 0, &jerr);
		const char *m = json_string_value(json_object_get(json_object_get(j, "error"),
								   "message"));
		snprintf(why, sizeof(why), "HTTP %ld: %s", status, m ? m : "no error message");
		json_decref(j);
		fail(r, status, why);
	} else if (curl_code) {
		fail(r, 0, error);
	} else if (!r->done && !r->finish[0]) {
		fail(r, 0, "stream ended before [DONE]");
	} else if (!r->failed) {
		r->done = true;
		r->ev->on_done(r->arg, r->finish[0] ? r->finish : "stop", r->calls);
	}
	req_free(r);
}

static const struct http_handlers handlers = { on_status, on_data, on_done };

static int start(struct llm_req **out, struct http *h, const struct conf *c, json_t *messages,
		 json_t *tools, const struct llm_events *ev, void *arg)
{
	char url[300], auth[300];
	const char *headers[] = { "Content-Type: application/json", "Accept: text/event-stream",
				  auth, NULL };
	struct llm_req *r = calloc(1, sizeof(*r));
	json_t *body;
	char *text;
	int rc;

	*out = NULL;
	if (!r || !(r->line = malloc(LINE_MAX_BYTES)) || !(r->errbody = malloc(ERRBODY_MAX)) ||
	    !(r->calls = json_array())) {
		if (r)
			req_free(r);
		return -ENOMEM;
	}
	r->ev = ev;
	r->arg = arg;
	r->retry_after_ms = -1;
	snprintf(url, sizeof(url), "%s/chat/completions", c->llm_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->secrets->llm_key);
	body = json_pack("{s:s, s:O, s:b, s:f, s:i}", "model", c->llm_model, "messages", messages,
			 "stream", 1, "temperature", c->llm_temperature, "max_tokens",
			 c->llm_max_tokens);
	if (json_array_size(tools)) {
		json_object_set(body, "tools", tools);
		json_object_set_new(body, "tool_choice", json_string("auto"));
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct http_opts o = { .method = "POST", .url = url, .headers = headers, .body = text,
			       .body_len = text ? strlen(text) : 0, .timeout_ms = c->llm_timeout_ms };
	rc = text ? http_start(h, &r->http, &o, &handlers, r) : -ENOMEM;
	explicit_bzero(auth, sizeof(auth));
	free(text);
	if (rc < 0) {
		req_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static void cancel(struct llm_req *r)
{
	if (!r)
		return;
	http_abort(r->http);
	req_free(r);
}

const struct llm_ops llm_openai = { "openai", start, cancel };
