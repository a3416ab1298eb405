/*
 * ws_server.c - websocket server connections on handed-over sockets. See
 * ws_server.h.
 *
 * The worker's libwebsockets context (ws_lws.c, made at the first Twilio
 * call) gets one more vhost, "srv", made on first use with no listening socket of its own
 * (CONTEXT_PORT_NO_LISTEN_SERVER): the supervisor listens and accepts, and
 * each socket it hands over is adopted into that vhost in HTTP mode, so
 * libwebsockets reads the upgrade request and answers it. The owner's
 * on_upgrade sees the request first (FILTER_PROTOCOL_CONNECTION) and may
 * refuse it: the client is answered 403, then the socket is closed.
 *
 * Never: frees a connection under a libwebsockets callback that may still
 * hold it (the struct goes on WSI_DESTROY, or at ws_srv_close() once the
 * socket is gone already), or blocks.
 */
#include "ws_server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "ws.h"
#include "ws_rx.h"

#define VHOST_NAME "srv"
#define RX_MAX (1u << 20)	/* far past any Twilio message */
#define SIG_HDR "x-twilio-signature:"

struct out_msg {
	struct out_msg *next;
	size_t len;
	unsigned char buf[];	/* LWS_PRE bytes of room, then the text */
};

struct ws_srv {
	struct ws_loop *loop;
	const struct ws_srv_handlers *h;
	void *arg;
	struct lws *wsi;		/* NULL once the socket is gone */
	struct out_msg *outq, *outq_tail;
	size_t queued;
	struct buf rx;
	bool open;			/* upgraded, not closing */
	bool owner_closed;		/* no hook runs any more */
	bool want_close;
	bool adopting;			/* inside lws_adopt: a failure is ours to report */
	bool gone;			/* libwebsockets let go of the socket */
	struct event *bye_ev;		/* the close, from the main loop (say_bye) */
};

static void srv_free(struct ws_srv *s)
{
	while (s->outq) {
		struct out_msg *m = s->outq;
		s->outq = m->next;
		free(m);
	}
	buf_free(&s->rx);
	if (s->bye_ev)
		event_free(s->bye_ev);
	free(s);
}

/* The socket is over: tell the owner once, or free if it is gone already. */
static void srv_gone(struct ws_srv *s, struct lws *wsi, const char *why)
{
	lws_set_opaque_user_data(wsi, NULL);
	s->wsi = NULL;
	s->open = false;
	s->gone = true;
	if (s->adopting)
		return;
	if (s->owner_closed) {
		srv_free(s);
		return;
	}
	if (s->h->on_close)
		s->h->on_close(s->arg, why);
}

/* The upgrade's path and signature, for the owner to judge. */
static int filter(struct ws_srv *s, struct lws *wsi)
{
	char path[512] = "", sig[128];
	int n = lws_hdr_custom_length(wsi, SIG_HDR, (int)strlen(SIG_HDR));
	bool have_sig = n > 0 && n < (int)sizeof(sig) &&
			lws_hdr_custom_copy(wsi, sig, sizeof(sig), SIG_HDR, (int)strlen(SIG_HDR)) > 0;

	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0)
		path[0] = '\0';
	if (s->owner_closed)
		return -1;
	if (!s->h->on_upgrade(s->arg, path, have_sig ? sig : NULL)) {
		/* A refusal a client can tell from a crash: 403 goes out before the close
		 * (the socket is fresh: the kernel takes it whole). */
		lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
		return -1;
	}
	return 0;
}

static int on_receive(struct ws_srv *s, struct lws *wsi, const void *in, size_t len)
{
	int rc = ws_rx_gather(&s->rx, wsi, in, len);

	if (rc <= 0)
		return rc;
	if (!s->owner_closed && s->h->on_message)
		s->h->on_message(s->arg, buf_str(&s->rx), s->rx.len, lws_frame_is_binary(wsi));
	buf_reset(&s->rx);
	return 0;
}

