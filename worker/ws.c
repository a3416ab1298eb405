/*
 * ws.c - the worker's websocket clients, on the worker's own loop. See ws.h.
 *
 * Debian's libwebsockets 4.1 has neither a libevent loop nor external poll
 * (the ADD/DEL_POLL_FD callbacks are compiled out), so it runs on a libuv
 * loop of ours that is embedded in the worker's libevent loop the way
 * libuv documents for embedding: libevent watches the loop's epoll fd
 * (uv_backend_fd) and a timer at uv_backend_timeout(), and either runs
 * uv_run(UV_RUN_NOWAIT). One thread, no locks, no wake-ups of our own.
 *
 * What libuv cannot see, service() makes up for (each learnt the hard way):
 *  - a watcher changed outside uv_run() (lws_callback_on_writable, a new
 *    connection) reaches the epoll set only in the next uv_run(), so any
 *    such change asks for a pass at once (kick(): a zero timer, no syscall);
 *  - lws 4.1 arms its timer only from its idle handle, which runs after
 *    socket events; a connection attempt that never hears back (no SYN-ACK)
 *    would leave its connect timeout unarmed, so each attempt also pokes
 *    lws's event pipe once to get the idle pass.
 *
 * Names are looked up before connecting (ws_dns.h): lws 4.1 would call a
 * blocking getaddrinfo() right here, on the call's only thread. lws gets
 * the numeric address to connect to and the name as the Host header,
 * which is also what it uses for SNI and the certificate's name check
 * (lws_ssl_client_bio_create takes CIS_HOST, i.e. ci.host). A lookup that
 * fails ends the connection like a refused one, naming the host.
 *
 * Hooks run on the main loop: on_message_thread, fill and the message
 * hooks from inside the libwebsockets callback (so they must not call
 * ws_loop_free), on_wake_thread from the pass after ws_loop_wake(). A
 * connection is freed only between passes (sweep), never under a callback
 * of libwebsockets that may still hold it.
 */
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "ws_dns.h"
#include "ws_rx.h"

#define MAX_HEADERS 8
#define FILL_MAX 8192		/* one binary message: 0.5 s of 8 kHz audio */
#define RX_MAX (4u << 20)	/* a message larger than this is a broken peer */
#define WS_FD_LIMIT 64		/* lws's own pipe and a few provider sockets, with room */
#define TEARDOWN_PASSES 1000	/* libuv closes asynchronously: passes to let it */

struct out_msg {
	struct out_msg *next;
	size_t len;
	unsigned char buf[];	/* LWS_PRE bytes of room, then the text */
};

struct ws_conn {
	struct ws_conn *next;		/* l->conns */
	struct ws_loop *loop;
	const struct ws_handlers *h;
	void *arg;
	/* Set by ws_open, read-only after: where to connect (one allocation). */
	char *target;			/* the URL, split in place by lws_parse_uri */
	const char *prot, *addr, *path;
	int port;
	char *headers[MAX_HEADERS];	/* "Name: value", each allocated */
	int nheaders;
	char ip[WS_DNS_ADDR_LEN];	/* addr as a number: given, or looked up */
	struct ws_dns_lookup *lookup;	/* outstanding, else NULL */
	bool unresolved;		/* the lookup failed: close_reason says why */

	struct out_msg *outq, *outq_tail;
	struct lws *wsi;		/* NULL before connecting and once gone */
	struct buf rx;			/* the message being reassembled, up to RX_MAX */
	int close_code;
	char close_reason[124];
	bool want_connect;		/* the next pass connects */
	bool want_close;		/* the owner closed: a close frame goes next */
	bool owner_closed;		/* no hook but on_gone runs */
	bool gone;			/* the socket is over; freed once owner_closed too */
};

struct ws_loop {
	struct event_base *base;
	struct lws_context *ctx;	/* NULLed by lws once wholly destroyed */
	uv_loop_t uv;
	struct event *io;		/* the libuv loop's epoll fd is readable */
	struct event *tick;		/* libuv's next timeout, or 0: a pass is due */
	struct ws_conn *conns;
	struct ws_dns *dns;		/* made at the first name to look up */
	char *resolv_conf;		/* for it; NULL: /etc/resolv.conf */
	int depth;			/* > 0 inside a pass: libwebsockets may hold conns */
	bool dirty;			/* a watcher changed since the last uv_run() */
	bool woken;			/* ws_loop_wake() since the last pass */
	bool freeing;			/* ws_loop_free(): no hook runs any more */
};

