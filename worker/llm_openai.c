/*
 * llm_openai.c - OpenAI-compatible chat completions, streamed (Groq's
 * /openai/v1 and OpenAI's /v1 alike; protocols.md section 2).
 *
 * The HTTP side of a request: the body we send, the status and error body
 * we get, and the one terminal callback. What the stream says is
 * llm_oai_stream.c's.
 *
 * Exactly one of on_done / on_error per request, always from http.c's
 * completion, never from inside a curl callback (a dialog that starts the
 * next request from there would be refused by curl): a failure seen while
 * reading only stops the transfer, the verdict comes when curl reports it.
 * A stream that came whole ([DONE]) is done, whatever the transport does
 * after it (a timeout or a reset while the server lingers). A cancel from
 * inside on_token is kept until the token callback returns.
 */
#include "llm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "http.h"
#include "http_status.h"
#include "llm_oai_stream.h"

#define ERRBODY_MAX 8192

struct llm_req {
	struct http_req *http;
	const struct llm_events *ev;
	void *arg;
	long status;
	int retry_after_ms;
	char *errbody;			/* a non-200 answer's body */
	size_t errlen;
	struct oai_stream stream;
	bool in_token;			/* on_token is running */
	bool cancelled;			/* cancel() came while it was */
};

static void req_free(struct llm_req *r)
{
	free(r->errbody);
	oai_stream_free(&r->stream);
	free(r);
}

static bool on_token(void *arg, const char *text, size_t len)
{
	struct llm_req *r = arg;

	r->in_token = true;
	r->ev->on_token(r->arg, text, len);
	r->in_token = false;
	return !r->cancelled;
}

static void on_status(void *arg, long status, const char *retry_after)
{
	struct llm_req *r = arg;

	r->status = status;
	r->retry_after_ms = http_retry_after_ms(retry_after);
}

static bool on_data(void *arg, const char *data, size_t len)
{
	struct llm_req *r = arg;

	if (r->status != 200) {		/* keep the error body for the message */
		size_t n = len < ERRBODY_MAX - r->errlen ? len : ERRBODY_MAX - r->errlen;
		memcpy(r->errbody + r->errlen, data, n);
		r->errlen += n;
		return true;
	}
	int rc = oai_stream_feed(&r->stream, data, len);
	if (r->cancelled) {		/* cancel() from on_token: http_abort is done */
		req_free(r);
		return false;
	}
	return rc == 0;
}

/* A non-200 answer's reason: its error message, else the status alone. */
static void status_error(struct llm_req *r, long status, char *why, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(r->errbody, r->errlen, 0, &jerr);
	const char *m = json_string_value(json_object_get(json_object_get(j, "error"),
							   "message"));

	snprintf(why, len, "HTTP %ld: %.200s", status, m ? m : "no error message");
	json_decref(j);
}

static void on_done(void *arg, int curl_code, long status, const char *error)
{
	struct llm_req *r = arg;
	struct oai_stream *s = &r->stream;
	char why[300];

	if (status && status != 200) {
		status_error(r, status, why, sizeof(why));
		r->ev->on_error(r->arg, status, r->retry_after_ms, why);
	} else if (s->failed) {
		r->ev->on_error(r->arg, 0, r->retry_after_ms, s->why);
	} else if (s->done) {
		r->ev->on_done(r->arg, s->finish[0] ? s->finish : "stop", s->calls);
	} else if (curl_code) {
		r->ev->on_error(r->arg, 0, r->retry_after_ms, error ? error : "transfer failed");
	} else if (oai_stream_end(s) < 0) {
		r->ev->on_error(r->arg, 0, r->retry_after_ms, s->why);
	} else {
		r->ev->on_done(r->arg, s->finish[0] ? s->finish : "stop", s->calls);
	}
	req_free(r);
}

static const struct http_handlers handlers = { on_status, on_data, on_done };

static char *request_body(const struct conf *c, json_t *messages, json_t *tools)
{
	json_t *body = json_pack("{s:s, s:O, s:b, s:f, s:i}", "model", c->llm_model,
				 "messages", messages, "stream", 1, "temperature",
				 c->llm_temperature, "max_tokens", c->llm_max_tokens);
	char *text;

	if (body && json_array_size(tools)) {
		json_object_set(body, "tools", tools);
		json_object_set_new(body, "tool_choice", json_string("auto"));
	}
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	return text;
}

static int start(struct llm_req **out, struct http *h, const struct conf *c, json_t *messages,
		 json_t *tools, const struct llm_events *ev, void *arg)
{
	char url[300], auth[300];
	const char *headers[] = { "Content-Type: application/json", "Accept: text/event-stream",
				  auth, NULL };
	struct llm_req *r = calloc(1, sizeof(*r));
	char *text = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	if (!(r->errbody = malloc(ERRBODY_MAX)) || oai_stream_init(&r->stream, on_token, r) < 0 ||
	    !(text = request_body(c, messages, tools))) {
		req_free(r);
		return -ENOMEM;
	}
	r->ev = ev;
	r->arg = arg;
	r->retry_after_ms = -1;
	snprintf(url, sizeof(url), "%s/chat/completions", c->llm_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->secrets->llm_key);
	struct http_opts o = { .method = "POST", .url = url, .headers = headers, .body = text,
			       .body_len = strlen(text), .timeout_ms = c->llm_timeout_ms };
	rc = http_start(h, &r->http, &o, &handlers, r);
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
	http_abort(r->http);		/* no http callback after this */
	if (r->in_token)
		r->cancelled = true;	/* on_data frees it when on_token returns */
	else
		req_free(r);
}

const struct llm_ops llm_openai = { "openai", start, cancel };
