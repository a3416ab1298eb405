/*
 * ws.c - the worker's libwebsockets thread and its crossings. See ws.h.
 *
 * State shared between the threads is under l->mu: the list of
 * connections, each one's outgoing messages and pending requests, and the
 * queue of events for the main loop. lws objects (wsi) are touched by the
 * lws thread only; provider arguments by the main thread only (except in
 * the two thread hooks, which the provider makes thread-safe).
 */
#include "ws.h"

#include <errno.h>
#include <event2/event.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/log.h"

#define MAX_HEADERS 8
#define FILL_MAX 8192		/* one binary message: 0.5 s of 8 kHz audio */
#define RX_MAX (4u << 20)	/* a message larger than this is a broken peer */

enum ev_type { EV_OPEN, EV_MESSAGE, EV_CLOSE, EV_GONE };

struct ws_ev {
	struct ws_ev *next;
	struct ws_conn *c;
	enum ev_type type;
	int code, http_status;
	bool binary;
	size_t len;
	char data[];
};

struct out_msg {
	struct out_msg *next;
	size_t len;
	unsigned char buf[];	/* LWS_PRE bytes of room, then the text */
};

struct ws_conn {
	struct ws_conn *next;		/* l->conns, under mu */
	struct ws_loop *loop;
	const struct ws_handlers *h;
	void *arg;
	/* Set by ws_open, read-only after: where to connect (one allocation). */
	char *target;			/* the URL, split in place by lws_parse_uri */
	const char *prot, *addr, *path;
	int port;
	char *headers[MAX_HEADERS];	/* "Name: value", each allocated */
	int nheaders;

	/* Under mu. */
	struct out_msg *outq, *outq_tail;
	bool want_connect, want_close;

	/* lws thread only. */
	struct lws *wsi;
	bool gone_posted;
	struct buf rx;			/* the message being reassembled, up to RX_MAX */
	int close_code;
	char close_reason[124];

	/* Main thread only. */
	bool owner_closed, gone, opened;
};

struct ws_loop {
	struct event_base *base;
	struct lws_context *ctx;
	pthread_t thread;
	pthread_mutex_t mu;
	struct ws_conn *conns;
	struct ws_ev *evq, *evq_tail;
	_Atomic bool stop;
	int efd;
	struct event *ev;
};

/* ---- events for the main loop ---- */

static void post(struct ws_conn *c, enum ev_type type, int code, int http_status,
		 const void *data, size_t len, bool binary)
{
	struct ws_loop *l = c->loop;
	struct ws_ev *e = malloc(sizeof(*e) + len + 1);
	uint64_t one = 1;

	if (!e)
		panic("ws: out of memory for an event");
	*e = (struct ws_ev){ .c = c, .type = type, .code = code, .http_status = http_status,
			     .binary = binary, .len = len };
	if (len)
		memcpy(e->data, data, len);
	e->data[len] = '\0';
	pthread_mutex_lock(&l->mu);
	if (l->evq_tail)
		l->evq_tail->next = e;
	else
		l->evq = e;
	l->evq_tail = e;
	pthread_mutex_unlock(&l->mu);
	if (write(l->efd, &one, sizeof(one)) < 0) {
		/* The counter only saturates; the main loop is already awake. */
	}
}

/* lws thread: the socket is over; after this the lws thread never looks at c. */
static void post_gone(struct ws_conn *c)
{
	c->wsi = NULL;
	if (c->gone_posted)
		return;
	c->gone_posted = true;
	post(c, EV_GONE, 0, 0, NULL, 0, false);
}

/* What ws_open allocated; headers may hold a key, so they are wiped. */
static void conn_release(struct ws_conn *c)
{
	while (c->outq) {
		struct out_msg *m = c->outq;
		c->outq = m->next;
		free(m);
	}
	for (int i = 0; i < c->nheaders; i++) {
		explicit_bzero(c->headers[i], strlen(c->headers[i]));
		free(c->headers[i]);
	}
	free(c->target);
	buf_free(&c->rx);
	free(c);
}

static void conn_free(struct ws_conn *c)
{
	struct ws_loop *l = c->loop;

	pthread_mutex_lock(&l->mu);
	for (struct ws_conn **pp = &l->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&l->mu);
	conn_release(c);
}

static void dispatch(struct ws_ev *e)
{
	struct ws_conn *c = e->c;
	const struct ws_handlers *h = c->h;

	if (e->type == EV_GONE) {
		c->gone = true;
		if (h->on_gone)
			h->on_gone(c->arg);
		if (c->owner_closed)
			conn_free(c);
		return;
	}
	if (c->owner_closed)
		return;		/* the owner has stopped listening */
	if (e->type == EV_OPEN) {
		c->opened = true;
		if (h->on_open)
			h->on_open(c->arg);
	} else if (e->type == EV_MESSAGE && h->on_message) {
		h->on_message(c->arg, e->data, e->len, e->binary);
	} else if (e->type == EV_CLOSE && h->on_close) {
		h->on_close(c->arg, e->code, e->http_status, e->data);
	}
}