/* ---- passes ---- */

static void rearm(struct ws_loop *l)
{
	int ms = l->dirty ? 0 : uv_backend_timeout(&l->uv);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms < 0)
		event_del(l->tick);
	else
		event_add(l->tick, &tv);
}

/* Something libuv learns of only in its next uv_run(): have one soon. */
static void kick(struct ws_loop *l)
{
	l->dirty = true;
	if (!l->depth)
		rearm(l);
}

/* What ws_open allocated; headers may hold a key, so they are wiped. */
static void conn_release(struct ws_conn *c)
{
	ws_dns_cancel(c->lookup);
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

/* Frees the connections both sides are done with; only between passes. */
static void sweep(struct ws_loop *l)
{
	for (struct ws_conn **pp = &l->conns; *pp;) {
		struct ws_conn *c = *pp;
		if (c->gone && c->owner_closed) {
			*pp = c->next;
			conn_release(c);
		} else {
			pp = &c->next;
		}
	}
}

/* The socket is over: on_close (unless the owner closed), then on_gone. */
static void conn_gone(struct ws_conn *c, struct lws *wsi, int code, int http_status,
		      const char *why)
{
	bool quiet = c->loop->freeing;

	if (wsi)
		lws_set_opaque_user_data(wsi, NULL);	/* later callbacks: not ours */
	c->wsi = NULL;
	ws_dns_cancel(c->lookup);
	c->lookup = NULL;
	if (c->gone)
		return;
	c->gone = true;
	if (!c->owner_closed && !quiet && c->h->on_close)
		c->h->on_close(c->arg, code, http_status, why);
	if (!quiet && c->h->on_gone)
		c->h->on_gone(c->arg);
}

static void connect_conn(struct ws_conn *c)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = c->loop->ctx;
	ci.address = c->ip;		/* nothing left for lws to resolve */
	ci.port = c->port;
	ci.path = c->path;
	ci.host = c->addr;		/* Host header, SNI, certificate name */
	ci.origin = c->addr;		/* the Origin header only */
	ci.ssl_connection = !strcmp(c->prot, "wss") || !strcmp(c->prot, "https") ?
			    LCCSCF_USE_SSL : 0;
	ci.local_protocol_name = "vagent";
	ci.opaque_user_data = c;
	/* A refusal may come from inside (CONNECTION_ERROR, then NULL here). */
	struct lws *wsi = lws_client_connect_via_info(&ci);
	if (wsi && !c->gone)
		c->wsi = wsi;
	else if (!c->gone)	/* refused before it had a socket to report on */
		conn_gone(c, NULL, 0, 0, "cannot connect");
	lws_cancel_service(c->loop->ctx);	/* arms lws's connect timeout (header) */
}

static void on_resolved(void *arg, const char *addr, const char *err)
{
	struct ws_conn *c = arg;

	c->lookup = NULL;
	if (addr) {
		snprintf(c->ip, sizeof(c->ip), "%s", addr);
	} else {
		c->unresolved = true;
		snprintf(c->close_reason, sizeof(c->close_reason), "cannot resolve %.64s: %s",
			 c->addr, err);
	}
	c->want_connect = true;	/* connect, or report, in a pass */
	kick(c->loop);
}

/* A name: look it up (the answer may come before this returns). */
static void resolve(struct ws_conn *c)
{
	struct ws_loop *l = c->loop;

	if (!l->dns && ws_dns_new(&l->dns, l->base, l->resolv_conf) < 0) {
		on_resolved(c, NULL, "no resolver");
		return;
	}
	ws_dns_lookup(&c->lookup, l->dns, c->addr, on_resolved, c);
}

