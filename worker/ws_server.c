/*
 * ws_server.c - websocket server connections on handed-over sockets. See
 * ws_server.h.
 *
 * Owns: each connection's socket, events, buffers and lifetime. Frames
 * are ws_peer.c's (a server's side), the upgrade ws_handshake.c's. The
 * socket is plain TCP: TLS ends at the proxy in front of [twilio] listen.
 *
 * Why not libwebsockets: the same reason as ws.c. Debian's lws 4.1 ran
 * on a libuv loop nested in ours, a few epoll calls around every message
 * each way. Here a message received is its share of one recv (the read
 * event stays armed for the socket's life), and the messages sent in one
 * pass of the loop go out in one send; a write event is added only while
 * the kernel refuses bytes. strace of one worker in a Media Streams call
 * (10 calls up, 6 s): 448 syscalls a second with libwebsockets, 190
 * here (epoll_wait 260 -> 77, epoll_ctl 71 -> 1, sendto 36 -> 28).
 *
 * Hooks run from the socket's events, never from an API call. A
 * connection is freed once the owner closed it and the socket is gone,
 * and only when no hook of ours is on the stack (depth).
 */
#include "ws_server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/buf.h"
#include "ws.h"
#include "ws_frame.h"
#include "ws_handshake.h"
#include "ws_peer.h"

#define READ_CHUNK 16384
#define IN_MAX (WS_PEER_MSG_MAX + WS_FRAME_HDR_MAX + READ_CHUNK)
#define UPGRADE_SECS 10		/* from the hand-over to a whole request head */
#define CLOSE_SECS 2		/* our close frame sent: the peer's answer */
#define SIG_HDR "X-Twilio-Signature"

enum state {
	ST_REQUEST,		/* reading the upgrade request */
	ST_OPEN,		/* frames flow; p.closing once our close frame is queued */
	ST_GONE,
};

struct ws_srv {
	const struct ws_srv_handlers *h;
	void *arg;
	int fd;			/* -1 once closed */
	struct event *rd;	/* persistent EV_READ while the socket lives */
	struct event *wr;	/* EV_WRITE, added only while bytes wait */
	struct event *timer;	/* upgrade or close deadline */
	struct event *pass;	/* flushes what the API queued: event_active, no syscall */
	struct buf in;		/* bytes read, not yet taken */
	struct buf out;		/* the 101 and frames still to write, in order */
	struct buf ends;	/* uint64_t: where each queued text message ends */
	uint64_t out_done;	/* bytes written since the upgrade, 101 included */
	struct ws_peer p;	/* frames in, messages out, over in and out */
	enum state st;
	int depth;		/* > 0 while a hook of ours may be on the stack */
	bool wr_armed;
	bool owner_closed;	/* no hook runs any more */
	bool gone;		/* the socket is over; freed once owner_closed too */
};

static void ev_free(struct event *e)
{
	if (e)
		event_free(e);
}

static void srv_free(struct ws_srv *s)
{
	ev_free(s->rd);
	ev_free(s->wr);
	ev_free(s->timer);
	ev_free(s->pass);
	buf_free(&s->in);
	buf_free(&s->out);
	buf_free(&s->ends);
	ws_peer_free(&s->p);
	free(s);
}

/* After an entry point's work: frees s if both sides are done. */
static void leave(struct ws_srv *s)
{
	if (--s->depth == 0 && s->gone && s->owner_closed)
		srv_free(s);
}

/* The socket is over: on_close unless the owner closed. */
static void srv_gone(struct ws_srv *s, const char *why)
{
	if (s->gone)
		return;
	s->gone = true;
	s->st = ST_GONE;
	event_del(s->rd);
	event_del(s->wr);
	event_del(s->timer);
	s->wr_armed = false;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (!s->owner_closed && s->h->on_close)
		s->h->on_close(s->arg, why);
}

/* ---- writing ---- */

/* Text messages whose last byte went to the kernel leave the count. */
static void count_sent(struct ws_srv *s, size_t n)
{
	const uint64_t *e = (const uint64_t *)s->ends.data;
	size_t k = 0, have = s->ends.len / sizeof(*e);

	s->out_done += n;
	while (k < have && e[k] <= s->out_done)
		k++;
	buf_consume(&s->ends, k * sizeof(*e));
}

