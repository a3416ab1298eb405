/*
 * emu_twilio_ws.c - the client websocket of vagent-emu's Twilio TEST
 * DOUBLES (see emu_twilio_ws.h): the options naming where calls go, the
 * upgrade signed as Twilio signs it (X-Twilio-Signature: base64 of
 * HMAC-SHA1 over the URL with the auth token, or a given one), the lws
 * context with its one client protocol, and a call's socket: messages out
 * in queue order, messages in put together from their fragments.
 *
 * Owns: the tw_link's queue and buffer (tw_link_free); the context is the
 * caller's to destroy.
 * Never: says anything on the socket by itself; that is the dialler's.
 * Fails: an upgrade lws cannot sign or a message past RX_MAX closes that
 * call (its ended runs); a refused connect is reported to ended.
 */
#include "emu_twilio_ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"

#define RX_MAX (1u << 20)
#define PROTOCOL "twilio-emu"		/* local only: no subprotocol is asked for */

void tw_target_init(struct tw_target *t)
{
	*t = (struct tw_target){ .did = "", .caller = "", .hold_ms = 2000 };
}

bool tw_target_opt(struct tw_target *t, int ch, const char *arg)
{
	switch (ch) {
	case 'u': t->url = arg; return true;
	case 'd': t->did = arg; return true;
	case 'c': t->caller = arg; return true;
	case 't': t->token = arg; return true;
	case 'S': t->sign_url = arg; return true;
	case 'g': t->signature = arg; return true;
	case 'H': t->hold_ms = atoi(arg); return true;
	case 'l': t->log_path = arg; return true;
	default: return false;
	}
}

bool tw_target_ok(const struct tw_target *t)
{
	if (log_open("vagent-emu", t->log_path, false, LOG_LVL_INFO))
		return false;
	return t->url && t->hold_ms >= 0;
}

int tw_target_split(struct tw_target *t)
{
	char url[1024];
	const char *prot, *addr, *path;

	snprintf(url, sizeof(url), "%s", t->url);
	if (lws_parse_uri(url, &prot, &addr, &t->port, &path) ||
	    (strcmp(prot, "ws") && (strcmp(prot, "wss") || !t->connect_to)))
		return -EINVAL;
	snprintf(t->host, sizeof(t->host), "%s", addr);
	snprintf(t->addr, sizeof(t->addr), "%s", addr);
	snprintf(t->path, sizeof(t->path), "/%s", path);
	if (t->connect_to) {
		const char *colon = strrchr(t->connect_to, ':');
		t->port = colon ? atoi(colon + 1) : 0;
		if (!colon || colon == t->connect_to || t->port <= 0 || t->port > 65535)
			return -EINVAL;
		snprintf(t->addr, sizeof(t->addr), "%.*s", (int)(colon - t->connect_to),
			 t->connect_to);
	}
	return 0;
}

/* X-Twilio-Signature of the upgrade. 0, or -1: none to send. */
static int sign(const struct tw_target *t, char *out, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	const char *url = t->sign_url ? t->sign_url : t->url;

	if (t->signature) {
		snprintf(out, len, "%s", t->signature);
		return 0;
	}
	if (!t->token || !HMAC(EVP_sha1(), t->token, (int)strlen(t->token),
			       (const unsigned char *)url, strlen(url), mac, &n))
		return -1;
	char *b64 = emu_base64(mac, n);
	snprintf(out, len, "%s", b64 ? b64 : "");
	free(b64);
	return 0;
}

static int add_signature(struct tw_link *l, struct lws *wsi, unsigned char **p, size_t len)
{
	unsigned char *end = *p + len;
	char sig[64];

	if (sign(l->t, sig, sizeof(sig)) == 0 &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"X-Twilio-Signature:",
					(const unsigned char *)sig, (int)strlen(sig), p, end))
		return -1;
	return 0;
}

/*
 * The queued messages now, as the socket takes them (ws_send_queued), the
 * rest from the writeable callback: a callback per media message cost two
 * epoll_ctl and a loop pass every 20 ms per call. -1: a write failed.
 */
static int send_queued(struct tw_link *l, struct lws *wsi)
{
	int rc = ws_send_queued(NULL, wsi, &l->txq, NULL, INT64_MAX);

	if (rc > 0)
		lws_callback_on_writable(wsi);
	return rc < 0 ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct tw_link *l = lws_get_opaque_user_data(wsi);
	int rc;

	(void)user;
	if (!l)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return add_signature(l, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		l->wsi = wsi;
		l->ops->opened(l);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		rc = ws_rx_take(&l->rx, in, len, lws_is_final_fragment(wsi) &&
				!lws_remaining_packet_payload(wsi), RX_MAX);
		if (rc > 0)
			l->ops->message(l, l->rx.p, l->rx.len);
		return rc < 0 ? -1 : 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return send_queued(l, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		l->http_status = (int)lws_http_client_http_response(wsi);
		l->ops->ended(l, in ? (const char *)in : "-");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		l->ops->ended(l, NULL);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ PROTOCOL, callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

struct lws_context *tw_context(unsigned fds)
{
	struct lws_context_creation_info info;

	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = fds;
	return lws_create_context(&info);
}

int tw_connect(struct lws_context *ctx, struct tw_link *l)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = l->t->addr;
	ci.port = l->t->port;
	ci.path = l->t->path;
	ci.host = l->t->host;	/* the URL's, also behind --connect-to, as a proxy passes it */
	ci.origin = l->t->host;
	ci.local_protocol_name = PROTOCOL;
	ci.opaque_user_data = l;
	return lws_client_connect_via_info(&ci) ? 0 : -1;
}

void tw_send_json(struct tw_link *l, json_t *j)
{
	ws_txq_push_json(&l->txq, j, 0);
	if (l->wsi && send_queued(l, l->wsi) < 0)
		lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void tw_link_free(struct tw_link *l)
{
	ws_txq_clear(&l->txq);
	ws_rx_free(&l->rx);
}
