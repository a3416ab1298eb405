/*
 * api_http.c - the api's routing and the plumbing every handler shares:
 * JSON replies, JSON errors, the API key, request bodies, statistics.
 *
 * Every answer is JSON (metrics and the board's files excepted), every
 * rejection a 4xx with {"error": "..."} and one log line naming the client
 * and the reason; once the api is stopping, every answer says Connection:
 * close. The key is compared in constant time, and never logged.
 *
 * Nothing answers without the key (X-API-Key) or, for what the board uses,
 * a board session (api_session.c) — but the login form itself, and what
 * Twilio requests, which cannot carry our key: its webhooks are
 * authenticated by Twilio's signature instead (api_twilio.c), and the
 * announcements it fetches by their unguessable names (api_announce.c). A session
 * is a cookie the browser sends with any request to us, so a POST it
 * authorises must also come from our own page: SameSite=Strict keeps the
 * cookie off other sites' requests, and the Origin and a JSON content type
 * (which no cross-site form can send) are checked as well. Every answer
 * carries a Content-Security-Policy that allows only our own script and
 * style files (no inline script, so markup smuggled into a booking cannot
 * run) and may not be framed.
 */
#include "api.h"
#include "api_req.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/conf.h"
#include "../../common/log.h"
#include "../../common/vg_time.h"

const char *api_peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	const char *host = "?";
	ev_uint16_t port = 0;

	if (con)
		evhttp_connection_get_peer(con, (char **)&host, &port);
	snprintf(buf, len, "%s:%u", host, port);
	return buf;
}

/*
 * Once this api is stopping (a reload's new one takes the new
 * connections), every answer closes its connection: a keep-alive client
 * then sends its next request to the new api, and this one is left with
 * nothing in flight when it goes.
 */
static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
	"connect-src 'self'; img-src 'self'; media-src 'self'; form-action 'self'; "
	"frame-ancestors 'none'; base-uri 'none'";

void api_security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	/* no-referrer would make the browser send "Origin: null" on our own forms */
	evhttp_add_header(h, "Referrer-Policy", "same-origin");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

void api_send(struct api *a, struct evhttp_request *req, int code, struct evbuffer *out)
{
	api_security_headers(req);
	if (a->stopping)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evhttp_send_reply(req, code, NULL, out);
}

void api_count(struct api *a, enum api_endpoint ep, int code, int64_t t0)
{
	atomic_fetch_add_explicit(&a->stats->requests[ep][api_class_of(code)], 1,
				  memory_order_relaxed);
	hist_add(&a->stats->latency[ep], (uint64_t)(mono_ns() - t0) / 1000);
}

void api_send_bytes(struct api *a, struct evhttp_request *req, int code, const char *type,
		    const void *data, size_t len, enum api_endpoint ep, int64_t t0)
{
	struct evbuffer *out = evbuffer_new();

	if (out && data)
		evbuffer_add(out, data, len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	api_send(a, req, code, out);
	if (out)
		evbuffer_free(out);
	api_count(a, ep, code, t0);
}

void api_reply(struct api *a, struct evhttp_request *req, int code, json_t *body,
	       enum api_endpoint ep, int64_t t0)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(body);
	api_send_bytes(a, req, code, "application/json", text, text ? strlen(text) : 0, ep, t0);
	free(text);
}

void api_error(struct api *a, struct evhttp_request *req, int code, enum api_endpoint ep,
	       int64_t t0, const char *fmt, ...)
{
	char msg[512], peer[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(code >= 500 ? LOG_LVL_ERROR : LOG_LVL_WARN, "api", NULL, "%s %s from %s: %d %s",
		evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" : "POST",
		api_endpoint_name(ep), api_peer(req, peer, sizeof(peer)), code, msg);
	api_reply(a, req, code, json_pack("{s:s}", "error", msg), ep, t0);
}

/* Constant time in the length of what the client sent. */
bool api_key_ok(const struct api *a, const char *given)
{
	const char *want = a->conf->secrets->api_key;
	size_t gl = given ? strlen(given) : 0, wl = strlen(want);
	unsigned diff = (unsigned)(gl ^ wl);

	for (size_t i = 0; i < gl; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)want[wl ? i % wl : 0];
	return wl && !diff;
}

bool api_same_origin(struct evhttp_request *req, bool required)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(in, "Origin");
	const char *host = evhttp_find_header(in, "Host");
	const char *rest;

	if (!origin)
		return !required;
	if (!host || !*host)
		return false;
	if (!strncmp(origin, "http://", 7))
		rest = origin + 7;
	else if (!strncmp(origin, "https://", 8))
		rest = origin + 8;
	else
		return false;	/* "null" (a sandboxed frame, a file) among others */
	return !strcasecmp(rest, host);
}

