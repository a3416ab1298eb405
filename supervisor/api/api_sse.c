/*
 * api_sse.c - live updates for the dispatch boards: GET
 * /api/bookings/events, a server-sent event stream ("booking": a new
 * booking's row; "dispatched": a booking dispatched through this api).
 *
 * Owns: the open streams, and noticing new bookings. Bookings reach
 * MariaDB through the booking-writer, a process of its own; what the api
 * can see cheaply is the writer's committed counter in shared memory
 * (bw_stats.h). While at least one board listens, a timer reads it once a
 * TICK_MS; when it has moved, one query asks MariaDB for the rows with an
 * id above the last one sent, and each is sent to every stream. One query
 * per change, never one per board, and no timer at all while no board
 * listens. A keep-alive comment every PING_TICKS quiet ticks lets a proxy
 * keep the stream open and finds boards that have gone.
 *
 * A stream's first event, "hello" {"after": id}, says from which booking
 * on it will bring every new one (the first stream waits for one query to
 * learn the highest id). The board subscribes first, then loads its list,
 * and merges by id: a booking that lands in between comes twice and is
 * shown once.
 *
 * Never: block (a slow board's bytes wait in its own buffer; a board gone
 * for STREAM_TIMEOUT_S is dropped by libevent); touch a request after its
 * connection's close callback.
 */
#include "api.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"

#define SSE_MAX 64		/* streams at once */
#define TICK_MS 1000
#define PING_TICKS 15
#define BATCH 100		/* rows per query; more: another query next tick */
#define STREAM_TIMEOUT_S 120

struct sse_client {
	struct sse_client *next;
	struct api_sse *s;
	struct evhttp_request *req;
	struct evhttp_connection *con;
	bool greeted;
};

struct api_sse {
	struct api *a;
	struct sse_client *clients;
	int n;
	struct event *tick;	/* pending only while a board listens */
	uint64_t seen;		/* the writer's committed_total when last asked */
	long long cursor;	/* the highest booking id sent; -1: not known yet */
	bool busy;		/* a query is out */
	bool again;		/* ask next tick whatever the counter says */
	int quiet;		/* ticks since the last bytes sent */
};

static void to_all(struct api_sse *s, const char *text, size_t len)
{
	for (struct sse_client *c = s->clients; c; c = c->next) {
		struct evbuffer *b = evbuffer_new();
		if (!b)
			continue;
		evbuffer_add(b, text, len);
		evhttp_send_reply_chunk(c->req, b);
		evbuffer_free(b);
	}
	s->quiet = 0;
}

void api_sse_send(struct api *a, const char *event, json_t *data)
{
	struct api_sse *s = a->sse;
	char *text = (s && s->n) ? json_dumps(data, JSON_COMPACT) : NULL;

	json_decref(data);
	if (!text)
		return;
	/* Compact JSON has no newline, so one data: line holds it all. */
	size_t len = strlen(event) + strlen(text) + 32;
	char *msg = malloc(len);
	if (msg) {
		int n = snprintf(msg, len, "event: %s\ndata: %s\n\n", event, text);
		to_all(s, msg, (size_t)n);
	}
	free(msg);
	free(text);
}

static void greet(struct api_sse *s)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "event: hello\ndata: {\"after\":%lld}\n\n", s->cursor);

	for (struct sse_client *c = s->clients; c; c = c->next) {
		struct evbuffer *b = c->greeted ? NULL : evbuffer_new();
		if (!b)
			continue;
		evbuffer_add(b, msg, (size_t)n);
		evhttp_send_reply_chunk(c->req, b);
		evbuffer_free(b);
		c->greeted = true;
	}
}

static void on_max(struct api *a, json_t *rows)
{
	struct api_sse *s = a->sse;

	if (s) {
		s->busy = false;
		if (rows) {
			s->cursor = json_integer_value(json_object_get(json_array_get(rows, 0), "id"));
			greet(s);
		} else {
			s->again = true;
		}
	}
	json_decref(rows);
}

