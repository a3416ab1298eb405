/*
 * emu_ws.c - the websocket side of vagent-emu (a provider TEST DOUBLE):
 * one libwebsockets context with a vhost per emulated service (Deepgram,
 * Cartesia, ElevenLabs TTS and agent) on 127.0.0.1, served by its own
 * thread; the one callback of those vhosts, which runs a connection's life
 * and calls the provider's struct ws_ops; the queue, timers and HTTP
 * answers they share (see emu_ws.h; emu_ws_conn.c has the rest).
 *
 * Owns: the lws context, its service thread and the synthesis thread the
 * Cartesia emulator feeds. Debian's lws has no libevent loop, so lws runs
 * on its own thread; the main thread only starts and stops it. That thread
 * runs a libev loop (epoll) that lws uses through its libev plugin: lws's
 * default poll() loop scans every connection on each wake-up, which at a
 * few hundred emulated calls (two sockets each, 50 audio frames a second)
 * cost more than everything else the emulator does.
 * Never: shares a connection's state with another thread; the only
 * cross-thread calls are lws_cancel_service() and the tts queues.
 * Fails: a port that cannot be bound fails emu_ws_start (fatal for the
 * caller); at run time errors end one connection.
 */
#include "emu_ws.h"

#include "../../common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ev.h>

/* A provider on its vhost (the protocol's user pointer). */
struct ws_vhost {
	const struct ws_ops *ops;
	void *srv;
	struct emu_tts *tts;		/* NULL: no synthesis here */
	struct ws_conn *live;		/* open connections */
};

struct emu_ws {
	struct emu *e;
	struct lws_context *ctx;
	struct emu_tts *tts;
	struct dg_server *dg;
	struct cart_server *cart;
	struct xi_server *xi;
	struct xa_server *xa;
	struct lws_protocols proto[4][2];	/* per vhost, NULL-terminated */
	struct ws_vhost vh[4];			/* per vhost: the provider's */
	struct ev_loop *loop;		/* run by the service thread */
	ev_async stop_w;		/* the main thread's request to stop */
	ev_timer poke_w;		/* lets lws look at its own timers */
	void *loops[1];			/* lws's foreign_loops */
	pthread_t thread;
	bool running;
};

/* ---- outgoing queue ---- */

int ws_txq_push(struct ws_txq *q, const void *data, size_t len, bool binary, int64_t due_us)
{
	struct ws_msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->binary = binary;
	m->len = len;
	memcpy(m->buf + LWS_PRE, data, len);
	if (due_us < q->last_due)
		due_us = q->last_due;
	m->due_us = q->last_due = due_us;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	return 0;
}

int ws_txq_push_json(struct ws_txq *q, json_t *j, int64_t due_us)
{
	char *s = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL;
	int rc;

	json_decref(j);
	if (!s)
		return -ENOMEM;
	rc = ws_txq_push(q, s, strlen(s), false, due_us);
	free(s);
	return rc;
}

struct ws_msg *ws_txq_pop_due(struct ws_txq *q, int64_t now)
{
	struct ws_msg *m = q->head;

	if (!m || m->due_us > now)
		return NULL;
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	m->next = NULL;
	return m;
}

int64_t ws_txq_next_due(const struct ws_txq *q)
{
	return q->head ? q->head->due_us : INT64_MAX;
}

void ws_txq_clear(struct ws_txq *q)
{
	while (q->head) {
		struct ws_msg *m = q->head;

		q->head = m->next;
		free(m);
	}
	q->tail = NULL;
}

int ws_send(struct lws *wsi, struct ws_msg *m)
{
	int n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
	size_t len = m->len;

	free(m);
	return n < (int)len ? -EIO : 0;
}

int ws_send_text(struct lws *wsi, const char *text)
{
	struct ws_txq q = { 0 };

	if (ws_txq_push(&q, text, strlen(text), false, 0))
		return -ENOMEM;
	return ws_send(wsi, ws_txq_pop_due(&q, INT64_MAX));
}

/*
 * A connection's timer is an ev_timer on the service loop, not lws's own
 * (lws_set_timer_usecs): lws 4.1.6's libev plugin never moves its loop
 * timer earlier, so a wake-up set sooner than one already armed came
 * late. It fires the protocol's LWS_CALLBACK_TIMER, never early; it
 * belongs to the wsi (opaque user data) and is freed with it.
 */
struct ws_conn_timer {
	ev_timer w;		/* first: the watcher is the timer */
	struct lws *wsi;
	int64_t due_us;
};