/* Writes what the kernel takes: 0 (all, or the rest waits for wr) or -1 (gone). */
static int flush(struct ws_srv *s)
{
	while (s->out.len && !s->gone) {
		ssize_t n = send(s->fd, s->out.data, s->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&s->out, (size_t)n);
			count_sent(s, (size_t)n);
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!s->wr_armed && event_add(s->wr, NULL) == 0)
				s->wr_armed = true;
			return 0;
		} else {
			char why[120];
			snprintf(why, sizeof(why), "write: %s", n < 0 ? strerror(errno) : "nothing taken");
			srv_gone(s, why);
			return -1;
		}
	}
	return s->gone ? -1 : 0;
}

/* Our close frame after what is queued; the peer has CLOSE_SECS to answer. */
static void queue_close(struct ws_srv *s, int code)
{
	struct timeval tv = { CLOSE_SECS, 0 };

	ws_peer_close(&s->p, code);
	event_add(s->timer, &tv);
}

/* ---- reading ---- */

/* A whole message for the hook; false once s is gone. */
static bool deliver(void *arg, const char *msg, size_t len, bool binary)
{
	struct ws_srv *s = arg;

	/* The hook may close s (never free it: that waits for leave()). */
	if (!s->owner_closed && s->h->on_message)
		s->h->on_message(s->arg, msg, len, binary);
	return !s->gone;
}

/* The peer layer ended it: what it queued (a close frame) goes first. */
static void end(struct ws_srv *s)
{
	if (flush(s) == 0)
		srv_gone(s, s->p.why);
}

/* The frames at the front of s->in. */
static void take_frames(struct ws_srv *s)
{
	if (ws_peer_take(&s->p, deliver, s))
		end(s);
}

/* A refused upgrade: the HTTP answer, then the end. */
static void refuse_upgrade(struct ws_srv *s, int status, const char *why)
{
	buf_reset(&s->out);
	if (ws_hs_refusal(&s->out, status) == 0)
		flush(s);	/* a fresh socket: the kernel takes it whole */
	srv_gone(s, why);
}

/* The request head so far: on, open, or refused. */
static void judge_request(struct ws_srv *s)
{
	char why[160];
	struct ws_hs_req r;
	size_t used;
	int rc = ws_hs_request_parse((const char *)s->in.data, s->in.len, SIG_HDR, &r, &used, why,
				     sizeof(why));

	if (rc == WS_HS_MORE)
		return;
	if (rc != WS_HS_OK) {
		refuse_upgrade(s, r.status, why);
		return;
	}
	buf_consume(&s->in, used);
	/* The hook may rebind s or close it; it may not free it. */
	if (s->owner_closed || !s->h->on_upgrade(s->arg, r.path, r.has_extra ? r.extra : NULL)) {
		refuse_upgrade(s, 403, "upgrade refused");
		return;
	}
	event_del(s->timer);
	if (ws_hs_accept_response(&s->out, r.key) < 0) {
		srv_gone(s, "out of memory");
		return;
	}
	s->st = ST_OPEN;
	if (s->owner_closed)
		queue_close(s, WS_CLOSE_NORMAL);	/* closed from inside on_upgrade */
	if (flush(s) == 0 && s->in.len)
		take_frames(s);	/* frames that came with the head */
}

/* Reads until the socket has nothing more now; 0 or -1 (gone). */
static int read_some(struct ws_srv *s)
{
	bool more = true;

	while (more && !s->gone) {
		uint8_t *tail;
		if (buf_reserve(&s->in, READ_CHUNK, &tail) < 0) {
			ws_peer_end(&s->p, WS_CLOSE_TOO_BIG, "message too large");
			end(s);
			return -1;
		}
		ssize_t n = recv(s->fd, tail, READ_CHUNK, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			char why[120];
			snprintf(why, sizeof(why), "%s", n == 0 ? "connection lost" : strerror(errno));
			srv_gone(s, why);
			return -1;
		}
		buf_commit(&s->in, (size_t)n);
		/* A short read emptied the socket: no recv just to hear EAGAIN. */
		more = (size_t)n == READ_CHUNK;
		if (s->st == ST_REQUEST)
			judge_request(s);
		else
			take_frames(s);
	}
	return s->gone ? -1 : 0;
}

