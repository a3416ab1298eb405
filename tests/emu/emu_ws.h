/*
 * emu_ws.h - websocket plumbing shared by vagent-emu's TEST DOUBLES
 * (libwebsockets; the servers on one service thread).
 *
 * Owns: the outgoing message queue of a connection (ordered, each message
 * with a due time), HTTP answers on the websocket ports (refused upgrades,
 * the /emu/ inspection endpoints), query and header access, timers, and
 * the lws callback of every provider's vhost: a connection's life (struct
 * ws_conn), its fragments, its injected fault, synthesis results routed
 * to it. Only the protocol lives in emu_deepgram.c, emu_cartesia.c,
 * emu_xi_tts.c and emu_xi_agent.c (struct ws_ops); the Twilio clients
 * use the queue and the fragments too.
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

/* ---- what every websocket provider's connection shares ---- */

/* A message arriving in fragments. */
struct ws_rx {
	char *p;			/* NUL-terminated once whole */
	size_t len;
	bool whole;			/* the next fragment starts a new message */
};

/*
 * Appends a fragment: 1 the message is whole (final), 0 more to come,
 * -ENOMEM, or -E2BIG past max bytes (0: no limit).
 */
int ws_rx_take(struct ws_rx *r, const void *in, size_t len, bool final, size_t max);
void ws_rx_free(struct ws_rx *r);

/* A connection's injected fault (emu_fault_for) and how far it has got. */
struct ws_fault {
	struct emu_fault f;
	unsigned sent;			/* messages written */
	bool junk_sent;			/* the malformed message went */
};

/* FAULT_CLOSE has been reached: close now. */
bool ws_fault_closes(const struct ws_fault *ft);

/*
 * Before the queue's next message: 1 send it; 0 the fault took this turn
 * (stall: the queue is dropped; malformed: junk went as one text frame
 * and another turn is asked for); -1 the write failed.
 */
int ws_fault_gate(struct ws_fault *ft, struct lws *wsi, struct ws_txq *q, const char *junk);

/*
 * Writes q's messages due by upto (INT64_MAX: all of them) now, each
 * through the fault gate (junk as there),
 * while the socket takes each whole: lws finishes a write it took in part
 * before any other (lws_partial_buffered), so this may run outside the
 * writeable callback, and a message due need not wait for a POLLOUT round
 * (two epoll_ctl and a loop pass each). ft NULL: no fault is injected
 * (the Twilio dialler). 1: what is left due, or a fault's close, needs
 * the writeable callback; 0: nothing due is left, or the fault took the
 * turn; -1: a write failed.
 */
int ws_send_queued(struct ws_fault *ft, struct lws *wsi, struct ws_txq *q, const char *junk,
		   int64_t upto);

/*
 * The first member of every provider's per-session data. The provider's
 * open sets serial and ft (a fault closing at once gets its turn); rx is
 * freed once closed.
 */
struct ws_conn {
	struct ws_conn *next_live;	/* the vhost's open connections */
	uint64_t serial;		/* synthesis results carry it */
	bool open;			/* ESTABLISHED came, CLOSED not yet */
	bool close_sent;		/* our close frame went: nothing more to send or hear */
	struct ws_fault ft;
	struct ws_rx rx;
};

/*
 * A provider on its vhost, called by emu_ws.c's one lws callback. srv is
 * the provider's server, conn its per-session data (struct ws_conn first).
 * receive and timer run only while open and before our close; writeable
 * and closed only while open. upgrade: 0 accepts, 1 refused (answered).
 */
struct ws_ops {
	const char *name;		/* the vhost's and the protocol's */
	size_t pss_size;
	int (*upgrade)(void *srv, struct lws *wsi);
	int (*http)(void *srv, struct lws *wsi, const char *path);
	int (*add_headers)(void *srv, struct lws *wsi, struct lws_process_html_args *a);
	void (*open)(void *srv, struct lws *wsi, void *conn);
	void (*receive)(void *conn, const void *in, size_t len);
	int (*writeable)(void *conn);
	void (*timer)(void *conn);
	void (*result)(void *conn, struct emu_tts_job *job);	/* on its conn; freed after */
	void (*closed)(void *conn);
};

/* Sends our close frame once (the queue is dropped); returns -1 for lws. */
int ws_close(struct ws_conn *c, struct lws *wsi, struct ws_txq *q, int code, const char *reason);

/* The query as [[name, value], ...], leaving out the names in hide (NULL-ended). */
json_t *ws_query_json(struct lws *wsi, const char *const *hide);

/* Records conn's open: {"conn", "event":"open", "path", "query" (less hide)}. */
void ws_rec_open(struct emu_rec *rec, struct lws *wsi, uint64_t conn, const char *const *hide);

/* ---- the websocket providers ---- */

struct dg_server;
int dg_server_new(struct emu *e, struct dg_server **out);
void dg_server_free(struct dg_server *s);
extern const struct ws_ops dg_ws_ops;

struct cart_server;
int cart_server_new(struct emu *e, struct emu_tts *tts, struct cart_server **out);
void cart_server_free(struct cart_server *s);
extern const struct ws_ops cart_ws_ops;

/* ElevenLabs TTS stream-input / multi-stream-input (emu_xi_tts.c). */
struct xi_server;
int xi_server_new(struct emu *e, struct emu_tts *tts, struct xi_server **out);
void xi_server_free(struct xi_server *s);
extern const struct ws_ops xi_ws_ops;

/* An ElevenLabs agent's conversation websocket (emu_xi_agent.c). */
struct xa_server;
int xa_server_new(struct emu *e, struct xa_server **out, char *err, size_t errlen);
void xa_server_free(struct xa_server *s);
extern const struct ws_ops xa_ws_ops;

#endif
