/*
 * ws.h - websocket clients for the providers (STT, TTS, cloud agents).
 *
 * Owns: the provider websocket connections of one worker, spoken on the
 * worker's own libevent loop with direct non-blocking socket and TLS I/O
 * (ws.c says why not libwebsockets), and the lookup of their host names,
 * which never blocks that loop (ws_dns.h). Provider files keep only their
 * protocol: what to send, what a message means. The websocket server side
 * (ws_server.h) runs on the same libevent base (ws_loop_base).
 *
 * Threads: none of its own. Every hook runs on the worker's main loop;
 * the "_thread" names are from when a thread of its own served the
 * sockets and are kept so providers need no change. on_message_thread,
 * fill and the message hooks run right where the socket is serviced, so
 * they may call ws_open/ws_send_text/ws_close (which only queue) but never
 * ws_loop_free. on_wake_thread runs in the loop's next pass after
 * ws_loop_wake(). ws_open, ws_send_text and ws_close never call a hook.
 *
 * Lifetime: a connection is freed once both sides are done with it: the
 * owner called ws_close() and the socket is gone (on_gone was called).
 * After ws_close() only on_gone is called.
 */
#ifndef VG_WS_H
#define VG_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The longest path and query an upgrade may carry. Measured: libwebsockets
 * 4.1's client cuts the request line at 2,048 bytes and sends the rest as
 * garbage, so a longer URL is refused here rather than mangled there.
 */
#define WS_PATH_MAX 2000

struct event_base;
struct ssl_ctx_st;
struct ws_loop;
struct ws_conn;

struct ws_handlers {
	/* A whole message, as it arrives. true: also deliver it to on_message. */
	bool (*on_message_thread)(void *arg, const char *data, size_t len, bool binary);
	/* The socket may send: write one binary message of up to cap bytes. */
	size_t (*fill)(void *arg, uint8_t *buf, size_t cap);
	/* ws_loop_wake() was called and the connection is up. */
	void (*on_wake_thread)(void *arg);
	/*
	 * Asked after each ws_loop_poll() while the connection is open: true
	 * lets what comes next wait for the next ws_loop_poll() (no wake-up
	 * of its own); false, or no hook, reads it as it comes. A connection
	 * never waits unless ws_loop_poll() runs.
	 */
	bool (*may_wait)(void *arg);
	/*
	 * Asked at ws_loop_poll() of a connection that waits: true leaves its
	 * socket unread until the next poll, because nothing it may hold is
	 * needed before then. No hook: every poll reads it.
	 */
	bool (*may_skip)(void *arg);
	/* The rest, like all the above, on the main loop. */
	void (*on_open)(void *arg);
	void (*on_message)(void *arg, const char *data, size_t len, bool binary);
	/*
	 * The connection is over: refused (http_status set, reason from the
	 * library), dropped, or closed by the peer (code and reason of its
	 * close frame). Not called after ws_close().
	 */
	void (*on_close)(void *arg, int code, int http_status, const char *reason);
	/*
	 * The connection is released and no hook will run for it again, even
	 * after ws_close(): the moment a provider may free what its hooks use.
	 */
	void (*on_gone)(void *arg);
};

int ws_loop_new(struct ws_loop **out, struct event_base *base, struct ssl_ctx_st *tls);
/* Closes whatever is still open, calling no hook; NULL is fine. */
void ws_loop_free(struct ws_loop *l);

/*
 * The resolver file for the websocket hosts the loop looks up (NULL or
 * "": /etc/resolv.conf); before the first ws_open. Names resolve without
 * blocking the loop; one that does not within a few seconds ends its
 * connection through on_close, the reason naming the host. 0 or -ENOMEM.
 */
int ws_loop_resolver(struct ws_loop *l, const char *resolv_conf);

/* The libevent base the loop delivers its events on. */
struct event_base *ws_loop_base(struct ws_loop *l);

/*
 * A fill() source may have data, or on_wake_thread is wanted: the loop's
 * next pass calls on_wake_thread for each connection on its way up or
 * open, then takes fill() of each open one while its socket accepts
 * bytes. Cheap: no syscall, no wake-up of its own.
 */
void ws_loop_wake(struct ws_loop *l);

/*
 * Reads what came for the connections whose may_wait() said yes, then asks
 * each open one again. Called on the call's 20 ms tick: a reply's audio
 * that arrives between ticks is played on a tick anyway, so reading it on
 * the tick costs no latency and saves the wake-up it would have made.
 * Runs hooks, like a socket event.
 */
void ws_loop_poll(struct ws_loop *l);

/*
 * Opens url (ws:// or wss://, any length) with extra handshake headers
 * ("Name: value", NULL-terminated, at most 8; copied, and wiped when the
 * connection is freed). Returns at once; on_open or on_close follows, from
 * the main loop. Never calls a handler itself: -EINVAL (not a ws/wss URL),
 * -ENAMETOOLONG (path and query over WS_PATH_MAX), -E2BIG (too many
 * headers) or -ENOMEM, with nothing left allocated.
 */
int ws_open(struct ws_conn **out, struct ws_loop *l, const char *url,
	    const char *const *headers, const struct ws_handlers *h, void *arg);

/* Queues a text message (copied). 0, or -ENOTCONN once closing. */
int ws_send_text(struct ws_conn *c, const char *text, size_t len);

/* Closes (a normal close frame) and forgets; NULL is fine. */
void ws_close(struct ws_conn *c);

#endif