static void on_events(evutil_socket_t fd, short what, void *arg)
{
	struct ws_loop *l = arg;
	uint64_t n;
	(void)what;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another wake-up already drained it. */
	}
	pthread_mutex_lock(&l->mu);
	struct ws_ev *e = l->evq;
	l->evq = l->evq_tail = NULL;
	pthread_mutex_unlock(&l->mu);
	while (e) {
		struct ws_ev *next = e->next;
		dispatch(e);
		free(e);
		e = next;
	}
}

/* ---- the lws thread ---- */

static void connect_conn(struct ws_conn *c)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = c->loop->ctx;
	ci.address = c->addr;
	ci.port = c->port;
	ci.path = c->path;
	ci.host = c->addr;
	ci.origin = c->addr;
	ci.ssl_connection = !strcmp(c->prot, "wss") || !strcmp(c->prot, "https") ?
			    LCCSCF_USE_SSL : 0;
	ci.local_protocol_name = "vagent";
	ci.opaque_user_data = c;
	ci.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&ci)) {
		/* lws has already reported the failure through the callback. */
		c->wsi = NULL;
	}
}

/* Runs each request the main thread queued, on the lws thread. */
static void run_requests(struct ws_loop *l)
{
	struct ws_conn *todo[64], *gone[64], *woken[64];
	int n = 0, ng = 0, nw = 0;

	pthread_mutex_lock(&l->mu);
	for (struct ws_conn *c = l->conns; c && n < 64 && ng < 64; c = c->next) {
		if (c->want_connect) {
			c->want_connect = false;
			todo[n++] = c;
		} else if (c->want_close && !c->wsi && !c->gone_posted) {
			gone[ng++] = c;		/* closed before it ever connected */
		} else if (c->wsi && (c->outq || c->want_close || (c->h->fill && !c->want_close))) {
			lws_callback_on_writable(c->wsi);
		}
		if (c->wsi && !c->want_close && c->h->on_wake_thread && nw < 64)
			woken[nw++] = c;
	}
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < n; i++)
		connect_conn(todo[i]);
	for (int i = 0; i < ng; i++)
		post_gone(gone[i]);
	for (int i = 0; i < nw; i++)	/* alive: only this thread can end them */
		woken[i]->h->on_wake_thread(woken[i]->arg);
}

static int append_headers(struct ws_conn *c, void *in, size_t len)
{
	unsigned char **p = in, *end = *p + len;

	for (int i = 0; i < c->nheaders; i++) {
		char name[128];
		const char *colon = strchr(c->headers[i], ':');
		if (!colon || (size_t)(colon - c->headers[i]) + 2 > sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s:", (int)(colon - c->headers[i]), c->headers[i]);
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)name,
						(const unsigned char *)v, (int)strlen(v), p, end))
			return -1;
	}
	return 0;
}

static int on_receive(struct ws_conn *c, const void *in, size_t len)
{
	struct lws *wsi = c->wsi;
	int rc = buf_append(&c->rx, in, len);

	if (rc == -EMSGSIZE)
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
	if (rc < 0)
		return -1;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	bool binary = lws_frame_is_binary(wsi);
	const char *msg = buf_str(&c->rx);
	if (!c->h->on_message_thread || c->h->on_message_thread(c->arg, msg, c->rx.len, binary))
		post(c, EV_MESSAGE, 0, 0, msg, c->rx.len, binary);
	buf_reset(&c->rx);
	return 0;
}

