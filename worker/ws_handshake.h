/*
 * ws_handshake.h - the websocket HTTP upgrade (RFC 6455 section 4), both
 * sides, as pure functions.
 *
 * Owns: the client's: splitting a ws:// or wss:// URL into host, port and
 * path; writing the upgrade request; judging the server's response head
 * (101, Upgrade, Connection and a Sec-WebSocket-Accept that answers our
 * key). The server's (ws_server.c): reading a client's request head (GET,
 * the path, Upgrade, Connection, Sec-WebSocket-Version 13 and -Key, one
 * header the caller names) and writing the 101 or the refusal. No I/O:
 * ws.c and ws_server.c feed it the bytes, tests/unit/test_ws_frame.c
 * checks it on its own.
 *
 * Why not libwebsockets: see ws.c.
 *
 * Must never: read past the bytes given, accept a head longer than
 * WS_HS_HEAD_MAX (a peer that never ends its head gets a failure, not
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

/* The longest request path (query cut off) a server takes, with the NUL. */
#define WS_HS_PATH_MAX 1024
/* The longest value of the request's extra header kept, with the NUL. */
#define WS_HS_EXTRA_MAX 128

struct ws_hs_req {
	char path[WS_HS_PATH_MAX];	/* the request target up to its '?' */
	char key[WS_HS_KEY_LEN];	/* Sec-WebSocket-Key */
	char extra[WS_HS_EXTRA_MAX];	/* the named header's value, trimmed */
	bool has_extra;			/* false: absent, or too long to keep */
	int status;			/* WS_HS_BAD: the HTTP status to answer */
};

/*
 * Judges a client's upgrade request head at the front of p[0..n):
 * WS_HS_MORE, WS_HS_OK (*used bytes were the head; r filled) or WS_HS_BAD
 * (r->status 400, or 426 for a version other than 13; why says how). A
 * head not ended within WS_HS_HEAD_MAX bytes is bad. extra: the header
 * whose value goes into r->extra (NULL: none).
 */
int ws_hs_request_parse(const char *p, size_t n, const char *extra, struct ws_hs_req *r,
			size_t *used, char *why, size_t whylen);

/* Appends the 101 answering key. 0 or -errno. */
int ws_hs_accept_response(struct buf *out, const char *key);

/*
 * Appends a refusal with status (400, 403, 426: a 426 names the version
 * we speak) and Connection: close, no body. 0 or -errno.
 */
int ws_hs_refusal(struct buf *out, int status);

#endif
