/*
 * ws_handshake.h - the websocket client's URL and HTTP upgrade (RFC 6455
 * section 4), as pure functions.
 *
 * Owns: splitting a ws:// or wss:// URL into host, port and path; writing
 * the upgrade request; judging the server's response head (101, Upgrade,
 * Connection and a Sec-WebSocket-Accept that answers our key). No I/O:
 * ws.c feeds it the bytes, tests/unit/test_ws.c checks it on its own.
 *
 * Why not libwebsockets: see ws.c.
 *
 * Must never: read past the bytes given, accept a response head longer
 * than WS_HS_HEAD_MAX (a peer that never ends its head gets a failure, not
 * our memory), or put a header with a line break into the request.
 */
#ifndef VG_WS_HANDSHAKE_H
#define VG_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

/* The longest response head (status line and headers) taken. */
#define WS_HS_HEAD_MAX 8192
/* A Sec-WebSocket-Key and a Sec-WebSocket-Accept, base64, with the NUL. */
#define WS_HS_KEY_LEN 25
#define WS_HS_ACCEPT_LEN 29

struct ws_url {
	char *mem;		/* one allocation holding host and path */
	const char *host;	/* an IPv6 address without its brackets */
	const char *path;	/* from its '/', query included */
	int port;
	bool tls;		/* wss:// (or https://) */
};

/*
 * Splits url (ws, wss, http or https; any length). 0, -EINVAL (not such a
 * URL), -ENAMETOOLONG (path and query over path_max bytes), -ENOMEM; on
 * failure nothing is left allocated.
 */
int ws_url_parse(struct ws_url *u, const char *url, size_t path_max);

/* NULL-safe; u is then empty. */
void ws_url_free(struct ws_url *u);

/* A key from 16 random bytes. */
void ws_hs_key(const uint8_t raw[16], char key[WS_HS_KEY_LEN]);

/* What the server must answer to key. */
void ws_hs_accept(const char *key, char accept[WS_HS_ACCEPT_LEN]);

/*
 * Appends the request: GET path, Host (with the port unless the scheme's
 * own), the upgrade headers, key, and the n extra "Name: value" headers
 * (one without a colon, or with a line break, is left out). 0 or -errno.
 */
int ws_hs_request(struct buf *out, const struct ws_url *u, char *const *headers, int n,
		  const char *key);

enum {
	WS_HS_BAD = -1,		/* not a websocket upgrade: why says how */
	WS_HS_MORE = 0,		/* the head is not all here yet */
	WS_HS_OK = 1,		/* upgraded; *used bytes were the head */
	WS_HS_REFUSED = 2,	/* an HTTP answer other than 101: *status */
};

/*
 * Judges the response head at the front of p[0..n) against key. *status
 * is the HTTP status once the status line is read (0 before).
 */
int ws_hs_response(const char *p, size_t n, const char *key, int *status, size_t *used,
		   char *why, size_t whylen);

#endif