static void on_newer(struct api *a, json_t *rows)
{
	struct api_sse *s = a->sse;
	size_t i;
	json_t *row;

	if (!s) {		/* stopped meanwhile */
		json_decref(rows);
		return;
	}
	s->busy = false;
	if (!rows) {
		s->again = true;
		return;
	}
	json_array_foreach(rows, i, row) {
		long long id = json_integer_value(json_object_get(row, "id"));
		if (id > s->cursor)
			s->cursor = id;
		api_sse_send(a, "booking", json_incref(row));
	}
	s->again = json_array_size(rows) == BATCH;
	json_decref(rows);
}

/* Asks MariaDB when the writer has committed something since the last time. */
static void poll_writer(struct api_sse *s)
{
	uint64_t committed = atomic_load_explicit(&s->a->writer->committed_total,
						  memory_order_relaxed);

	if (s->busy || (s->cursor >= 0 && !s->again && committed == s->seen))
		return;
	bool prime = s->cursor < 0;
	int rc = api_bookings_newer(s->a, s->cursor, BATCH, prime ? on_max : on_newer);
	s->busy = rc == 0;
	if (rc == 0) {
		s->seen = committed;
		s->again = false;
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct api_sse *s = arg;
	(void)fd; (void)what;

	if (++s->quiet >= PING_TICKS)
		to_all(s, ": ping\n\n", 8);
	poll_writer(s);
}

static void on_close(struct evhttp_connection *con, void *arg)
{
	struct sse_client *c = arg, **p;
	struct api_sse *s = c->s;
	(void)con;

	for (p = &s->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			s->n--;
			break;
		}
	}
	free(c);
	if (!s->n)
		event_del(s->tick);
}

static struct api_sse *sse_get(struct api *a)
{
	struct api_sse *s = a->sse;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->a = a;
	s->cursor = -1;
	s->tick = event_new(a->base, -1, EV_PERSIST, on_tick, s);
	if (!s->tick) {
		free(s);
		return NULL;
	}
	a->sse = s;
	return s;
}

void api_events(struct api *a, struct evhttp_request *req, int64_t t0)
{
	struct api_sse *s = a->stopping ? NULL : sse_get(a);
	struct sse_client *c = s && s->n < SSE_MAX ? calloc(1, sizeof(*c)) : NULL;
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct timeval every = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };

	if (!c || !con) {
		free(c);
		api_error(a, req, 503, API_EP_EVENTS, t0, "no room for another board now");
		return;
	}
	c->s = s;
	c->req = req;
	c->con = con;
	c->next = s->clients;
	s->clients = c;
	if (s->n++ == 0)
		event_add(s->tick, &every);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "X-Accel-Buffering", "no");	/* a proxy: pass each event on */
	api_security_headers(req);
	evhttp_connection_set_timeout(con, STREAM_TIMEOUT_S);
	evhttp_connection_set_closecb(con, on_close, c);
	evhttp_send_reply_start(req, 200, "OK");
	api_count(a, API_EP_EVENTS, 200, t0);
	struct evbuffer *b = evbuffer_new();
	if (b) {
		evbuffer_add_printf(b, "retry: 2000\n: %d board(s)\n\n", s->n);
		evhttp_send_reply_chunk(req, b);
		evbuffer_free(b);
	}
	if (s->cursor >= 0)
		greet(s);
	else
		poll_writer(s);		/* the first board: learn the highest id now */
}

void api_sse_stop(struct api *a)
{
	struct api_sse *s = a->sse;

	if (!s)
		return;
	a->sse = NULL;
	while (s->clients) {
		struct sse_client *c = s->clients;
		s->clients = c->next;
		evhttp_connection_set_closecb(c->con, NULL, NULL);
		evhttp_send_reply_end(c->req);	/* the board reconnects, to the new api */
		free(c);
	}
	event_free(s->tick);
	free(s);
}
