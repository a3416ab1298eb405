/*
 * ws_handshake.c - URL, upgrade request and response. See ws_handshake.h.
 */
#include "ws_handshake.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/base64.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static int scheme(const char *url, size_t *len, bool *tls)
{
	static const struct { const char *name; bool tls; } known[] = {
		{ "ws://", false }, { "wss://", true }, { "http://", false }, { "https://", true },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (!strncmp(url, known[i].name, strlen(known[i].name))) {
			*len = strlen(known[i].name);
			*tls = known[i].tls;
			return 0;
		}
	}
	return -EINVAL;
}

/* "host", "host:port", "[v6]" or "[v6]:port" of length n; *port stays if none. */
static int authority(const char *a, size_t n, char *host, int *port)
{
	const char *end = a + n, *colon;

	if (n && a[0] == '[') {
		const char *rb = memchr(a, ']', n);
		if (!rb || rb == a + 1)
			return -EINVAL;
		memcpy(host, a + 1, (size_t)(rb - a - 1));
		host[rb - a - 1] = '\0';
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return -EINVAL;
	} else {
		colon = memchr(a, ':', n);
		size_t hl = colon ? (size_t)(colon - a) : n;
		if (!hl || memchr(a, '@', n))
			return -EINVAL;
		memcpy(host, a, hl);
		host[hl] = '\0';
	}
	if (colon) {
		long p = 0;
		if (colon + 1 == end)
			return -EINVAL;
		for (const char *q = colon + 1; q < end; q++) {
			if (!isdigit((unsigned char)*q) || (p = p * 10 + (*q - '0')) > 65535)
				return -EINVAL;
		}
		if (p == 0)
			return -EINVAL;
		*port = (int)p;
	}
	return 0;
}

int ws_url_parse(struct ws_url *u, const char *url, size_t path_max)
{
	size_t skip, alen, plen;
	const char *a, *rest;
	int rc;

	memset(u, 0, sizeof(*u));
	if (scheme(url, &skip, &u->tls) < 0)
		return -EINVAL;
	a = url + skip;
	alen = strcspn(a, "/?#");
	rest = a + alen;
	plen = strcspn(rest, "#");
	if (plen + (rest[0] != '/') > path_max)
		return -ENAMETOOLONG;
	/* Host, NUL, '/', path, NUL: never longer than the URL plus three. */
	if (!(u->mem = malloc(alen + plen + 3)))
		return -ENOMEM;
	u->port = u->tls ? 443 : 80;
	if ((rc = authority(a, alen, u->mem, &u->port)) < 0) {
		ws_url_free(u);
		return rc;
	}
	u->host = u->mem;
	char *path = u->mem + strlen(u->mem) + 1;
	size_t lead = rest[0] != '/';
	path[0] = '/';
	memcpy(path + lead, rest, plen);
	path[lead + plen] = '\0';
	u->path = path;
	return 0;
}

void ws_url_free(struct ws_url *u)
{
	if (!u)
		return;
	free(u->mem);
	memset(u, 0, sizeof(*u));
}

void ws_hs_key(const uint8_t raw[16], char key[WS_HS_KEY_LEN])
{
	base64_encode(raw, 16, key);
}

void ws_hs_accept(const char *key, char accept[WS_HS_ACCEPT_LEN])
{
	char in[64];
	uint8_t md[SHA_DIGEST_LENGTH];
	int n = snprintf(in, sizeof(in), "%s%s", key, WS_GUID);

	SHA1((const unsigned char *)in, (size_t)n, md);
	base64_encode(md, sizeof(md), accept);
}

int ws_hs_request(struct buf *out, const struct ws_url *u, char *const *headers, int n,
		  const char *key)
{
	bool v6 = strchr(u->host, ':') != NULL;
	int rc = buf_printf(out, "GET %s HTTP/1.1\r\nHost: %s%s%s", u->path, v6 ? "[" : "",
			    u->host, v6 ? "]" : "");

	if (rc == 0 && u->port != (u->tls ? 443 : 80))
		rc = buf_printf(out, ":%d", u->port);
	if (rc == 0)
		rc = buf_printf(out, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
				"User-Agent: vagent/" VAGENT_VERSION "\r\n", key);
	for (int i = 0; rc == 0 && i < n; i++) {
		if (!strchr(headers[i], ':') || strpbrk(headers[i], "\r\n"))
			continue;
		rc = buf_printf(out, "%s\r\n", headers[i]);
	}
	return rc == 0 ? buf_append_str(out, "\r\n") : rc;
}

