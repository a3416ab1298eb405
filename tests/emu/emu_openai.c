/*
 * emu_openai.c - a TEST DOUBLE of the OpenAI-compatible chat completions
 * API (OpenAI at POST /v1/chat/completions, Groq at POST
 * /openai/v1/chat/completions), speaking protocols.md section 2 over
 * plain HTTP on 127.0.0.1 (libevent evhttp, on the main thread).
 *
 * A request is checked as the real API checks it (emu_oai_check.c); the
 * reply is the script's entry chosen by the number of user/tool messages
 * (emu_oai_plan.c). stream:true answers text/event-stream, paced by
 * --ttft-ms and --tokens-per-s. The Groq path (or ?emu_style=groq, or the
 * header X-Emu-Style: groq) sends each tool call whole in one delta and
 * x_groq on the first and last chunks; otherwise tool calls are
 * fragmented as OpenAI does. Scripted errors get the real status, body,
 * retry-after and x-ratelimit-* headers; "cut" closes the connection
 * mid-stream, "stream_error_after_tokens" sends Groq's in-stream
 * `event: error`. GET /emu/requests returns the last 200 request bodies
 * (DELETE clears them): an emulator-only endpoint.
 *
 * Owns: the HTTP server, its streams in progress (timers), the record.
 * Never: blocks the loop; runs on another thread than the main one.
 * Fails: a port that cannot be bound fails emu_oai_start; a bad request
 * gets the real 4xx; a client that goes away ends its stream quietly.
 */
#include "emu_oai.h"

#include "../../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct oai_stream {
	struct oai_stream *prev, *next;
	struct emu_oai *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;
	struct oai_plan plan;		/* stream:true */
	char *body;			/* stream:false: the whole reply */
	size_t next_ev;
	unsigned sent;
	struct emu_fault fault;
	bool started;			/* SSE headers sent, closecb set */
	bool aborting;			/* closing once the output drained */
	bool malformed_sent;
};

struct emu_oai {
	struct emu *e;
	struct event_base *base;
	struct evhttp *http;
	struct emu_rng rng;
	unsigned requests;
	struct emu_rec rec;
	struct oai_stream *streams;
};

/* ---- responses ---- */

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Request Entity Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 498: return "Flex Tier Capacity Exceeded";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

static void rate_headers(struct evhttp_request *req, bool exhausted)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "x-ratelimit-limit-requests", "14400");
	evhttp_add_header(h, "x-ratelimit-limit-tokens", "6000");
	evhttp_add_header(h, "x-ratelimit-remaining-requests", exhausted ? "0" : "14399");
	evhttp_add_header(h, "x-ratelimit-remaining-tokens", exhausted ? "0" : "5600");
	evhttp_add_header(h, "x-ratelimit-reset-requests", "6s");
	evhttp_add_header(h, "x-ratelimit-reset-tokens", exhausted ? "1.57s" : "4s");
}

static void send_body(struct evhttp_request *req, int status, const char *ctype, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	if (b && body)
		evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, status, reason_of(status), b);
	evbuffer_free(b);
}

static void send_error(struct evhttp_request *req, const struct oai_err *er, int retry_after)
{
	char *body = oai_err_body(er), ra[16];

	rate_headers(req, er->status == 429);
	if (er->status == 429) {
		snprintf(ra, sizeof(ra), "%d", retry_after);
		evhttp_add_header(evhttp_request_get_output_headers(req), "retry-after", ra);
	}
	send_body(req, er->status, "application/json", body ? body : "{}");
	free(body);
}

/* ---- streams ---- */

static void stream_free(struct oai_stream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->srv->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->timer)
		event_free(s->timer);
	oai_plan_free(&s->plan);
	free(s->body);
	free(s);
}

static void arm(struct oai_stream *s, int64_t us)
{
	struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };

	evtimer_add(s->timer, &tv);
}

/* The client went away mid-stream: libevent detached the request. */
static void on_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct oai_stream *s = arg;

	(void)evcon;
	if (s->req && !evhttp_request_get_connection(s->req))
		evhttp_request_free(s->req);
	stream_free(s);
}

/* Ends the stream, cleanly or (cut) by closing the connection. */
static void finish(struct oai_stream *s, bool cut)
{
	if (s->started)
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
	if (!cut) {
		evhttp_send_reply_end(s->req);
		stream_free(s);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(s->evcon)))) {
		if (s->started)	/* keep noticing a client close meanwhile */
			evhttp_connection_set_closecb(s->evcon, on_conn_closed, s);
		s->aborting = true;
		arm(s, 2000);
		return;
	}
	evhttp_connection_free(s->evcon);	/* frees the request too */
	stream_free(s);
}

static void send_text(struct oai_stream *s, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		return;
	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
}

