/*
 * api_session.c - the dispatch board's logins: POST /board/login with the
 * api key from a form, a session cookie back, POST /board/logout.
 *
 * Owns: the table of sessions in struct api (a random token and when it
 * ends; API_SESSIONS of them, the oldest given up for a new login), the
 * cookie, and the check that a request carries a live session.
 *
 * Why a cookie and not the key in the page: the key never reaches the
 * page's script or a URL (history, logs, Referer); the browser holds only
 * a token that ends after SESSION_TTL_S or at logout, HttpOnly (script
 * cannot read it) and SameSite=Strict (no other site's request carries
 * it). Secure is added when the browser says it is on https (its Origin),
 * which is the case behind a TLS-terminating proxy; the proxy must pass
 * the Host header through unchanged (api_same_origin()).
 *
 * Sessions live in this process's memory only: a reload (a new api) or a
 * restart asks everyone to log in again. Never: log a token or a key.
 */
#include "api.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>

#include "../../common/log.h"
#include "../../common/vg_time.h"

#define COOKIE "vagent_session"
#define SESSION_TTL_S (12 * 3600)
#define LOGIN_BODY_MAX 4096

static const char LOGIN_FAILED[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>vagent board: log in</title>"
	"<link rel=\"stylesheet\" href=\"/board/board.css\"></head>\n"
	"<body class=\"login\"><main><h1>Dispatch board</h1>"
	"<p class=\"error\">That key is not right.</p>"
	"<p><a href=\"/board/login\">Try again</a></p></main></body></html>\n";

/* The token the request's Cookie header holds, or false. */
static bool cookie_token(struct evhttp_request *req, char out[API_TOKEN_HEX + 1])
{
	const char *c = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	size_t klen = strlen(COOKIE);

	while (c && *c) {
		while (*c == ' ' || *c == ';')
			c++;
		size_t n = strcspn(c, ";");
		if (n == klen + 1 + API_TOKEN_HEX && !strncmp(c, COOKIE "=", klen + 1)) {
			memcpy(out, c + klen + 1, API_TOKEN_HEX);
			out[API_TOKEN_HEX] = '\0';
			return strspn(out, "0123456789abcdef") == API_TOKEN_HEX;
		}
		c += n;
	}
	return false;
}

/* The live session holding token; every slot is compared in full. */
static struct api_session *find(struct api *a, const char *token)
{
	struct api_session *hit = NULL;
	int64_t now = mono_ns();

	for (int i = 0; i < API_SESSIONS; i++) {
		struct api_session *s = &a->sessions[i];
		unsigned diff = 0;
		for (int k = 0; k < API_TOKEN_HEX; k++)
			diff |= (unsigned char)s->token[k] ^ (unsigned char)token[k];
		if (!diff && s->token[0] && s->expires_ns > now)
			hit = s;
	}
	return hit;
}

bool api_session_ok(struct api *a, struct evhttp_request *req)
{
	char token[API_TOKEN_HEX + 1];

	return cookie_token(req, token) && find(a, token) != NULL;
}

/* A new session's slot: a free or ended one, else the oldest. */
static struct api_session *slot_for_new(struct api *a)
{
	struct api_session *best = &a->sessions[0];
	int64_t now = mono_ns();

	for (int i = 0; i < API_SESSIONS; i++) {
		struct api_session *s = &a->sessions[i];
		if (!s->token[0] || s->expires_ns <= now)
			return s;
		if (s->expires_ns < best->expires_ns)
			best = s;
	}
	return best;
}

static int new_session(struct api *a, char token[API_TOKEN_HEX + 1])
{
	unsigned char rnd[API_TOKEN_HEX / 2];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EAGAIN;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	struct api_session *s = slot_for_new(a);
	memcpy(s->token, token, API_TOKEN_HEX + 1);
	s->expires_ns = mono_ns() + (int64_t)SESSION_TTL_S * NS_PER_S;
	return 0;
}

static void set_cookie(struct evhttp_request *req, const char *token, int max_age)
{
	const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
	bool tls = origin && !strncmp(origin, "https://", 8);
	char v[256];

	snprintf(v, sizeof(v), COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d%s",
		 token, max_age, tls ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", v);
}

static void redirect(struct api *a, struct evhttp_request *req, const char *to, int64_t t0)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", to);
	api_send(a, req, 303, NULL);
	api_count(a, API_EP_BOARD, 303, t0);
}

static void refuse(struct api *a, struct evhttp_request *req, int code, const char *why,
		   int64_t t0)
{
	char peer[64];

	log_warn("api", NULL, "POST /board/login from %s: %d %s",
		 api_peer(req, peer, sizeof(peer)), code, why);
	api_send_bytes(a, req, code, "text/html; charset=utf-8", LOGIN_FAILED,
		       sizeof(LOGIN_FAILED) - 1, API_EP_BOARD, t0);
}

/* The form's "key" field, decoded, into out; false if there is none. */
static bool form_key(struct evhttp_request *req, char *out, size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char body[LOGIN_BODY_MAX + 1];
	struct evkeyvalq q;
	bool ok = false;

	if (n > LOGIN_BODY_MAX)
		return false;
	evbuffer_copyout(in, body, n);
	body[n] = '\0';
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(body, &q) == 0) {
		const char *key = evhttp_find_header(&q, "key");
		ok = key && strlen(key) < len;
		if (ok)
			strcpy(out, key);
	}
	evhttp_clear_headers(&q);
	explicit_bzero(body, sizeof(body));
	return ok;
}

void api_login(struct api *a, struct evhttp_request *req, int64_t t0)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	char key[512], token[API_TOKEN_HEX + 1], peer[64];

	if (!api_same_origin(req, false)) {
		refuse(a, req, 403, "another site's form", t0);
		return;
	}
	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) ||
	    !form_key(req, key, sizeof(key))) {
		refuse(a, req, 400, "no key in the form", t0);
		return;
	}
	bool ok = api_key_ok(a, key);
	explicit_bzero(key, sizeof(key));
	if (!ok) {
		refuse(a, req, 401, "wrong key", t0);
		return;
	}
	if (new_session(a, token) < 0) {
		refuse(a, req, 503, "no random bytes for a session", t0);
		return;
	}
	log_info("api", NULL, "board login from %s", api_peer(req, peer, sizeof(peer)));
	set_cookie(req, token, SESSION_TTL_S);
	explicit_bzero(token, sizeof(token));
	redirect(a, req, "/board", t0);
}

void api_logout(struct api *a, struct evhttp_request *req, int64_t t0)
{
	char token[API_TOKEN_HEX + 1];
	struct api_session *s;

	if (!api_same_origin(req, true)) {
		api_error(a, req, 403, API_EP_BOARD, t0, "logout must come from the board");
		return;
	}
	if (cookie_token(req, token) && (s = find(a, token)) != NULL)
		memset(s, 0, sizeof(*s));
	set_cookie(req, "", 0);
	redirect(a, req, "/board/login", t0);
}
