/*
 * ws.h - websocket clients for the providers (STT, TTS, cloud agents).
 *
 * Owns: one libwebsockets context per worker, served by its own thread
 * (Debian's libwebsockets has no libevent loop), and the crossing between
 * that thread and the worker's libevent loop. Provider files keep only
 * their protocol: what to send, what a message means.
 *
 * Threads: everything a provider asks for (open, send, close) is queued and
 * the lws thread is woken with lws_cancel_service(); everything that comes
 * back (open, message, close) is queued and the main loop is woken with an
 * eventfd. Two hooks run on the lws thread itself, for the audio paths
 * that must not wait for the main loop: on_message_thread (TTS audio into
 * the agent ring) and fill (caller audio from the ring to STT).
 *
 * Lifetime: a connection is freed by the main thread once both sides are
 * done with it: the owner called ws_close() and the lws thread has said
 * the socket is gone. After ws_close() only on_gone is called.
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
	/* lws thread: a whole message. true: also deliver it to on_message. */
	bool (*on_message_thread)(void *arg, const char *data, size_t len, bool binary);
	/* lws thread: may send; write one binary message of up to cap bytes. */
	size_t (*fill)(void *arg, uint8_t *buf, size_t cap);
	/* lws thread: ws_loop_wake() was called and the connection is up. */
	void (*on_wake_thread)(void *arg);
	/* Main thread. */
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
/* Closes whatever is still open and stops the thread; NULL is fine. */
void ws_loop_free(struct ws_loop *l);

/* The libevent base the loop delivers its events on. */
struct event_base *ws_loop_base(struct ws_loop *l);

/* Tells the lws thread that a fill() source may have data. Cheap. */
void ws_loop_wake(struct ws_loop *l);

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