/* Inside a pass: connect, or look the name up first. */
static void start(struct ws_conn *c)
{
	if (!c->ip[0] && !c->unresolved) {
		if (!c->lookup)
			resolve(c);
		if (c->lookup)
			return;		/* on_resolved asks for a pass */
		c->want_connect = false;	/* answered at once: go on in this one */
	}
	if (c->unresolved)
		conn_gone(c, NULL, 0, 0, c->close_reason);
	else
		connect_conn(c);
}

/* The requests ws_open, ws_close and ws_loop_wake left for this pass. */
static void run_requests(struct ws_loop *l)
{
	bool woken = l->woken;

	l->woken = false;
	for (struct ws_conn *c = l->conns; c; c = c->next) {
		if (c->want_connect) {
			c->want_connect = false;
			start(c);
		} else if (c->owner_closed && !c->wsi && !c->gone) {
			conn_gone(c, NULL, 0, 0, "closed");	/* before it connected */
		} else if (c->wsi && (c->outq || c->want_close || (woken && c->h->fill))) {
			lws_callback_on_writable(c->wsi);
		}
		if (woken && c->wsi && !c->want_close && c->h->on_wake_thread)
			c->h->on_wake_thread(c->arg);
	}
}

static void service(struct ws_loop *l)
{
	l->depth++;
	run_requests(l);
	l->dirty = false;	/* uv_run() applies what run_requests changed */
	uv_run(&l->uv, UV_RUN_NOWAIT);
	l->depth--;
	sweep(l);
	rearm(l);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	service(arg);
}

/* ---- libwebsockets callbacks (inside uv_run) ---- */

static int append_headers(struct ws_conn *c, struct lws *wsi, void *in, size_t len)
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
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
						(const unsigned char *)v, (int)strlen(v), p, end))
			return -1;
	}
	return 0;
}

static int on_receive(struct ws_conn *c, struct lws *wsi, const void *in, size_t len)
{
	int rc = ws_rx_gather(&c->rx, wsi, in, len);

	if (rc <= 0)
		return rc;
	bool binary = lws_frame_is_binary(wsi);
	const char *msg = buf_str(&c->rx);
	const struct ws_handlers *h = c->h;
	/* The hooks may close c (never free it: that waits for the sweep). */
	if (!c->owner_closed && !c->loop->freeing &&
	    (!h->on_message_thread || h->on_message_thread(c->arg, msg, c->rx.len, binary)) &&
	    !c->owner_closed && h->on_message)
		h->on_message(c->arg, msg, c->rx.len, binary);
	buf_reset(&c->rx);
	return 0;
}