static void on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ws_conn_timer *t = (struct ws_conn_timer *)w;
	const struct lws_protocols *p = lws_get_protocol(t->wsi);
	int64_t left = t->due_us - emu_now_us();

	(void)revents;
	if (left > 0) {		/* libev rounds; never fire early */
		ev_timer_set(w, (double)left / 1e6, 0.);
		ev_timer_start(loop, w);
		return;
	}
	if (p && p->callback(t->wsi, LWS_CALLBACK_TIMER, lws_wsi_user(t->wsi), NULL, 0))
		lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void conn_timer_free(struct emu_ws *w, struct lws *wsi)
{
	struct ws_conn_timer *t = lws_get_opaque_user_data(wsi);

	if (!t)
		return;
	ev_timer_stop(w->loop, &t->w);
	lws_set_opaque_user_data(wsi, NULL);
	free(t);
}

void ws_timer_at(struct lws *wsi, int64_t due_us)
{
	struct emu_ws *w = lws_context_user(lws_get_context(wsi));
	struct ws_conn_timer *t = lws_get_opaque_user_data(wsi);
	int64_t d;

	if (!t) {
		if (due_us == INT64_MAX)
			return;
		t = calloc(1, sizeof(*t));
		if (!t) {	/* no timer: fall back to lws's, late but there */
			lws_set_timer_usecs(wsi, 1000);
			return;
		}
		ev_init(&t->w, on_conn_timer);
		t->wsi = wsi;
		lws_set_opaque_user_data(wsi, t);
	}
	if (ev_is_active(&t->w)) {
		if (t->due_us == due_us)
			return;
		ev_timer_stop(w->loop, &t->w);
	}
	t->due_us = due_us;
	if (due_us == INT64_MAX)
		return;
	ev_now_update(w->loop);
	d = due_us - emu_now_us();
	ev_timer_set(&t->w, d > 0 ? (double)d / 1e6 : 0., 0.);
	ev_timer_start(w->loop, &t->w);
}

/* ---- the providers' callback ---- */

/* Synthesis results, each routed to its connection while it is open. */
static void route_results(struct ws_vhost *v)
{
	struct emu_tts_job *j = emu_tts_take(v->tts);

	while (j) {
		struct emu_tts_job *next = j->next;
		struct ws_conn *c = v->live;

		while (c && c->serial != j->conn)
			c = c->next_live;
		if (c)
			v->ops->result(c, j);
		emu_tts_job_free(j);
		j = next;
	}
}

static void conn_open(struct ws_vhost *v, struct lws *wsi, struct ws_conn *c)
{
	v->ops->open(v->srv, wsi, c);	/* clears c, sets its serial and fault */
	c->open = true;
	c->next_live = v->live;
	v->live = c;
	if (ws_fault_closes(&c->ft))
		lws_callback_on_writable(wsi);
}

static void conn_closed(struct ws_vhost *v, struct ws_conn *c)
{
	for (struct ws_conn **pp = &v->live; *pp; pp = &(*pp)->next_live) {
		if (*pp == c) {
			*pp = c->next_live;
			break;
		}
	}
	v->ops->closed(c);
	ws_rx_free(&c->rx);
	c->open = false;
}

static int provider_cb(struct ws_vhost *v, struct lws *wsi, enum lws_callback_reasons reason,
		       struct ws_conn *c, void *in, size_t len)
{
	bool hearing = c && c->open && !c->close_sent;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return v->ops->upgrade(v->srv, wsi);
	case LWS_CALLBACK_ADD_HEADERS:
		return v->ops->add_headers ? v->ops->add_headers(v->srv, wsi, in) : 0;
	case LWS_CALLBACK_HTTP:
		return v->ops->http(v->srv, wsi, in ? (const char *)in : "");
	case LWS_CALLBACK_ESTABLISHED:
		conn_open(v, wsi, c);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (hearing)
			v->ops->receive(c, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c && c->open ? v->ops->writeable(c) : 0;
	case LWS_CALLBACK_TIMER:
		if (hearing)
			v->ops->timer(c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (v->tts && v->ops->result)
			route_results(v);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c && c->open)
			conn_closed(v, c);
		return 0;
	default:
		return 0;
	}
}

/*
 * Every websocket vhost's callback: the provider's (proto->user), then
 * the connection's timer is freed when lws lets go of the wsi.
 */