static int on_writeable(struct ws_srv *s, struct lws *wsi)
{
	struct out_msg *m = s->outq;

	if (!m) {
		if (!s->want_close)
			return 0;
		event_active(s->bye_ev, 0, 0);	/* all sent: the close, outside lws */
		return 0;
	}
	if (!(s->outq = m->next))
		s->outq_tail = NULL;
	s->queued--;
	int rc = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
	free(m);
	if (rc < 0)
		return -1;
	if (s->outq || s->want_close)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct ws_srv *s = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	(void)user;

	if (!s)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter(s, wsi);
	case LWS_CALLBACK_HTTP:
		return -1;	/* a plain request: this port only upgrades */
	case LWS_CALLBACK_ESTABLISHED:
		s->open = !s->owner_closed;
		if (s->outq || s->want_close)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return on_receive(s, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(s, wsi);
	case LWS_CALLBACK_CLOSED:
		srv_gone(s, wsi, "closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		srv_gone(s, wsi, "connection lost before the upgrade");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "vagent-srv", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/*
 * A polite close: lws 4.1 sends a close frame only when it closes the
 * socket itself, synchronously (close_via_role_protocol). Returning -1 from
 * a writeable callback, or its timeout kill, drops the socket without one.
 * So the close runs from the main loop, outside any lws callback, once the
 * queue is sent; lws then writes the frame and awaits the peer's.
 */
static void say_bye(evutil_socket_t fd, short what, void *arg)
{
	struct ws_srv *s = arg;
	struct ws_loop *l = s->loop;
	(void)fd; (void)what;

	if (!s->wsi || !s->open || s->outq)
		return;
	lws_close_reason(s->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
	s->open = false;
	/* May call back (and free s) right here: s is not touched after it. */
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
	ws_loop_kick(l);
}

/* The context's server vhost, made the first time a socket comes. */
static struct lws_vhost *srv_vhost(struct lws_context *ctx)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh = lws_get_vhost_by_name(ctx, VHOST_NAME);

	if (vh)
		return vh;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.vhost_name = VHOST_NAME;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBUV;
	return lws_create_vhost(ctx, &info);
}

int ws_srv_adopt(struct ws_srv **out, struct ws_loop *l, int fd,
		 const struct ws_srv_handlers *h, void *arg)
{
	struct lws_context *ctx = ws_loop_lws(l);
	struct lws_vhost *vh = ctx ? srv_vhost(ctx) : NULL;
	struct ws_srv *s = calloc(1, sizeof(*s));
	lws_adopt_desc_t ad;

	*out = NULL;
	if (!vh || !s) {
		free(s);
		close(fd);
		return -ENOMEM;
	}
	s->loop = l;
	s->h = h;
	s->arg = arg;
	buf_init(&s->rx, RX_MAX);
	if (!(s->bye_ev = event_new(ws_loop_base(l), -1, 0, say_bye, s))) {
		srv_free(s);
		close(fd);
		return -ENOMEM;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	memset(&ad, 0, sizeof(ad));
	ad.vh = vh;
	ad.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
	ad.fd.sockfd = fd;
	ad.opaque = s;
	/* On failure lws has closed fd; a callback may have run, s is not freed. */
	s->adopting = true;
	struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&ad);
	s->adopting = false;
	if (!wsi || s->gone) {
		srv_free(s);
		return -ENOMEM;
	}
	s->wsi = wsi;
	ws_loop_kick(l);
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
	struct out_msg *m;

	if (!s->wsi || s->want_close || s->owner_closed)
		return -ENOTCONN;
	if (!(m = malloc(sizeof(*m) + LWS_PRE + len)))
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	if (s->outq_tail)
		s->outq_tail->next = m;
	else
		s->outq = m;
	s->outq_tail = m;
	s->queued++;
	if (s->open) {
		lws_callback_on_writable(s->wsi);
		ws_loop_kick(s->loop);
	}
	return 0;
}

size_t ws_srv_queued(const struct ws_srv *s)
{
	return s ? s->queued : 0;
}

void ws_srv_close(struct ws_srv *s)
{
	if (!s)
		return;
	s->owner_closed = true;
	if (s->gone) {
		srv_free(s);
		return;
	}
	s->want_close = true;
	if (s->open && !s->outq) {
		event_active(s->bye_ev, 0, 0);
	} else if (s->open) {
		lws_callback_on_writable(s->wsi);
	} else {
		/* Not upgraded yet: nothing to say goodbye on. */
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	}
	ws_loop_kick(s->loop);
}