static int on_writeable(struct ws_conn *c, struct lws *wsi)
{
	unsigned char fill[LWS_PRE + FILL_MAX];
	struct out_msg *m = c->outq;
	bool more;

	if (m && !(c->outq = m->next))
		c->outq_tail = NULL;
	more = c->outq != NULL;
	if (m) {
		int rc = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		free(m);
		if (rc < 0)
			return -1;
	} else if (c->want_close) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	} else if (c->h->fill) {
		size_t n = c->h->fill(c->arg, fill + LWS_PRE, FILL_MAX);
		if (n && lws_write(wsi, fill + LWS_PRE, n, LWS_WRITE_BINARY) < 0)
			return -1;
		more = n > 0;
	}
	if (more || c->want_close)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct ws_conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	(void)user;

	if (!c)
		return 0;	/* the context's own, or a socket already gone */
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return append_headers(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->wsi = wsi;
		if (!c->owner_closed && !c->loop->freeing && c->h->on_open)
			c->h->on_open(c->arg);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *p = in;
			c->close_code = p[0] << 8 | p[1];
			snprintf(c->close_reason, sizeof(c->close_reason), "%.*s",
				 (int)(len - 2 < 120 ? len - 2 : 120), (const char *)p + 2);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		conn_gone(c, wsi, 0, (int)lws_http_client_http_response(wsi),
			  in ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		conn_gone(c, wsi, c->close_code, 0, c->close_reason[0] ? c->close_reason : "closed");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "vagent", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- the API ---- */

int ws_loop_new(struct ws_loop **out, struct event_base *base, struct ssl_ctx_st *tls)
{
	struct lws_context_creation_info info;
	struct ws_loop *l = calloc(1, sizeof(*l));
	void *loops[1];

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->base = base;
	if (uv_loop_init(&l->uv) < 0) {
		free(l);
		return -ENOMEM;
	}
	loops[0] = &l->uv;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = loops;
	info.pcontext = &l->ctx;
	info.provided_client_ssl_ctx = tls;	/* NULL: lws builds its own */
	info.user = l;
	/*
	 * A worker holds a handful of connections. By default lws sizes its
	 * fd tables by the process limit (20,000 fds: 320 kB, all written at
	 * creation, private to each busy worker).
	 */
	info.fd_limit_per_thread = WS_FD_LIMIT;
	l->ctx = lws_create_context(&info);
	l->io = event_new(base, uv_backend_fd(&l->uv), EV_READ | EV_PERSIST, on_ready, l);
	l->tick = evtimer_new(base, on_ready, l);
	if (!l->ctx || !l->io || !l->tick || event_add(l->io, NULL) < 0) {
		l->freeing = true;
		ws_loop_free(l);
		return -ENOMEM;
	}
	kick(l);	/* lws has start-up work of its own queued */
	*out = l;
	return 0;
}

void ws_loop_free(struct ws_loop *l)
{
	if (!l)
		return;
	l->freeing = true;
	l->depth++;
	/*
	 * lws 4.1 on a foreign libuv loop: the first destroy closes every
	 * socket and its own handles, which libuv finishes on the loop; the
	 * second, once they are closed, frees the context (and NULLs l->ctx).
	 */
	if (l->ctx)
		lws_context_destroy(l->ctx);
	for (int i = 0; i < TEARDOWN_PASSES && uv_run(&l->uv, UV_RUN_NOWAIT); i++)
		;
	if (l->ctx)
		lws_context_destroy(l->ctx);
	if (l->ctx)
		log_error("ws", NULL, "libwebsockets did not let go of its loop");
	else if (uv_loop_close(&l->uv) < 0)
		log_error("ws", NULL, "libuv handles left open at exit");
	if (l->io)
		event_free(l->io);
	if (l->tick)
		event_free(l->tick);
	while (l->conns) {
		struct ws_conn *c = l->conns;
		l->conns = c->next;
		conn_release(c);	/* cancels its lookup, before the resolver goes */
	}
	ws_dns_free(l->dns);
	free(l->resolv_conf);
	free(l);
}

int ws_loop_resolver(struct ws_loop *l, const char *resolv_conf)
{
	char *copy = resolv_conf && *resolv_conf ? strdup(resolv_conf) : NULL;

	if (resolv_conf && *resolv_conf && !copy)
		return -ENOMEM;
	free(l->resolv_conf);
	l->resolv_conf = copy;
	return 0;
}

struct event_base *ws_loop_base(struct ws_loop *l)
{
	return l->base;
}

struct lws_context *ws_loop_lws(struct ws_loop *l)
{
	return l->ctx;
}

void ws_loop_kick(struct ws_loop *l)
{
	kick(l);
}

void ws_loop_wake(struct ws_loop *l)
{
	if (l->woken)
		return;
	l->woken = true;
	kick(l);
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
	unsigned char num[sizeof(struct in6_addr)];
	if ((inet_pton(AF_INET, c->addr, num) == 1 || inet_pton(AF_INET6, c->addr, num) == 1) &&
	    strlen(c->addr) < sizeof(c->ip))
		strcpy(c->ip, c->addr);	/* a number: nothing to look up */
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
	c->want_connect = true;	/* in the next pass: no callback from in here */
	c->next = l->conns;
	l->conns = c;
	kick(l);
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
	if (c->outq_tail)
		c->outq_tail->next = m;
	else
		c->outq = m;
	c->outq_tail = m;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
	kick(c->loop);
	return 0;
}

void ws_close(struct ws_conn *c)
{
	if (!c)
		return;
	c->owner_closed = true;
	c->want_connect = false;
	ws_dns_cancel(c->lookup);	/* its answer never comes */
	c->lookup = NULL;
	if (c->gone) {
		if (!c->loop->depth)
			sweep(c->loop);
		return;
	}
	c->want_close = true;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
	kick(c->loop);	/* not connected yet: the next pass says it is gone */
}