/* ---- events ---- */

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct ws_srv *s = arg;
	(void)fd;

	s->depth++;
	if (what & EV_WRITE)
		s->wr_armed = false;	/* not persistent: out of the set now */
	if (((what & EV_WRITE) && flush(s) < 0) || ((what & EV_READ) && read_some(s) < 0)) {
		leave(s);
		return;
	}
	if (s->out.len && !s->wr_armed)
		flush(s);	/* pongs, frames queued by the hooks */
	leave(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ws_srv *s = arg;
	char why[80];
	(void)fd; (void)what;

	s->depth++;
	snprintf(why, sizeof(why), "no upgrade request within %d s", UPGRADE_SECS);
	srv_gone(s, s->p.closing ? "closed" : why);
	leave(s);
}

/* What ws_srv_send_text and ws_srv_close left for now. */
static void on_pass(evutil_socket_t fd, short what, void *arg)
{
	struct ws_srv *s = arg;
	(void)fd; (void)what;

	s->depth++;
	if (s->owner_closed && s->st == ST_REQUEST)
		srv_gone(s, "closed");	/* before the upgrade: nothing to say goodbye on */
	else if (!s->gone && !s->wr_armed)
		flush(s);
	leave(s);
}

/* ---- the API ---- */

void ws_srv_hold(struct ws_srv *s, bool hold)
{
	if (s->gone)
		return;
	if (hold)
		event_del(s->rd);
	else
		event_add(s->rd, NULL);
}

void ws_srv_read(struct ws_srv *s)
{
	if (!s->gone)
		on_io(s->fd, EV_READ, s);
}

int ws_srv_adopt(struct ws_srv **out, struct ws_loop *l, int fd,
		 const struct ws_srv_handlers *h, void *arg)
{
	struct event_base *base = ws_loop_base(l);
	struct ws_srv *s = calloc(1, sizeof(*s));
	struct timeval tv = { UPGRADE_SECS, 0 };
	int one = 1;

	*out = NULL;
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->h = h;
	s->arg = arg;
	s->fd = fd;
	buf_init(&s->in, IN_MAX);
	buf_init(&s->out, 0);
	buf_init(&s->ends, 0);
	ws_peer_init(&s->p, &s->in, &s->out, NULL, NULL);	/* a server: no mask */
	s->rd = event_new(base, fd, EV_READ | EV_PERSIST, on_io, s);
	s->wr = event_new(base, fd, EV_WRITE, on_io, s);
	s->timer = evtimer_new(base, on_timer, s);
	s->pass = event_new(base, -1, 0, on_pass, s);
	if (!s->rd || !s->wr || !s->timer || !s->pass ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    event_add(s->rd, NULL) < 0 || event_add(s->timer, &tv) < 0) {
		close(fd);
		srv_free(s);	/* frees the events, pending ones too */
		return -ENOMEM;
	}
	/* Small messages go at once: a media message waits for no ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = s;
	return 0;
}

void ws_srv_rebind(struct ws_srv *s, const struct ws_srv_handlers *h, void *arg)
{
	s->h = h;
	s->arg = arg;
}

int ws_srv_send_text(struct ws_srv *s, const char *text, size_t len)
{
	uint64_t last;
	int rc;

	if (s->st != ST_OPEN || s->owner_closed)
		return -ENOTCONN;
	if ((rc = ws_peer_send(&s->p, WS_OP_TEXT, text, len)) < 0)
		return rc;
	last = s->out_done + s->out.len;	/* out: all not yet written since the 101 */
	(void)buf_append(&s->ends, &last, sizeof(last));	/* out of memory: sent, not counted */
	if (!s->wr_armed)
		event_active(s->pass, 0, 0);
	return 0;
}

size_t ws_srv_queued(const struct ws_srv *s)
{
	return s ? s->ends.len / sizeof(uint64_t) : 0;
}

void ws_srv_close(struct ws_srv *s)
{
	if (!s)
		return;
	s->owner_closed = true;
	if (s->gone) {
		if (!s->depth)
			srv_free(s);
		return;
	}
	if (s->st == ST_OPEN)
		queue_close(s, WS_CLOSE_NORMAL);	/* after what is queued */
	event_active(s->pass, 0, 0);
}