/* Applies the fault to the next event. true: send it. */
static bool fault_gate(struct oai_stream *s)
{
	const struct emu_fault *f = &s->fault;

	if (f->kind == FAULT_CLOSE && s->sent >= (unsigned)f->n) {
		finish(s, true);
		return false;
	}
	if (f->kind == FAULT_STALL && s->sent >= (unsigned)f->n)
		return false;	/* nothing more; the client's close frees it */
	if (f->kind == FAULT_MALFORMED && s->sent >= (unsigned)f->n && !s->malformed_sent) {
		s->malformed_sent = true;
		send_text(s, "data: {\"id\":\"chatcmpl-vagent-emu\",\"object\":\"chat.completion.chu\n\n");
	}
	return true;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct oai_stream *s = arg;

	(void)fd;
	(void)what;
	if (s->aborting) {
		finish(s, true);
		return;
	}
	if (!fault_gate(s))
		return;
	send_text(s, s->plan.ev[s->next_ev].text);
	s->sent++;
	if (++s->next_ev < s->plan.n) {
		arm(s, s->plan.ev[s->next_ev].gap_us);
		return;
	}
	if (s->fault.kind == FAULT_STALL)	/* n past the end: [DONE], then silence */
		return;
	finish(s, s->plan.end == END_CUT || s->fault.kind == FAULT_CLOSE);
}

/* stream:false: the whole completion, after the reply's time. */
static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct oai_stream *s = arg;

	(void)fd;
	(void)what;
	if (s->fault.kind == FAULT_STALL)
		return;
	if (s->fault.kind == FAULT_CLOSE) {
		finish(s, true);
		return;
	}
	rate_headers(s->req, false);
	send_body(s->req, 200, "application/json",
		  s->fault.kind == FAULT_MALFORMED ? "{\"id\":\"chatcmpl-vagent-emu\",\"object\":" : s->body);
	stream_free(s);
}

static struct oai_stream *stream_new(struct emu_oai *o, struct evhttp_request *req,
				     struct emu_fault f, event_callback_fn cb)
{
	struct oai_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->srv = o;
	s->req = req;
	s->evcon = evhttp_request_get_connection(req);
	s->fault = f;
	s->timer = evtimer_new(o->base, cb, s);
	if (!s->timer) {
		free(s);
		return NULL;
	}
	s->next = o->streams;
	if (o->streams)
		o->streams->prev = s;
	o->streams = s;
	return s;
}

static int start_stream(struct emu_oai *o, struct evhttp_request *req, struct emu_fault f,
			const struct emu_llm_reply *r, const struct oai_style *st)
{
	struct oai_stream *s = stream_new(o, req, f, tick);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (!s)
		return -ENOMEM;
	if (oai_plan_stream(r, st, &s->plan)) {
		stream_free(s);
		return -ENOMEM;
	}
	rate_headers(req, false);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(s->evcon, on_conn_closed, s);
	s->started = true;
	if (f.kind == FAULT_CLOSE && f.n == 0)
		s->aborting = true;
	arm(s, s->plan.ev[0].gap_us);
	return 0;
}

static int start_reply(struct emu_oai *o, struct evhttp_request *req, struct emu_fault f,
		       const struct emu_llm_reply *r, const struct oai_style *st)
{
	struct oai_stream *s = stream_new(o, req, f, deliver);
	int64_t delay;

	if (!s)
		return -ENOMEM;
	s->body = oai_completion(r, st, &delay);
	if (!s->body) {
		stream_free(s);
		return -ENOMEM;
	}
	arm(s, delay);
	return 0;
}

/* ---- requests ---- */

static bool auth_ok(struct emu_oai *o, struct evhttp_request *req, bool groq, struct oai_err *er)
{
	const char *key = o->e->opt.key[EMU_OAI];
	const char *a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (!key)
		return true;
	if (!a || strncasecmp(a, "Bearer ", 7)) {
		oai_err_set(er, 401, "invalid_request_error", groq ? "invalid_api_key" : NULL, NULL,
			    groq ? "Invalid API Key" : "You didn't provide an API key. You need to "
			    "provide your API key in an Authorization header using Bearer auth (i.e. "
			    "Authorization: Bearer YOUR_KEY), or as the password field (with blank "
			    "username) if you're accessing the API from your browser and are prompted "
			    "for a username and password. You can obtain an API key from "
			    "https://platform.openai.com/account/api-keys.");
		return false;
	}
	if (strcmp(a + 7, key)) {
		oai_err_set(er, 401, "invalid_request_error", "invalid_api_key", NULL, groq ?
			    "Invalid API Key" : "Incorrect API key provided. You can find your API "
			    "key at https://platform.openai.com/account/api-keys.");
		return false;
	}
	return true;
}

static bool groq_style(struct evhttp_request *req, const char *path)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Emu-Style");
	bool groq = !strncmp(path, "/openai/", 8);

	if (q && strstr(q, "emu_style=groq"))
		groq = true;
	if (q && strstr(q, "emu_style=openai"))
		groq = false;
	if (h)
		groq = !strcasecmp(h, "groq");
	return groq;
}

static const struct emu_llm_reply default_reply = {
	.content = "OK.", .cut_after_tokens = -1, .stream_error_after = -1, .ttft_ms = -1,
};