static int on_writeable(struct ws_conn *c)
{
	struct ws_loop *l = c->loop;
	unsigned char fill[LWS_PRE + FILL_MAX];

	pthread_mutex_lock(&l->mu);
	struct out_msg *m = c->outq;
	bool closing = c->want_close;
	if (m && !(c->outq = m->next))
		c->outq_tail = NULL;
	bool more = c->outq != NULL;
	pthread_mutex_unlock(&l->mu);
	if (m) {
		int rc = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		free(m);
		if (rc < 0)
			return -1;
	} else if (closing) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	} else if (c->h->fill) {
		size_t n = c->h->fill(c->arg, fill + LWS_PRE, FILL_MAX);
		if (n && lws_write(c->wsi, fill + LWS_PRE, n, LWS_WRITE_BINARY) < 0)
			return -1;
		more = n > 0;
	}
	if (more || closing)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct ws_conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	(void)user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (wsi)
			run_requests(lws_context_user(lws_get_context(wsi)));
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return c ? append_headers(c, in, len) : 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		post(c, EV_OPEN, 0, 0, NULL, 0, false);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c && len >= 2) {
			const unsigned char *p = in;
			c->close_code = p[0] << 8 | p[1];
			snprintf(c->close_reason, sizeof(c->close_reason), "%.*s",
				 (int)(len - 2 < 120 ? len - 2 : 120), (const char *)p + 2);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		const char *why = in ? (const char *)in : "connection failed";
		int status = (int)lws_http_client_http_response(wsi);
		if (c) {
			post(c, EV_CLOSE, 0, status, why, strlen(why), false);
			post_gone(c);
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c) {
			const char *why = c->close_reason[0] ? c->close_reason : "closed";
			post(c, EV_CLOSE, c->close_code, 0, why, strlen(why), false);
			post_gone(c);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "vagent", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void *service(void *arg)
{
	struct ws_loop *l = arg;

	while (!atomic_load(&l->stop))
		lws_service(l->ctx, 0);
	return NULL;
}

/* ---- the main thread's side ---- */

int ws_loop_new(struct ws_loop **out, struct event_base *base, struct ssl_ctx_st *tls)
{
	struct lws_context_creation_info info;
	struct ws_loop *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return -ENOMEM;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.provided_client_ssl_ctx = tls;	/* NULL: lws builds its own */
	info.user = l;
	l->base = base;
	pthread_mutex_init(&l->mu, NULL);
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->ctx = lws_create_context(&info);
	l->ev = l->efd >= 0 ? event_new(base, l->efd, EV_READ | EV_PERSIST, on_events, l) : NULL;
	if (!l->ctx || !l->ev || event_add(l->ev, NULL) < 0 ||
	    pthread_create(&l->thread, NULL, service, l) != 0) {
		if (l->ev)
			event_free(l->ev);
		if (l->ctx)
			lws_context_destroy(l->ctx);
		if (l->efd >= 0)
			close(l->efd);
		free(l);
		return -ENOMEM;
	}
	*out = l;
	return 0;
}

void ws_loop_free(struct ws_loop *l)
{
	if (!l)
		return;
	atomic_store(&l->stop, true);
	lws_cancel_service(l->ctx);
	pthread_join(l->thread, NULL);
	lws_context_destroy(l->ctx);	/* closes what is left; no thread runs callbacks now */
	event_free(l->ev);
	close(l->efd);
	while (l->evq) {
		struct ws_ev *e = l->evq;
		l->evq = e->next;
		free(e);
	}
	while (l->conns) {
		struct ws_conn *c = l->conns;
		l->conns = c->next;
		conn_release(c);
	}
	pthread_mutex_destroy(&l->mu);
	free(l);
}

struct event_base *ws_loop_base(struct ws_loop *l)
{
	return l->base;
}

void ws_loop_wake(struct ws_loop *l)
{
	lws_cancel_service(l->ctx);
}

/*
 * Splits the URL into what lws wants, in one allocation the connection
 * keeps: lws_parse_uri cuts the string in place and drops the path's
 * leading '/', so the copy has room for it in front.
 */
static int set_target(struct ws_conn *c, const char *url)
{
	size_t n = strlen(url);
	const char *p;

	if (!(c->target = malloc(2 * n + 2)))
		return -ENOMEM;
	memcpy(c->target, url, n + 1);
	if (lws_parse_uri(c->target, &c->prot, &c->addr, &c->port, &p) || !*c->addr ||
	    (strcmp(c->prot, "ws") && strcmp(c->prot, "wss") && strcmp(c->prot, "http") &&
	     strcmp(c->prot, "https")))
		return -EINVAL;
	if (strlen(p) + 1 > WS_PATH_MAX)
		return -ENAMETOOLONG;
	char *path = c->target + n + 1;
	path[0] = '/';
	memcpy(path + 1, p, strlen(p) + 1);
	c->path = path;
	return 0;
}

int ws_open(struct ws_conn **out, struct ws_loop *l, const char *url,
	    const char *const *headers, const struct ws_handlers *h, void *arg)
{
	struct ws_conn *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->h = h;
	c->arg = arg;
	buf_init(&c->rx, RX_MAX);
	rc = set_target(c, url);
	for (int i = 0; rc == 0 && headers && headers[i]; i++) {
		if (c->nheaders == MAX_HEADERS)
			rc = -E2BIG;
		else if (!(c->headers[c->nheaders++] = strdup(headers[i])))
			rc = -ENOMEM;
	}
	if (rc < 0) {
		if (c->nheaders && !c->headers[c->nheaders - 1])
			c->nheaders--;
		conn_release(c);
		return rc;
	}
	pthread_mutex_lock(&l->mu);
	c->want_connect = true;
	c->next = l->conns;
	l->conns = c;
	pthread_mutex_unlock(&l->mu);
	lws_cancel_service(l->ctx);
	*out = c;
	return 0;
}

int ws_send_text(struct ws_conn *c, const char *text, size_t len)
{
	struct out_msg *m;

	if (c->owner_closed || c->gone)
		return -ENOTCONN;
	if (!(m = malloc(sizeof(*m) + LWS_PRE + len)))
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	pthread_mutex_lock(&c->loop->mu);
	if (c->outq_tail)
		c->outq_tail->next = m;
	else
		c->outq = m;
	c->outq_tail = m;
	pthread_mutex_unlock(&c->loop->mu);
	lws_cancel_service(c->loop->ctx);
	return 0;
}

void ws_close(struct ws_conn *c)
{
	if (!c)
		return;
	c->owner_closed = true;
	if (c->gone) {
		conn_free(c);
		return;
	}
	pthread_mutex_lock(&c->loop->mu);
	c->want_close = true;
	c->want_connect = false;
	pthread_mutex_unlock(&c->loop->mu);
	lws_cancel_service(c->loop->ctx);
}
