/*
 * ws_server.h - the server side of a websocket on an accepted socket.
 *
 * Owns: a plain TCP socket the supervisor accepted and handed over (TLS
 * ends at the proxy in front), from the HTTP upgrade to the close: the
 * handshake (a refusal answers 403, a malformed request 400), whole
 * messages in (pings answered, fragments joined, over 4 MiB closed with
 * 1009), queued text messages out, the close. RFC 6455 spoken on the
 * worker's libevent loop (ws_loop_base) like the provider clients (ws.h);
 * the hooks run on the main loop, from the socket's events, so they may
 * send and close but never free the loop. No hook runs from an API call
 * but ws_srv_read().
 *
 * Lifetime: the owner calls ws_srv_close() once; no hook runs after it,
 * and the memory goes once the socket is done (its close answered, or
 * 2 s gone by).
 */
#ifndef VG_WS_SERVER_H
#define VG_WS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct ws_loop;
struct ws_srv;

struct ws_srv_handlers {
	/*
	 * The upgrade request: its path (without the query) and the
	 * X-Twilio-Signature header (NULL if absent). false refuses it: 403,
	 * then the socket is closed.
	 */
	bool (*on_upgrade)(void *arg, const char *path, const char *signature);
	/* A whole message. */
	void (*on_message)(void *arg, const char *data, size_t len, bool binary);
	/* The socket is over (peer's close, error, refused upgrade). Not after ws_srv_close(). */
	void (*on_close)(void *arg, const char *why);
};

/*
 * Takes fd (an accepted TCP socket; closed on failure too) and serves the
 * upgrade on it. 0 or -errno (-ENOMEM).
 */
int ws_srv_adopt(struct ws_srv **out, struct ws_loop *l, int fd,
		 const struct ws_srv_handlers *h, void *arg);

/*
 * Path dispatch: from inside on_upgrade, another owner takes the
 * connection (its handlers and arg serve everything after the upgrade).
 */
void ws_srv_rebind(struct ws_srv *s, const struct ws_srv_handlers *h, void *arg);

/*
 * Queues a text message (copied); the loop's next pass sends what is
 * queued in one write. 0, -ENOTCONN (not open or closing), -ENOMEM.
 */
int ws_srv_send_text(struct ws_srv *s, const char *text, size_t len);

/* Text messages queued but not yet wholly handed to the kernel. */
size_t ws_srv_queued(const struct ws_srv *s);

/*
 * Reading in batches (wrk_call.c): hold stops watching the socket for
 * what comes in (the kernel keeps it), release watches it again.
 */
void ws_srv_hold(struct ws_srv *s, bool hold);

/*
 * Reads what the socket has now and runs the hooks for it, on_close
 * included, as the socket's own event would.
 */
void ws_srv_read(struct ws_srv *s);

/* Sends what is queued, then a normal close; forgets s. NULL is fine. */
void ws_srv_close(struct ws_srv *s);

#endif
