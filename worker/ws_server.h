/*
 * ws_server.h - the server side of a websocket on an accepted socket.
 *
 * Owns: a socket the supervisor accepted and handed over, from the HTTP
 * upgrade to the close: the handshake (libwebsockets adopts the socket on
 * a server vhost of the worker's own context, ws.h), whole messages in,
 * queued text messages out, the close. Serves on the worker's loop like
 * the provider clients; the hooks run on the main loop, from inside the
 * socket's service, so they may send and close but never free the loop.
 *
 * Lifetime: the owner calls ws_srv_close() once; no hook runs after it,
 * and the memory goes once libwebsockets has let go of the socket.
 */
#ifndef VG_WS_SERVER_H
#define VG_WS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct ws_loop;
struct ws_srv;

struct ws_srv_handlers {
	/*
	 * The upgrade request: its path and the X-Twilio-Signature header
	 * (NULL if absent). false refuses it (the socket is closed).
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

/* Queues a text message (copied). 0, -ENOTCONN (not open or closing), -ENOMEM. */
int ws_srv_send_text(struct ws_srv *s, const char *text, size_t len);

/* Messages queued but not yet handed to the socket. */
size_t ws_srv_queued(const struct ws_srv *s);

/* Sends what is queued, then a normal close; forgets s. NULL is fine. */
void ws_srv_close(struct ws_srv *s);

#endif