/* The value of header name in head (lines after the status line), trimmed. */
static bool header(const char *head, const char *end, const char *name, const char **v,
		   size_t *vlen)
{
	size_t nl = strlen(name);

	for (const char *line = head; line < end;) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
			const char *s = line + nl + 1, *e = eol;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*v = s;
			*vlen = (size_t)(e - s);
			return true;
		}
		line = eol + 2;
	}
	return false;
}

static bool header_is(const char *head, const char *end, const char *name, const char *want)
{
	const char *v;
	size_t n;

	return header(head, end, name, &v, &n) && n == strlen(want) && !strncasecmp(v, want, n);
}

/* Connection is a list of tokens; one of them must be "upgrade". */
static bool connection_upgrade(const char *head, const char *end)
{
	const char *v;
	size_t n;

	if (!header(head, end, "Connection", &v, &n))
		return false;
	for (size_t i = 0; i + 7 <= n; i++) {
		if (!strncasecmp(v + i, "upgrade", 7) && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
		    (i + 7 == n || v[i + 7] == ',' || v[i + 7] == ' '))
			return true;
	}
	return false;
}

static int bad(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "websocket upgrade failed: %s", what);
	return WS_HS_BAD;
}

/* "HTTP/1.x NNN reason": the status, and the reason's printable part in why. */
static int status_line(const char *p, const char *eol, int *status, char *why, size_t whylen)
{
	size_t n = (size_t)(eol - p), i;
	char reason[64];

	if (n < 12 || strncmp(p, "HTTP/1.", 7) || p[8] != ' ' || !isdigit((unsigned char)p[9]) ||
	    !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]) ||
	    (n > 12 && p[12] != ' '))
		return bad(why, whylen, "not an HTTP response");
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	for (i = 0; 13 + i < n && i + 1 < sizeof(reason); i++)
		reason[i] = isprint((unsigned char)p[13 + i]) ? p[13 + i] : '?';
	reason[i] = '\0';
	snprintf(why, whylen, "websocket upgrade refused: HTTP %d%s%s", *status, i ? " " : "",
		 reason);
	return 0;
}

int ws_hs_response(const char *p, size_t n, const char *key, int *status, size_t *used,
		   char *why, size_t whylen)
{
	size_t look = n < WS_HS_HEAD_MAX ? n : WS_HS_HEAD_MAX;
	const char *end = memmem(p, look, "\r\n\r\n", 4);
	const char *eol = memmem(p, look, "\r\n", 2);
	char accept[WS_HS_ACCEPT_LEN];
	const char *v;
	size_t vlen;

	*status = 0;
	*used = 0;
	if (!eol || !end) {
		if (n >= WS_HS_HEAD_MAX)
			return bad(why, whylen, "response head too long");
		return WS_HS_MORE;
	}
	if (status_line(p, eol, status, why, whylen) < 0)
		return WS_HS_BAD;
	*used = (size_t)(end - p) + 4;
	if (*status != 101)
		return WS_HS_REFUSED;
	end += 2;	/* the last header's CRLF ends it */
	ws_hs_accept(key, accept);
	if (!header_is(eol + 2, end, "Upgrade", "websocket"))
		return bad(why, whylen, "no \"Upgrade: websocket\"");
	if (!connection_upgrade(eol + 2, end))
		return bad(why, whylen, "no \"Connection: Upgrade\"");
	/* base64: compared case and all. */
	if (!header(eol + 2, end, "Sec-WebSocket-Accept", &v, &vlen) ||
	    vlen != strlen(accept) || memcmp(v, accept, vlen))
		return bad(why, whylen, "wrong Sec-WebSocket-Accept");
	if (header(eol + 2, end, "Sec-WebSocket-Extensions", &v, &vlen) && vlen)
		return bad(why, whylen, "an extension nobody asked for");
	if (header(eol + 2, end, "Sec-WebSocket-Protocol", &v, &vlen) && vlen)
		return bad(why, whylen, "a subprotocol nobody asked for");
	snprintf(why, whylen, "upgraded");
	return WS_HS_OK;
}

/* ---- the server's side ---- */

static int bad_req(struct ws_hs_req *r, int status, char *why, size_t whylen, const char *what)
{
	r->status = status;
	snprintf(why, whylen, "bad websocket upgrade request: %s", what);
	return WS_HS_BAD;
}

