/*
 * emu_twilio_ws.h - the websocket Twilio opens to vagentd, as both of
 * vagent-emu's Twilio TEST DOUBLES dial it: Media Streams (emu_twilio.c)
 * and ConversationRelay (emu_twilio_relay.c). See emu_twilio_ws.c.
 *
 * Owns: where a call goes and how its upgrade is signed (the options both
 * take), the client lws context and its one protocol, a call's outgoing
 * queue and incoming fragments. What is said on the socket is the
 * caller's (struct tw_link_ops).
 */
#ifndef VG_EMU_TWILIO_WS_H
#define VG_EMU_TWILIO_WS_H

#include "emu_ws.h"

#include <getopt.h>

/* Where calls go and what Twilio's side says of itself. */
struct tw_target {
	const char *url, *did, *caller;
	const char *token, *sign_url, *signature;	/* X-Twilio-Signature */
	const char *connect_to;		/* HOST:PORT: a TLS proxy's backend, dialled plain */
	const char *log_path;
	int hold_ms;
	char host[256], addr[256], path[512];	/* from url (and connect_to) */
	int port;
};

/* The options every Twilio dialler takes, for getopt_long's table. */
#define TW_TARGET_OPTIONS \
	{ "url", 1, NULL, 'u' }, { "did", 1, NULL, 'd' }, { "caller", 1, NULL, 'c' }, \
	{ "token", 1, NULL, 't' }, { "sign-url", 1, NULL, 'S' }, \
	{ "signature", 1, NULL, 'g' }, { "hold-ms", 1, NULL, 'H' }, { "log", 1, NULL, 'l' }

/* Sets the defaults (did and caller "", hold 2000 ms). */
void tw_target_init(struct tw_target *t);
/* Takes option ch of TW_TARGET_OPTIONS: true, or false if not one of them. */
bool tw_target_opt(struct tw_target *t, int ch, const char *arg);
/* After the options: opens the log; false if it fails or the options do not do. */
bool tw_target_ok(const struct tw_target *t);
/* Splits the URL (wss:// only with connect_to). 0 or -EINVAL. */
int tw_target_split(struct tw_target *t);

struct tw_link;

/* What the dialler does with its socket; link is inside its call. */
struct tw_link_ops {
	void (*opened)(struct tw_link *l);
	void (*message)(struct tw_link *l, const char *text, size_t len);
	/* refused: the connect failed (lws's words, http_status set); NULL: closed */
	void (*ended)(struct tw_link *l, const char *refused);
};

/* One call's websocket. */
struct tw_link {
	const struct tw_target *t;
	const struct tw_link_ops *ops;
	struct lws *wsi;		/* NULL: not open */
	struct ws_txq txq;
	struct ws_rx rx;
	int http_status;		/* of a refused upgrade */
};

/* A client context for fds sockets (0: lws's default). NULL on failure. */
struct lws_context *tw_context(unsigned fds);
/* Dials l->t's address. 0, or -1 when lws could not start (ended may have run). */
int tw_connect(struct lws_context *ctx, struct tw_link *l);
/* Queues j (reference dropped) and asks for a write. */
void tw_send_json(struct tw_link *l, json_t *j);
void tw_link_free(struct tw_link *l);

#endif
