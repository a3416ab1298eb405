/*
 * ws.c - the worker's websocket clients, on the worker's own loop. See ws.h.
 *
 * Owns: the connections' lifetimes (open, resolve, connect, TLS, upgrade,
 * messages, close, release), their events on the worker's libevent base,
 * and the loop-wide pass that runs what ws_open, ws_send_text, ws_close
 * and ws_loop_wake ask for. Frames are ws_peer.c's (a client's side), the
 * upgrade ws_handshake.c's, the socket and TLS ws_io.c's.
 *
 * Why not libwebsockets: on this machine every syscall traps to the
 * hypervisor, so a worker's cost is its syscall count. Debian's lws 4.1
 * has no libevent loop, so it ran on a libuv loop nested in ours: strace
 * of one busy worker (50 calls, 6 s) counted 3,360 syscalls, 1,299 of them
 * epoll_wait and 780 epoll_ctl. Each message received cost two nested
 * epoll_waits before and after its recv; each message sent ~9 syscalls
 * (epoll_ctl to ask for writability and back, epoll_waits, a read of
 * /dev/urandom for the mask key) around its one send. Here a message
 * received is its recv (one per readable event, however many frames it
 * holds) and a message sent is its send, batched per pass: the read event
 * stays armed for the connection's life (unless its owner lets reads wait
 * for the call's tick, ws_loop_poll), the write event is added only
 * while the kernel refuses bytes, and mask keys come from OpenSSL's
 * userspace generator (pooled: it calls getpid() per request).
 *
 * Hooks run on the main loop: on_open, the message hooks and on_close from
 * the socket's event, on_wake_thread and fill from the pass after
 * ws_loop_wake(), on_close for a failed lookup or connect from the pass.
 * ws_open, ws_send_text and ws_close only record and schedule the pass
 * (event_active: no syscall). A connection is freed only when the owner
 * closed it and its socket is gone, and only once no hook of ours is on
 * the stack (sweep).
 */
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "ws_dns.h"
#include "ws_frame.h"
#include "ws_handshake.h"
#include "ws_io.h"
#include "ws_peer.h"

#define MAX_HEADERS 8
#define FILL_MAX 8192		/* one binary message: 0.5 s of 8 kHz audio */
/*
 * A page per read: a reply that waited in the socket (a poll that skipped
 * it, ws.h may_skip) comes in a burst, and 16 KB reads of it grew the
 * pages the worker touches by ~12 KB a call; messages are about 1 KB. TLS
 * hands a 16 KB record over in such pieces without another system call.
 */
#define READ_CHUNK 4096
#define IN_MAX (WS_PEER_MSG_MAX + WS_FRAME_HDR_MAX + READ_CHUNK)
#define FILL_AHEAD 65536	/* bytes queued before fill() waits for the socket */
#define CONNECT_SECS 10		/* connect, TLS and upgrade together */
#define CLOSE_SECS 2		/* our close frame sent: the peer's answer */
/*
 * Mask keys are drawn from a pool: OpenSSL 3's generator calls getpid()
 * on every RAND_bytes (its fork check), a syscall per message otherwise.
 * The pool is filled in the worker, after its fork, and never crosses one.
 */
#define RND_POOL 512

enum state {
	ST_NEW,			/* waiting for the pass to start it */
	ST_RESOLVING,
	ST_CONNECTING,
	ST_TLS,
	ST_UPGRADE,		/* request going out, response coming in */
	ST_OPEN,		/* frames flow; p.closing once our close frame is queued */
	ST_GONE,
};

struct ws_conn {
	struct ws_conn *next;		/* l->conns */
	struct ws_loop *loop;
	const struct ws_handlers *h;
	void *arg;
	struct ws_url url;
	char *headers[MAX_HEADERS];	/* "Name: value", each allocated */
	int nheaders;
	char ip[WS_DNS_ADDR_LEN];	/* the host as a number: given, or looked up */
	struct ws_dns_lookup *lookup;	/* outstanding, else NULL */
	char key[WS_HS_KEY_LEN];