json_t *api_body(struct api *a, struct evhttp_request *req, enum api_endpoint ep, int64_t t0)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);

	if (len > (size_t)a->conf->api_max_body) {
		api_error(a, req, 413, ep, t0, "request body over %d bytes", a->conf->api_max_body);
		return NULL;
	}
	json_t *j = api_json_object(evbuffer_pullup(in, -1), len);
	if (!j) {
		api_error(a, req, 400, ep, t0, "Invalid JSON body");
		return NULL;
	}
	return j;
}

static void healthz(struct api *a, struct evhttp_request *req, int64_t t0)
{
	const struct shm_header *h = a->hdr;
	const struct bw_stats *w = a->writer;
	bool writer = atomic_load(&w->pid) != 0, db = atomic_load(&w->db_up);
	json_t *j = json_pack("{s:s, s:b, s:b, s:I, s:b, s:I, s:I}",
			      "status", !writer ? "down" : db ? "ok" : "degraded",
			      "writer_running", writer, "db_up", db,
			      "journal_backlog", (json_int_t)atomic_load(&w->backlog),
			      "draining", atomic_load(&h->draining) != 0,
			      "calls_active", (json_int_t)atomic_load(&h->active),
			      "generation", (json_int_t)atomic_load(&h->generation));

	/* Bookings are safe as long as the writer journals them: that is "up". */
	api_reply(a, req, writer ? 200 : 503, j, API_EP_HEALTH, t0);
}

static void metrics(struct api *a, struct evhttp_request *req, int64_t t0)
{
	char path[PATH_MAX + 16];
	struct evbuffer *out = evbuffer_new();

	snprintf(path, sizeof(path), "%s/metrics.prom", a->conf->run_dir);
	FILE *fp = fopen(path, "r");
	if (!fp || !out) {
		if (fp)
			fclose(fp);
		if (out)
			evbuffer_free(out);
		api_error(a, req, 503, API_EP_METRICS, t0, "metrics not written yet");
		return;
	}
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		evbuffer_add(out, buf, n);
	fclose(fp);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	api_send(a, req, 200, out);
	evbuffer_free(out);
	api_count(a, API_EP_METRICS, 200, t0);
}

/* Paths of the seed's webhooks, with and without ".php". */
static bool is_path(const char *path, const char *want)
{
	size_t n = strlen(want);

	return !strncmp(path, want, n) && (!path[n] || !strcmp(path + n, ".php"));
}

static bool method_is(struct api *a, struct evhttp_request *req, enum evhttp_cmd_type want,
		      enum api_endpoint ep, int64_t t0)
{
	if (evhttp_request_get_command(req) == want)
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
			  want == EVHTTP_REQ_GET ? "GET" : "POST");
	api_error(a, req, 405, ep, t0, "method not allowed");
	return false;
}

enum who { KEY_ONLY, KEY_OR_SESSION };

static bool authorised(struct api *a, struct evhttp_request *req, enum api_endpoint ep,
		       int64_t t0, enum who who)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);

	if (api_key_ok(a, evhttp_find_header(in, "X-API-Key")))
		return true;
	if (who != KEY_OR_SESSION || !api_session_ok(a, req)) {
		api_error(a, req, 401, ep, t0, "Unauthorized");
		return false;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET)
		return true;
	const char *ct = evhttp_find_header(in, "Content-Type");
	if (api_same_origin(req, true) && ct && !strncasecmp(ct, "application/json", 16))
		return true;
	api_error(a, req, 403, ep, t0, "a board session's POST must come from the board");
	return false;
}

/*
 * "/api/bookings/123" + suffix ("" or "/dispatch") -> "123"; NULL if the
 * path is not that.
 */
static const char *booking_id(const char *path, const char *suffix, char *id, size_t len)
{
	const char *pre = "/api/bookings/", *p = path + strlen(pre);
	size_t n = 0;

	if (strncmp(path, pre, strlen(pre)))
		return NULL;
	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (!n || n >= len || strcmp(p + n, suffix))
		return NULL;
	memcpy(id, p, n);
	id[n] = '\0';
	return id;
}