static void reply(struct emu_oai *o, struct evhttp_request *req, json_t *body, size_t body_len,
		  bool groq, struct emu_fault f)
{
	const struct emu_llm_reply *r = emu_script_llm(&o->e->script, oai_count_turns(body));
	json_t *so = json_object_get(body, "stream_options");
	struct oai_style st = { 0 };
	struct oai_err er;
	char id[48], req_id[40];
	int rc;

	if (!r)
		r = &default_reply;
	if (r->error) {
		oai_err_for_status(&er, r->error, json_string_value(json_object_get(body, "model")), r);
		send_error(req, &er, r->retry_after);
		return;
	}
	emu_rand_id(&o->rng, "chatcmpl-", 29, id, sizeof(id));
	emu_rand_id(&o->rng, "req_", 26, req_id, sizeof(req_id));
	st.id = id;
	st.req_id = req_id;
	st.model = json_string_value(json_object_get(body, "model"));
	st.created = (long long)time(NULL);
	st.groq = groq;
	st.include_usage = json_is_true(json_object_get(so, "include_usage"));
	st.prompt_tokens = (int)(body_len / 4) + 1;
	st.ttft_ms = r->ttft_ms >= 0 ? r->ttft_ms : o->e->opt.ttft_ms;
	st.tokens_per_s = o->e->opt.tokens_per_s;
	st.rng = &o->rng;
	if (json_is_true(json_object_get(body, "stream")))
		rc = start_stream(o, req, f, r, &st);
	else
		rc = start_reply(o, req, f, r, &st);
	if (rc) {
		oai_err_for_status(&er, 500, st.model, NULL);
		send_error(req, &er, 0);
	}
}

static void chat(struct emu_oai *o, struct evhttp_request *req, const char *path)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *raw = (const char *)evbuffer_pullup(in, -1);
	json_t *body = json_loadb(raw ? raw : "", len, 0, NULL);
	struct emu_fault f = emu_fault_for(&o->e->fault[EMU_OAI], o->requests++);
	bool groq = groq_style(req, path);
	struct oai_err er;

	emu_rec_add(&o->rec, body ? json_incref(body) : json_stringn_nocheck(raw ? raw : "", len));
	if (f.kind == FAULT_REFUSE) {
		oai_err_for_status(&er, f.n, json_string_value(json_object_get(body, "model")), NULL);
		send_error(req, &er, 1);
	} else if (!auth_ok(o, req, groq, &er) || oai_check(body, &er)) {
		log_info("llm", NULL, "openai emulator: %d %s", er.status, er.message);
		send_error(req, &er, 1);
	} else {
		reply(o, req, body, len, groq, f);
	}
	json_decref(body);
}

static void inspect(struct emu_oai *o, struct evhttp_request *req)
{
	char *s;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE)
		emu_rec_clear(&o->rec);
	s = emu_rec_dump(&o->rec);
	send_body(req, 200, "application/json", s ? s : "[]");
	free(s);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct emu_oai *o = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct oai_err er;
	char id[40];

	emu_rand_id(&o->rng, "req_", 26, id, sizeof(id));
	evhttp_add_header(evhttp_request_get_output_headers(req), "x-request-id", id);
	if (!path)
		path = "/";
	if (!strcmp(path, "/emu/requests")) {
		inspect(o, req);
		return;
	}
	if (strcmp(path, "/v1/chat/completions") && strcmp(path, "/openai/v1/chat/completions")) {
		oai_err_set(&er, 404, "invalid_request_error", "unknown_url", NULL,
			    "Invalid URL (%s %s)", cmd == EVHTTP_REQ_GET ? "GET" : "POST", path);
		send_error(req, &er, 0);
		return;
	}
	if (cmd != EVHTTP_REQ_POST) {
		oai_err_set(&er, 405, "invalid_request_error", NULL, NULL,
			    "Invalid method for URL (%s): use POST", path);
		send_error(req, &er, 0);
		return;
	}
	chat(o, req, path);
}

int emu_oai_start(struct emu *e, struct event_base *base, struct emu_oai **out,
		  char *err, size_t errlen)
{
	struct emu_oai *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->e = e;
	o->base = base;
	emu_rng_seed(&o->rng, 2);
	o->http = evhttp_new(base);
	if (!o->http) {
		free(o);
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(o->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(o->http, on_request, o);
	if (!evhttp_bind_socket_with_handle(o->http, "127.0.0.1", (ev_uint16_t)e->opt.port[EMU_OAI])) {
		snprintf(err, errlen, "openai emulator: cannot listen on 127.0.0.1:%d",
			 e->opt.port[EMU_OAI]);
		evhttp_free(o->http);
		free(o);
		return -EADDRINUSE;
	}
	*out = o;
	return 0;
}

void emu_oai_stop(struct emu_oai *o)
{
	if (!o)
		return;
	while (o->streams) {
		struct oai_stream *s = o->streams;

		if (s->started && s->evcon && s->req && evhttp_request_get_connection(s->req))
			evhttp_connection_set_closecb(s->evcon, NULL, NULL);
		stream_free(s);
	}
	evhttp_free(o->http);	/* frees the connections and their requests */
	emu_rec_clear(&o->rec);
	free(o);
}