	struct ws_io io;
	struct event *rd;		/* persistent EV_READ while the socket lives */
	struct event *wr;		/* EV_WRITE, added only while bytes wait */
	struct event *timer;		/* connect or close deadline */
	struct buf hs;			/* the upgrade request still to write */
	struct buf in;			/* bytes read, not yet taken as frames */
	struct buf out;			/* frames still to write, in order */
	struct ws_peer p;		/* frames in, messages out, over in and out */
	enum state st;
	bool want_connect;		/* the next pass starts it */
	bool flush_due;			/* out has bytes the next pass writes */
	bool wr_armed;			/* wr is added */
	bool lazy;			/* rd is out of the set: ws_loop_poll reads */
	bool read_wants_write;		/* TLS: a read waits for writability */
	bool owner_closed;		/* no hook but on_gone runs */
	bool gone;			/* the socket is over; freed once owner_closed too */
};

struct ws_loop {
	struct event_base *base;
	struct ssl_ctx_st *tls;
	struct event *pass;		/* the deferred pass: event_active, no syscall */
	struct ws_conn *conns;
	struct ws_dns *dns;		/* made at the first name to look up */
	char *resolv_conf;		/* for it; NULL: /etc/resolv.conf */
	uint8_t fill[FILL_MAX];		/* fill()'s scratch */
	uint8_t rnd[RND_POOL];		/* random bytes for keys, used from the end */
	size_t rnd_left;
	int depth;			/* > 0 while a hook of ours may be on the stack */
	bool woken;			/* ws_loop_wake() since the last pass */
	bool freeing;			/* ws_loop_free(): no hook runs any more */
};

/* n (<= RND_POOL) random bytes from loop's pool: keys and masks (ws_peer.c); 0 or -EIO. */
static int random_bytes(void *loop, uint8_t *out, size_t n)
{
	struct ws_loop *l = loop;

	if (l->rnd_left < n) {
		if (RAND_bytes(l->rnd, sizeof(l->rnd)) != 1)
			return -EIO;
		l->rnd_left = sizeof(l->rnd);
	}
	l->rnd_left -= n;
	memcpy(out, l->rnd + l->rnd_left, n);
	explicit_bzero(l->rnd + l->rnd_left, n);	/* a key is used once */
	return 0;
}

static void schedule(struct ws_loop *l)
{
	event_active(l->pass, 0, 0);
}

/* ---- lifetime ---- */

/* What ws_open allocated; headers may hold a key, so they are wiped. */
static void conn_release(struct ws_conn *c)
{
	ws_dns_cancel(c->lookup);
	for (int i = 0; i < c->nheaders; i++) {
		explicit_bzero(c->headers[i], strlen(c->headers[i]));
		free(c->headers[i]);
	}
	if (c->hs.data)
		explicit_bzero(c->hs.data, c->hs.cap);	/* the request repeats them */
	buf_free(&c->hs);
	buf_free(&c->in);
	buf_free(&c->out);
	ws_peer_free(&c->p);
	if (c->timer)
		event_free(c->timer);
	ws_url_free(&c->url);
	free(c);
}