static int ws_dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		       void *in, size_t len)
{
	const struct lws_protocols *p = lws_get_protocol(wsi);
	int rc = p && p->user ? provider_cb(p->user, wsi, reason, user, in, len) : 0;

	if (reason == LWS_CALLBACK_CLOSED || reason == LWS_CALLBACK_CLOSED_HTTP ||
	    reason == LWS_CALLBACK_WSI_DESTROY)
		conn_timer_free(lws_context_user(lws_get_context(wsi)), wsi);
	return rc;
}

/* ---- HTTP answers ---- */

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/*
 * The status line is written by hand: during an upgrade lws has not yet
 * recorded the request's HTTP version and would answer "HTTP/1.0", which
 * strict websocket clients refuse to parse.
 */
int ws_http_reply(struct lws *wsi, int status, const char *ctype, const char *body,
		  const char *const *hdrs)
{
	size_t blen = body ? strlen(body) : 0, cap = LWS_PRE + 1024 + blen, n;
	unsigned char *buf = malloc(cap);
	char *p;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	p = (char *)buf + LWS_PRE;
	n = (size_t)snprintf(p, cap - LWS_PRE, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\n"
			     "content-length: %zu\r\n", status, reason_of(status), ctype, blen);
	for (; hdrs && hdrs[0] && hdrs[1] && n < cap - LWS_PRE; hdrs += 2)
		n += (size_t)snprintf(p + n, cap - LWS_PRE - n, "%s: %s\r\n", hdrs[0], hdrs[1]);
	if (n + 2 + blen >= cap - LWS_PRE) {
		free(buf);
		return -E2BIG;
	}
	memcpy(p + n, "\r\n", 2);
	memcpy(p + n + 2, body ? body : "", blen);
	n += 2 + blen;
	if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_HEADERS) < (int)n)
		rc = -EIO;
	free(buf);
	return rc;
}

int ws_http_inspect(struct lws *wsi, const char *path, struct emu_rec *rec)
{
	char *body = NULL;
	int rc;

	if (!strcmp(path, "/emu/requests")) {
		if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0)
			emu_rec_clear(rec);
		body = emu_rec_dump(rec);
		rc = ws_http_reply(wsi, 200, "application/json", body ? body : "[]", NULL);
	} else {
		rc = ws_http_reply(wsi, 404, "application/json",
				   "{\"error\":\"not found (vagent-emu)\"}", NULL);
	}
	free(body);
	if (rc || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

/* ---- request access ---- */

int ws_query(struct lws *wsi, int idx, char *name, size_t nlen, char *val, size_t vlen)
{
	char buf[1024];
	const char *eq;
	size_t n;

	if (lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_URI_ARGS, idx) < 0)
		return -ENOENT;
	eq = strchr(buf, '=');
	n = eq ? (size_t)(eq - buf) : strlen(buf);
	snprintf(name, nlen, "%.*s", (int)n, buf);
	snprintf(val, vlen, "%s", eq ? eq + 1 : "");
	return 0;
}

int ws_path(struct lws *wsi, char *buf, size_t len)
{
	if (lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_GET_URI) < 0) {
		buf[0] = '\0';
		return -ENOENT;
	}
	return 0;
}

int ws_header(struct lws *wsi, const char *name, char *buf, size_t len)
{
	char key[64];
	size_t i;

	buf[0] = '\0';
	if (!strcasecmp(name, "authorization"))
		return lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 ? 0 : -ENOENT;
	for (i = 0; name[i] && i + 2 < sizeof(key); i++)
		key[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	key[i++] = ':';
	key[i] = '\0';
	return lws_hdr_custom_copy(wsi, buf, (int)len, key, (int)i) >= 0 ? 0 : -ENOENT;
}

/* ---- the context and its thread ---- */

static void lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_msg(level == LLL_ERR ? LOG_LVL_ERROR : LOG_LVL_WARN, "lws", NULL, "%.*s", (int)n, line);
}

static void wake_lws(void *arg)
{
	lws_cancel_service(arg);
}

static void *service_main(void *arg)
{
	struct emu_ws *w = arg;

	ev_run(w->loop, 0);
	return NULL;
}

/*
 * lws services its own timers (close handshakes, HTTP timeouts) after
 * each event on its sockets, but its libev plugin never moves the loop
 * timer earlier; an event on lws's wake-up pipe now and then bounds how
 * late they can be.
 */
#define POKE_S 0.25

static void on_poke(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct emu_ws *w = t->data;

	(void)loop;
	(void)revents;
	lws_cancel_service(w->ctx);
}

