/*
 * emu_ws.h - websocket plumbing shared by vagent-emu's Deepgram and
 * Cartesia TEST DOUBLES (libwebsockets, one service thread).
 *
 * Owns: the outgoing message queue of a connection (ordered, each message
 * with a due time), HTTP answers on the websocket ports (refused upgrades,
 * the /emu/ inspection endpoints), query and header access, timers.
 * Only the protocol lives in emu_deepgram.c / emu_cartesia.c.
 * Never: called from any thread but the lws service thread.
 * Fails: allocation failures return -ENOMEM; a failed write returns -EIO
 * and the caller closes that connection.
 */
#ifndef VG_EMU_WS_H
#define VG_EMU_WS_H

#include "emu.h"

#include <libwebsockets.h>

/* One outgoing websocket message; buf holds LWS_PRE bytes, then data. */
struct ws_msg {
	struct ws_msg *next;
	int64_t due_us;
	bool binary;
	size_t len;
	unsigned char buf[];
};

/* Messages leave in queue order; due times never go backwards. */
struct ws_txq {
	struct ws_msg *head, *tail;
	int64_t last_due;
};

int ws_txq_push(struct ws_txq *q, const void *data, size_t len, bool binary, int64_t due_us);
/* Serialises j (compact, key order kept), queues it, drops the reference. */
int ws_txq_push_json(struct ws_txq *q, json_t *j, int64_t due_us);
/* The head if it is due at now, unlinked; else NULL. */
struct ws_msg *ws_txq_pop_due(struct ws_txq *q, int64_t now);
int64_t ws_txq_next_due(const struct ws_txq *q);	/* INT64_MAX if empty */
void ws_txq_clear(struct ws_txq *q);

/* Writes m as one websocket frame and frees it. 0 or -EIO. */
int ws_send(struct lws *wsi, struct ws_msg *m);
/* Writes text as one text frame (copied behind LWS_PRE). 0 or -errno. */
int ws_send_text(struct lws *wsi, const char *text);

/*
 * Writes a whole HTTP response with a JSON (or given type) body. hdrs is
 * NULL or name, value, ..., NULL (names without the colon). 0 or -EIO.
 * In LWS_CALLBACK_HTTP_CONFIRM_UPGRADE return 1 afterwards.
 */
int ws_http_reply(struct lws *wsi, int status, const char *ctype, const char *body,
		  const char *const *hdrs);

/* Answers GET/DELETE /emu/requests from rec; 404 otherwise. Returns what
 * the LWS_CALLBACK_HTTP handler should return. */
int ws_http_inspect(struct lws *wsi, const char *path, struct emu_rec *rec);

/*
 * The idx'th query argument (URL-decoded by lws) split at '='. 0, or
 * -ENOENT past the last one. A value that does not fit is truncated.
 */
int ws_query(struct lws *wsi, int idx, char *name, size_t nlen, char *val, size_t vlen);

/* The request path (before '?'). */
int ws_path(struct lws *wsi, char *buf, size_t len);

/* Header "name" (case-insensitive, no colon) into buf. 0 or -ENOENT. */
int ws_header(struct lws *wsi, const char *name, char *buf, size_t len);

/* Arms the connection's timer for monotonic time due_us (INT64_MAX: off). */
void ws_timer_at(struct lws *wsi, int64_t due_us);

/* ---- the two websocket providers ---- */

struct dg_server;
int dg_server_new(struct emu *e, struct dg_server **out);
void dg_server_free(struct dg_server *s);
size_t dg_pss_size(void);
int dg_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		void *in, size_t len);

struct cart_server;
int cart_server_new(struct emu *e, struct emu_tts *tts, struct cart_server **out);
void cart_server_free(struct cart_server *s);
size_t cart_pss_size(void);
int cart_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		  void *in, size_t len);

/* ElevenLabs TTS stream-input / multi-stream-input (emu_xi_tts.c). */
struct xi_server;
int xi_server_new(struct emu *e, struct emu_tts *tts, struct xi_server **out);
void xi_server_free(struct xi_server *s);
size_t xi_pss_size(void);
int xi_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		void *in, size_t len);

/* An ElevenLabs agent's conversation websocket (emu_xi_agent.c). */
struct xa_server;
int xa_server_new(struct emu *e, struct xa_server **out, char *err, size_t errlen);
void xa_server_free(struct xa_server *s);
size_t xa_pss_size(void);
int xa_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		void *in, size_t len);

#endif