void api_route(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	int64_t t0 = mono_ns();
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char id[24];

	if (!path)
		path = "";
	if (is_path(path, "/api/voice-agent/did_context")) {
		if (method_is(a, req, EVHTTP_REQ_POST, API_EP_DID_CONTEXT, t0) &&
		    authorised(a, req, API_EP_DID_CONTEXT, t0, KEY_ONLY))
			api_did_context(a, req, t0);
	} else if (is_path(path, "/api/voice-agent/create_booking")) {
		if (method_is(a, req, EVHTTP_REQ_POST, API_EP_CREATE_BOOKING, t0) &&
		    authorised(a, req, API_EP_CREATE_BOOKING, t0, KEY_ONLY))
			api_create_booking(a, req, t0);
	} else if (!strcmp(path, "/api/bookings")) {
		if (method_is(a, req, EVHTTP_REQ_GET, API_EP_BOOKINGS, t0) &&
		    authorised(a, req, API_EP_BOOKINGS, t0, KEY_OR_SESSION))
			api_bookings(a, req, t0);
	} else if (!strcmp(path, "/api/bookings/events")) {
		if (method_is(a, req, EVHTTP_REQ_GET, API_EP_EVENTS, t0) &&
		    authorised(a, req, API_EP_EVENTS, t0, KEY_OR_SESSION))
			api_events(a, req, t0);
	} else if (booking_id(path, "", id, sizeof(id))) {
		if (method_is(a, req, EVHTTP_REQ_GET, API_EP_BOOKING, t0) &&
		    authorised(a, req, API_EP_BOOKING, t0, KEY_OR_SESSION))
			api_booking_one(a, req, id, t0);
	} else if (booking_id(path, "/dispatch", id, sizeof(id))) {
		if (method_is(a, req, EVHTTP_REQ_POST, API_EP_DISPATCH, t0) &&
		    authorised(a, req, API_EP_DISPATCH, t0, KEY_OR_SESSION))
			api_dispatch(a, req, id, t0);
	} else if (booking_id(path, "/recording", id, sizeof(id))) {
		if (method_is(a, req, EVHTTP_REQ_GET, API_EP_BOOKING, t0) &&
		    authorised(a, req, API_EP_BOOKING, t0, KEY_OR_SESSION))
			api_recording(a, req, id, t0);
	} else if (!strcmp(path, "/healthz")) {
		if (method_is(a, req, EVHTTP_REQ_GET, API_EP_HEALTH, t0) &&
		    authorised(a, req, API_EP_HEALTH, t0, KEY_OR_SESSION))
			healthz(a, req, t0);
	} else if (!strcmp(path, "/metrics")) {
		if (method_is(a, req, EVHTTP_REQ_GET, API_EP_METRICS, t0) &&
		    authorised(a, req, API_EP_METRICS, t0, KEY_OR_SESSION))
			metrics(a, req, t0);
	} else if (!strcmp(path, "/board/login") &&
		   evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		api_login(a, req, t0);
	} else if (!strcmp(path, "/board/logout")) {
		if (method_is(a, req, EVHTTP_REQ_POST, API_EP_BOARD, t0))
			api_logout(a, req, t0);
	} else if (!strcmp(path, "/twilio/voice") || !strcmp(path, "/twilio/status") ||
		   !strcmp(path, "/twilio/handoff")) {
		/* no key: Twilio signs instead (api_twilio.c checks it first) */
		if (method_is(a, req, EVHTTP_REQ_POST, API_EP_TWILIO, t0))
			(path[8] == 'v' ? api_twilio_voice : path[8] == 's' ? api_twilio_status :
			 api_twilio_handoff)(a, req, t0);
	} else if (!strncmp(path, "/announce/", 10)) {
		/* no key: the random name is the capability (api_announce.c) */
		if (method_is(a, req, EVHTTP_REQ_GET, API_EP_ANNOUNCE, t0))
			api_announce(a, req, path + 10, t0);
	} else if (api_static(a, req, path, t0)) {
		;	/* a file of the board, or a way to its login */
	} else {
		api_error(a, req, 404, API_EP_OTHER, t0, "not found");
	}
}