static void on_stop(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)a;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static int add_vhost(struct emu_ws *w, int idx, const struct ws_ops *ops, void *srv, int port,
		     char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct ws_vhost *v = &w->vh[idx];

	*v = (struct ws_vhost){ .ops = ops, .srv = srv, .tts = ops->result ? w->tts : NULL };
	w->proto[idx][0] = (struct lws_protocols){ ops->name, ws_dispatch, ops->pss_size, 65536,
						   0, v, 0 };
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = w->proto[idx];
	info.vhost_name = ops->name;
	info.user = srv;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (!lws_create_vhost(w->ctx, &info)) {
		snprintf(err, errlen, "%s emulator: cannot listen on 127.0.0.1:%d", ops->name, port);
		return -EADDRINUSE;
	}
	return 0;
}

static int create_servers(struct emu_ws *w, char *err, size_t errlen)
{
	struct emu *e = w->e;
	int rc;

	if (e->opt.port[EMU_DG]) {
		rc = dg_server_new(e, &w->dg);
		if (!rc)
			rc = add_vhost(w, 0, &dg_ws_ops, w->dg, e->opt.port[EMU_DG], err, errlen);
		if (rc)
			return rc;
	}
	if (e->opt.port[EMU_CART]) {
		rc = emu_tts_start(e->opt.voice, wake_lws, w->ctx, &w->tts, err, errlen);
		if (!rc)
			rc = cart_server_new(e, w->tts, &w->cart);
		if (!rc)
			rc = add_vhost(w, 1, &cart_ws_ops, w->cart, e->opt.port[EMU_CART], err, errlen);
		if (rc)
			return rc;
	}
	if (e->opt.port[EMU_XI]) {
		/* espeak-ng is one per process: ElevenLabs runs without Cartesia. */
		if (w->tts) {
			snprintf(err, errlen, "--elevenlabs and --cartesia need two vagent-emu");
			return -EINVAL;
		}
		rc = emu_tts_start(e->opt.voice, wake_lws, w->ctx, &w->tts, err, errlen);
		if (!rc)
			rc = xi_server_new(e, w->tts, &w->xi);
		if (!rc)
			rc = add_vhost(w, 2, &xi_ws_ops, w->xi, e->opt.port[EMU_XI], err, errlen);
		if (rc)
			return rc;
	}
	if (e->opt.xi_agent_port) {
		rc = xa_server_new(e, &w->xa, err, errlen);
		if (!rc)
			rc = add_vhost(w, 3, &xa_ws_ops, w->xa, e->opt.xi_agent_port, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int emu_ws_start(struct emu *e, struct emu_ws **out, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct emu_ws *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->e = e;
	lws_set_log_level(LLL_ERR, lws_log);
	w->loop = ev_loop_new(EVBACKEND_EPOLL);
	if (!w->loop) {
		snprintf(err, errlen, "cannot create the libev (epoll) loop");
		free(w);
		return -ENOMEM;
	}
	ev_async_init(&w->stop_w, on_stop);
	ev_async_start(w->loop, &w->stop_w);
	w->loops[0] = w->loop;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = w->loops;
	info.user = w;
	w->ctx = lws_create_context(&info);
	if (!w->ctx) {
		snprintf(err, errlen, "cannot create the libwebsockets context (libev plugin)");
		ev_loop_destroy(w->loop);
		free(w);
		return -ENOMEM;
	}
	rc = create_servers(w, err, errlen);
	ev_timer_init(&w->poke_w, on_poke, POKE_S, POKE_S);
	w->poke_w.data = w;
	ev_timer_start(w->loop, &w->poke_w);
	if (!rc) {
		rc = -pthread_create(&w->thread, NULL, service_main, w);
		if (rc)
			snprintf(err, errlen, "cannot start the websocket thread");
	}
	if (rc) {
		emu_ws_stop(w);
		return rc;
	}
	w->running = true;
	*out = w;
	return 0;
}

void emu_ws_stop(struct emu_ws *w)
{
	if (!w)
		return;
	if (w->running) {
		ev_async_send(w->loop, &w->stop_w);
		pthread_join(w->thread, NULL);
		log_info("emu", NULL, "websocket loop: %u wake-ups", ev_iteration(w->loop));
	}
	emu_tts_stop(w->tts);		/* first: its wake-ups use the context */
	lws_context_destroy(w->ctx);	/* closes every connection (CLOSED callbacks) */
	ev_async_stop(w->loop, &w->stop_w);
	ev_timer_stop(w->loop, &w->poke_w);
	ev_loop_destroy(w->loop);
	cart_server_free(w->cart);
	xi_server_free(w->xi);
	dg_server_free(w->dg);
	xa_server_free(w->xa);
	free(w);
}