/* "GET target HTTP/1.1": the target's path, query cut off. */
static int request_line(const char *p, const char *eol, struct ws_hs_req *r, char *why,
			size_t whylen)
{
	size_t n = (size_t)(eol - p);
	const char *sp, *q;

	if (n < 14 || strncmp(p, "GET /", 5))
		return bad_req(r, 400, why, whylen, "not a GET of a path");
	if (!(sp = memchr(p + 4, ' ', n - 4)) || (size_t)(eol - sp) != 9 ||
	    strncmp(sp, " HTTP/1.1", 9))
		return bad_req(r, 400, why, whylen, "not HTTP/1.1");
	q = memchr(p + 4, '?', (size_t)(sp - p - 4));
	n = (size_t)((q ? q : sp) - (p + 4));
	if (n >= sizeof(r->path))
		return bad_req(r, 400, why, whylen, "path too long");
	for (size_t i = 0; i < n; i++) {
		if (!isgraph((unsigned char)p[4 + i]))
			return bad_req(r, 400, why, whylen, "a control byte in the path");
	}
	memcpy(r->path, p + 4, n);
	r->path[n] = '\0';
	return 0;
}

/* A key is the base64 of 16 bytes: 22 characters and "==". */
static bool key_ok(const char *v, size_t n)
{
	if (n != WS_HS_KEY_LEN - 1 || v[22] != '=' || v[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++) {
		if (!isalnum((unsigned char)v[i]) && v[i] != '+' && v[i] != '/')
			return false;
	}
	return true;
}

/* Upgrade is a list of protocols; one of them must be "websocket". */
static bool upgrade_websocket(const char *head, const char *end)
{
	const char *v;
	size_t n;

	if (!header(head, end, "Upgrade", &v, &n))
		return false;
	for (size_t i = 0; i + 9 <= n; i++) {
		if (!strncasecmp(v + i, "websocket", 9) && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
		    (i + 9 == n || v[i + 9] == ',' || v[i + 9] == ' '))
			return true;
	}
	return false;
}

int ws_hs_request_parse(const char *p, size_t n, const char *extra, struct ws_hs_req *r,
			size_t *used, char *why, size_t whylen)
{
	size_t look = n < WS_HS_HEAD_MAX ? n : WS_HS_HEAD_MAX;
	const char *end = memmem(p, look, "\r\n\r\n", 4);
	const char *eol = memmem(p, look, "\r\n", 2);
	const char *v;
	size_t vlen;

	memset(r, 0, sizeof(*r));
	*used = 0;
	if (!eol || !end) {
		if (n >= WS_HS_HEAD_MAX)
			return bad_req(r, 400, why, whylen, "head too long");
		return WS_HS_MORE;
	}
	if (request_line(p, eol, r, why, whylen) < 0)
		return WS_HS_BAD;
	end += 2;	/* the last header's CRLF ends it */
	if (memchr(p, '\0', (size_t)(end - p)))
		return bad_req(r, 400, why, whylen, "a NUL in the head");
	if (!upgrade_websocket(eol + 2, end))
		return bad_req(r, 400, why, whylen, "no \"Upgrade: websocket\"");
	if (!connection_upgrade(eol + 2, end))
		return bad_req(r, 400, why, whylen, "no \"Connection: Upgrade\"");
	if (!header_is(eol + 2, end, "Sec-WebSocket-Version", "13"))
		return bad_req(r, 426, why, whylen, "Sec-WebSocket-Version not 13");
	if (!header(eol + 2, end, "Sec-WebSocket-Key", &v, &vlen) || !key_ok(v, vlen))
		return bad_req(r, 400, why, whylen, "no valid Sec-WebSocket-Key");
	memcpy(r->key, v, vlen);
	r->key[vlen] = '\0';
	if (extra && header(eol + 2, end, extra, &v, &vlen) && vlen < sizeof(r->extra)) {
		memcpy(r->extra, v, vlen);
		r->extra[vlen] = '\0';
		r->has_extra = true;
	}
	*used = (size_t)(end - p) + 2;
	snprintf(why, whylen, "upgraded");
	return WS_HS_OK;
}

int ws_hs_accept_response(struct buf *out, const char *key)
{
	char accept[WS_HS_ACCEPT_LEN];

	ws_hs_accept(key, accept);
	return buf_printf(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
}

int ws_hs_refusal(struct buf *out, int status)
{
	const char *reason = status == 403 ? "Forbidden" : status == 426 ? "Upgrade Required" :
			     "Bad Request";

	return buf_printf(out, "HTTP/1.1 %d %s\r\n%sConnection: close\r\nContent-Length: 0\r\n\r\n",
			  status, reason, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "");
}