/* Frees the connections both sides are done with; never under a hook. */
static void sweep(struct ws_loop *l)
{
	if (l->depth)
		return;
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

static void drop_socket(struct ws_conn *c)
{
	if (c->rd)
		event_free(c->rd);
	if (c->wr)
		event_free(c->wr);
	c->rd = c->wr = NULL;
	c->wr_armed = c->lazy = false;
	if (c->timer)
		event_del(c->timer);
	ws_io_close(&c->io);
}

/* The socket is over: on_close (unless the owner closed), then on_gone. */
static void conn_gone(struct ws_conn *c, int code, int http_status, const char *why)
{
	bool quiet = c->loop->freeing;

	ws_dns_cancel(c->lookup);
	c->lookup = NULL;
	drop_socket(c);
	if (c->gone)
		return;
	c->gone = true;
	c->st = ST_GONE;
	c->flush_due = false;
	if (!c->owner_closed && !quiet && c->h->on_close)
		c->h->on_close(c->arg, code, http_status, why);
	if (!quiet && c->h->on_gone)
		c->h->on_gone(c->arg);
}

/* ---- writing ---- */

static void arm_write(struct ws_conn *c)
{
	if (!c->wr_armed && c->wr && event_add(c->wr, NULL) == 0)
		c->wr_armed = true;
}

/* Writes what it can of b: 0 (all, or the rest waits for wr) or -1 (gone). */
static int write_buf(struct ws_conn *c, struct buf *b)
{
	char why[200];

	while (b->len) {
		int want = 0;
		ssize_t n = ws_io_write(&c->io, b->data, b->len, &want, why, sizeof(why));
		if (n > 0) {
			buf_consume(b, (size_t)n);
		} else if (n == -EAGAIN) {
			if (want == WS_IO_WANT_WRITE)
				arm_write(c);
			return 0;	/* WANT_READ: the read event is armed already */
		} else {
			conn_gone(c, 0, 0, why);
			return -1;
		}
	}
	return 0;
}

/* fill() into binary messages while the socket takes them. */
static void pump(struct ws_conn *c)
{
	struct ws_loop *l = c->loop;

	while (c->st == ST_OPEN && !c->owner_closed && c->h->fill && !c->wr_armed &&
	       c->out.len < FILL_AHEAD) {
		size_t n = c->h->fill(c->arg, l->fill, FILL_MAX);
		if (!n || n > FILL_MAX)
			break;
		if (ws_peer_send(&c->p, WS_OP_BINARY, l->fill, n) < 0)
			break;
	}
}

/* Writes out unless the kernel said to wait; 0 or -1 (gone). */
static int flush(struct ws_conn *c)
{
	c->flush_due = false;
	if (c->wr_armed || c->st != ST_OPEN)
		return 0;
	return write_buf(c, &c->out);
}

/* ---- reading ---- */

/* A whole message for the hooks; false once c is gone. */
static bool deliver(void *arg, const char *msg, size_t len, bool binary)
{
	struct ws_conn *c = arg;
	const struct ws_handlers *h = c->h;

	/* The hooks may close c (never free it: that waits for the sweep). */
	if (!c->owner_closed && !c->loop->freeing &&
	    (!h->on_message_thread || h->on_message_thread(c->arg, msg, len, binary)) &&
	    !c->owner_closed && h->on_message)
		h->on_message(c->arg, msg, len, binary);
	return !c->gone;
}

/* The peer layer ended it: what it queued (a close frame) goes first. */
static void end(struct ws_conn *c)
{
	if (flush(c) == 0)
		conn_gone(c, c->p.code, 0, c->p.why);
}

/* The frames at the front of c->in; 0, or -1 once c is gone. */
static int take_frames(struct ws_conn *c)
{
	if (ws_peer_take(&c->p, deliver, c))
		end(c);
	return c->gone ? -1 : 0;
}

static void judge_response(struct ws_conn *c);

/* Reads until the socket has nothing more now; 0 or -1 (gone). */
static int read_some(struct ws_conn *c)
{
	char why[200];
	bool more = true;

	c->read_wants_write = false;
	while (more) {
		uint8_t *tail;
		int want = 0;
		if (buf_reserve(&c->in, READ_CHUNK, &tail) < 0) {
			ws_peer_end(&c->p, WS_CLOSE_TOO_BIG, "message too large");
			end(c);
			return -1;
		}
		ssize_t n = ws_io_read(&c->io, tail, READ_CHUNK, &more, &want, why, sizeof(why));
		if (n == -EAGAIN) {
			c->read_wants_write = want == WS_IO_WANT_WRITE;
			if (c->read_wants_write)
				arm_write(c);
			return 0;
		}
		if (n <= 0) {
			conn_gone(c, 0, 0, n == 0 ? "closed" : why);
			return -1;
		}
		buf_commit(&c->in, (size_t)n);
		/* A short plain read emptied the socket: no recv just to hear EAGAIN. */
		more |= !c->io.ssl && (size_t)n == READ_CHUNK;
		if (c->st == ST_UPGRADE)
			judge_response(c);	/* on open, it takes the frames after the head */
		else
			take_frames(c);
		if (c->gone)
			return -1;
	}
	return 0;
}

/* ---- connecting ---- */

static void opened(struct ws_conn *c, size_t head)
{
	buf_consume(&c->in, head);
	if (c->hs.data)
		explicit_bzero(c->hs.data, c->hs.cap);
	buf_free(&c->hs);
	event_del(c->timer);
	c->st = ST_OPEN;
	if (!c->owner_closed && !c->loop->freeing && c->h->on_open)
		c->h->on_open(c->arg);
	if (c->gone || c->owner_closed)
		return;	/* ws_close from on_open: its close frame is queued */
	pump(c);
	if (flush(c) == 0 && c->in.len)
		take_frames(c);	/* frames that came with the head */
}

/* The response head so far: on, open, or gone. */
static void judge_response(struct ws_conn *c)
{
	char why[160];
	int status;
	size_t used;
	int rc = ws_hs_response((const char *)c->in.data, c->in.len, c->key, &status, &used, why,
				sizeof(why));

	if (rc == WS_HS_MORE)
		return;
	if (rc == WS_HS_OK)
		opened(c, used);
	else
		conn_gone(c, 0, rc == WS_HS_REFUSED ? status : 0, why);
}

static int send_request(struct ws_conn *c)
{
	uint8_t raw[16];

	if (random_bytes(c->loop, raw, sizeof(raw)) < 0)
		return -EIO;
	ws_hs_key(raw, c->key);
	return ws_hs_request(&c->hs, &c->url, c->headers, c->nheaders, c->key);
}

/* CONNECTING: the TCP connect's outcome; 0 to go on, -1 to wait or gone. */
static int step_connect(struct ws_conn *c)
{
	char why[200];
	int rc = ws_io_connected(&c->io, why, sizeof(why));

	if (rc == -EAGAIN) {
		arm_write(c);
		return -1;
	}
	if (rc == 0 && c->url.tls)
		rc = ws_io_tls_start(&c->io, c->loop->tls, c->url.host, why, sizeof(why));
	if (rc == 0 && send_request(c) < 0) {
		snprintf(why, sizeof(why), "cannot build the upgrade request");
		rc = -ENOMEM;
	}
	if (rc < 0) {
		conn_gone(c, 0, 0, why);
		return -1;
	}
	c->st = c->url.tls ? ST_TLS : ST_UPGRADE;
	return 0;
}

/* TLS: one step of its handshake; 0 to go on, -1 to wait or gone. */
static int step_tls(struct ws_conn *c)
{
	char why[200];
	int want = 0, rc = ws_io_tls_step(&c->io, &want, why, sizeof(why));

	if (rc == -EAGAIN) {
		if (want == WS_IO_WANT_WRITE)
			arm_write(c);
		return -1;
	}
	if (rc < 0) {
		conn_gone(c, 0, 0, why);
		return -1;
	}
	c->st = ST_UPGRADE;
	return 0;
}

/* OPEN or CLOSING: writes what waits, reads what came. */
static void step_open(struct ws_conn *c, short what)
{
	if (c->read_wants_write && (what & EV_WRITE))
		what |= EV_READ;
	if (((what & EV_WRITE) || c->out.len) && flush(c) < 0)
		return;
	if ((what & EV_WRITE) && !c->wr_armed)
		pump(c);	/* the socket drained: fill() may go on */
	if ((what & EV_READ) && read_some(c) < 0)
		return;
	if (c->flush_due || c->out.len)
		flush(c);	/* fill()'s, pongs, the answer to a close */
}

/* Moves the connection on as far as the socket lets it; may end it. */
static void advance(struct ws_conn *c, short what)
{
	if (c->st == ST_CONNECTING && step_connect(c) < 0)
		return;
	if (c->st == ST_TLS) {
		if (step_tls(c) < 0)
			return;
		what |= EV_READ;	/* TLS may hold the response's bytes already */
	}
	if (c->st == ST_UPGRADE) {
		/* The request first; the response (and frames after it) as they come. */
		if (write_buf(c, &c->hs) < 0 || !(what & EV_READ) || read_some(c) < 0)
			return;
		if (c->st == ST_UPGRADE)
			return;
		what &= ~EV_READ;	/* read_some read on past the head already */
	}
	if (c->st == ST_OPEN)
		step_open(c, what);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn *c = arg;
	struct ws_loop *l = c->loop;
	(void)fd;

	if (what & EV_WRITE)
		c->wr_armed = false;	/* not persistent: it is out of the set now */
	l->depth++;
	advance(c, what);
	l->depth--;
	sweep(l);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn *c = arg;
	struct ws_loop *l = c->loop;
	char why[160];
	(void)fd; (void)what;

	l->depth++;
	snprintf(why, sizeof(why), "no websocket to %.64s within %d s", c->url.host, CONNECT_SECS);
	conn_gone(c, 0, 0, c->p.closing ? "closed" : why);
	l->depth--;
	sweep(l);
}

static void connect_conn(struct ws_conn *c)
{
	struct timeval tv = { CONNECT_SECS, 0 };
	char why[200];

	c->st = ST_CONNECTING;
	if (ws_io_connect(&c->io, c->ip, c->url.port, why, sizeof(why)) < 0)
		return conn_gone(c, 0, 0, why);
	c->rd = event_new(c->loop->base, c->io.fd, EV_READ | EV_PERSIST, on_io, c);
	c->wr = event_new(c->loop->base, c->io.fd, EV_WRITE, on_io, c);
	if (!c->rd || !c->wr || event_add(c->rd, NULL) < 0 || event_add(c->timer, &tv) < 0)
		return conn_gone(c, 0, 0, "cannot connect: out of memory");
	arm_write(c);	/* connected: writable */
}

static void on_resolved(void *arg, const char *addr, const char *err)
{
	struct ws_conn *c = arg;
	char why[160];

	c->lookup = NULL;
	if (addr) {
		snprintf(c->ip, sizeof(c->ip), "%s", addr);
		c->want_connect = true;		/* in a pass: connect_conn may end it */
		schedule(c->loop);
		return;
	}
	snprintf(why, sizeof(why), "cannot resolve %.64s: %s", c->url.host, err);
	c->loop->depth++;
	conn_gone(c, 0, 0, why);
	c->loop->depth--;
	sweep(c->loop);
}

/* In a pass: connect, or look the name up first. */
static void start(struct ws_conn *c)
{
	struct ws_loop *l = c->loop;

	if (c->ip[0]) {
		connect_conn(c);
		return;
	}
	c->st = ST_RESOLVING;
	if (!l->dns && ws_dns_new(&l->dns, l->base, l->resolv_conf) < 0) {
		on_resolved(c, NULL, "no resolver");
		return;
	}
	/* The answer may come before this returns (the hosts file): it schedules. */
	ws_dns_lookup(&c->lookup, l->dns, c->url.host, on_resolved, c);
}

/* What ws_open, ws_send_text, ws_close and ws_loop_wake left for now. */
static void on_pass(evutil_socket_t fd, short what, void *arg)
{
	struct ws_loop *l = arg;
	bool woken = l->woken;
	(void)fd; (void)what;

	l->woken = false;
	l->depth++;
	for (struct ws_conn *c = l->conns; c; c = c->next) {
		if (c->gone)
			continue;
		if (c->owner_closed && c->st < ST_OPEN) {
			conn_gone(c, 0, 0, "closed");	/* before it was up */
			continue;
		}
		if (c->want_connect) {
			c->want_connect = false;
			start(c);
		}
		if (woken && !c->gone && !c->owner_closed && c->st >= ST_CONNECTING &&
		    c->st <= ST_OPEN && c->h->on_wake_thread)
			c->h->on_wake_thread(c->arg);
		if (woken && !c->gone)
			pump(c);
		if (!c->gone && (c->flush_due || c->out.len))
			flush(c);
	}
	l->depth--;
	sweep(l);
}

/* Reads as it comes again (false), or only when polled (true). */
static void set_lazy(struct ws_conn *c, bool lazy)
{
	if (lazy == c->lazy || !c->rd)
		return;
	if (lazy ? event_del(c->rd) : event_add(c->rd, NULL))
		return;		/* unchanged: the read event is as it was */
	c->lazy = lazy;
}

void ws_loop_poll(struct ws_loop *l)
{
	l->depth++;
	for (struct ws_conn *c = l->conns; c; c = c->next) {
		if (c->lazy && !(c->h->may_skip && c->h->may_skip(c->arg)))
			advance(c, EV_READ);
		if (c->gone || !c->h->may_wait)
			continue;
		set_lazy(c, c->st == ST_OPEN && !c->p.closing && !c->owner_closed &&
			    c->h->may_wait(c->arg));
	}
	l->depth--;
	sweep(l);
}

/* ---- the API ---- */

int ws_loop_new(struct ws_loop **out, struct event_base *base, struct ssl_ctx_st *tls)
{
	struct ws_loop *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->base = base;
	l->tls = tls;
	if (!(l->pass = event_new(base, -1, 0, on_pass, l))) {
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
	l->freeing = true;
	while (l->conns) {
		struct ws_conn *c = l->conns;
		l->conns = c->next;
		conn_gone(c, 0, 0, "closed");	/* no hook: freeing */
		conn_release(c);	/* cancels its lookup, before the resolver goes */
	}
	event_free(l->pass);
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

void ws_loop_wake(struct ws_loop *l)
{
	if (l->woken)
		return;
	l->woken = true;
	schedule(l);
}

int ws_open(struct ws_conn **out, struct ws_loop *l, const char *url,
	    const char *const *headers, const struct ws_handlers *h, void *arg)
{
	struct ws_conn *c = calloc(1, sizeof(*c));
	unsigned char num[sizeof(struct in6_addr)];
	int rc;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->h = h;
	c->arg = arg;
	ws_io_init(&c->io);
	buf_init(&c->hs, 0);
	buf_init(&c->in, IN_MAX);
	buf_init(&c->out, 0);
	ws_peer_init(&c->p, &c->in, &c->out, random_bytes, l);	/* a client: masks */
	rc = ws_url_parse(&c->url, url, WS_PATH_MAX);
	for (int i = 0; rc == 0 && headers && headers[i]; i++) {
		if (c->nheaders == MAX_HEADERS)
			rc = -E2BIG;
		else if (!(c->headers[c->nheaders] = strdup(headers[i])))
			rc = -ENOMEM;
		else
			c->nheaders++;
	}
	if (rc == 0 && !(c->timer = evtimer_new(l->base, on_timer, c)))
		rc = -ENOMEM;
	if (rc < 0) {
		conn_release(c);
		return rc;
	}
	if ((inet_pton(AF_INET, c->url.host, num) == 1 || inet_pton(AF_INET6, c->url.host, num) == 1) &&
	    strlen(c->url.host) < sizeof(c->ip))
		strcpy(c->ip, c->url.host);	/* a number: nothing to look up */
	c->want_connect = true;	/* in the pass: no hook from in here */
	c->next = l->conns;
	l->conns = c;
	schedule(l);
	*out = c;
	return 0;
}

int ws_send_text(struct ws_conn *c, const char *text, size_t len)
{
	int rc;

	if (c->owner_closed || c->gone)
		return -ENOTCONN;
	if ((rc = ws_peer_send(&c->p, WS_OP_TEXT, text, len)) < 0)
		return rc;
	if (c->st == ST_OPEN && !c->flush_due) {
		c->flush_due = true;
		schedule(c->loop);
	}
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
		sweep(c->loop);
		return;
	}
	set_lazy(c, false);	/* the peer's answer to our close is read as it comes */
	if (c->st == ST_OPEN) {
		struct timeval tv = { CLOSE_SECS, 0 };	/* the peer's time to answer */
		ws_peer_close(&c->p, WS_CLOSE_NORMAL);	/* after what is queued */
		event_add(c->timer, &tv);
		c->flush_due = true;
	}
	schedule(c->loop);	/* not up yet: the pass drops it */
}
