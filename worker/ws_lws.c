/*
 * ws_lws.c - libwebsockets on the worker's own loop. See ws_lws.h.
 *
 * Debian's libwebsockets 4.1 has neither a libevent loop nor external poll
 * (the ADD/DEL_POLL_FD callbacks are compiled out), so it runs on a libuv
 * loop of ours that is embedded in the worker's libevent loop the way
 * libuv documents for embedding: libevent watches the loop's epoll fd
 * (uv_backend_fd) and a timer at uv_backend_timeout(), and either runs
 * uv_run(UV_RUN_NOWAIT). One thread, no locks, no wake-ups of our own.
 *
 * A watcher changed outside uv_run() (lws_callback_on_writable, a new
 * socket) reaches the epoll set only in the next uv_run(), so any such
 * change asks for a pass at once (ws_lws_kick(): a zero timer, no
 * syscall).
 */
#include "ws_lws.h"

#include <errno.h>
#include <event2/event.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../common/log.h"

#define WS_FD_LIMIT 64		/* lws's own pipe and a few sockets, with room */
#define TEARDOWN_PASSES 1000	/* libuv closes asynchronously: passes to let it */

struct ws_lws {
	struct lws_context *ctx;	/* NULLed by lws once wholly destroyed */
	uv_loop_t uv;
	struct event *io;		/* the libuv loop's epoll fd is readable */
	struct event *tick;		/* libuv's next timeout, or 0: a pass is due */
	int depth;			/* > 0 inside a pass */
	bool dirty;			/* a watcher changed since the last uv_run() */
};

static void rearm(struct ws_lws *e)
{
	int ms = e->dirty ? 0 : uv_backend_timeout(&e->uv);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms < 0)
		event_del(e->tick);
	else
		event_add(e->tick, &tv);
}

void ws_lws_kick(struct ws_lws *e)
{
	e->dirty = true;
	if (!e->depth)
		rearm(e);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct ws_lws *e = arg;
	(void)fd; (void)what;

	e->depth++;
	e->dirty = false;
	uv_run(&e->uv, UV_RUN_NOWAIT);
	e->depth--;
	rearm(e);
}

/* The context's own protocol: the server vhost (ws_server.c) has its own. */
static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	(void)wsi; (void)reason; (void)user; (void)in; (void)len;
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "vagent", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int ws_lws_new(struct ws_lws **out, struct event_base *base, struct ssl_ctx_st *tls)
{
	struct lws_context_creation_info info;
	struct ws_lws *e = calloc(1, sizeof(*e));
	void *loops[1];

	*out = NULL;
	if (!e)
		return -ENOMEM;
	if (uv_loop_init(&e->uv) < 0) {
		free(e);
		return -ENOMEM;
	}
	loops[0] = &e->uv;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = loops;
	info.pcontext = &e->ctx;
	info.provided_client_ssl_ctx = tls;	/* NULL: lws builds its own */
	/*
	 * A worker holds a handful of sockets. By default lws sizes its fd
	 * tables by the process limit (20,000 fds: 320 kB, all written at
	 * creation, private to each worker).
	 */
	info.fd_limit_per_thread = WS_FD_LIMIT;
	e->ctx = lws_create_context(&info);
	e->io = event_new(base, uv_backend_fd(&e->uv), EV_READ | EV_PERSIST, on_ready, e);
	e->tick = evtimer_new(base, on_ready, e);
	if (!e->ctx || !e->io || !e->tick || event_add(e->io, NULL) < 0) {
		ws_lws_free(e);
		return -ENOMEM;
	}
	ws_lws_kick(e);	/* lws has start-up work of its own queued */
	*out = e;
	return 0;
}

void ws_lws_free(struct ws_lws *e)
{
	if (!e)
		return;
	e->depth++;
	/*
	 * lws 4.1 on a foreign libuv loop: the first destroy closes every
	 * socket and its own handles, which libuv finishes on the loop; the
	 * second, once they are closed, frees the context (and NULLs e->ctx).
	 */
	if (e->ctx)
		lws_context_destroy(e->ctx);
	for (int i = 0; i < TEARDOWN_PASSES && uv_run(&e->uv, UV_RUN_NOWAIT); i++)
		;
	if (e->ctx)
		lws_context_destroy(e->ctx);
	if (e->ctx)
		log_error("ws", NULL, "libwebsockets did not let go of its loop");
	else if (uv_loop_close(&e->uv) < 0)
		log_error("ws", NULL, "libuv handles left open at exit");
	if (e->io)
		event_free(e->io);
	if (e->tick)
		event_free(e->tick);
	free(e);
}

struct lws_context *ws_lws_context(struct ws_lws *e)
{
	return e->ctx;
}
