/*
 * emu_cartesia.c - a TEST DOUBLE of Cartesia's TTS websocket
 * (ws://127.0.0.1:PORT/tts/websocket), speaking protocols.md section 3 to
 * vagent's real Cartesia client: generation requests (model_id,
 * transcript, voice, output_format, context_id, continue, flush,
 * language, add_timestamps, max_buffer_delay_ms), cancel messages, several
 * contexts per socket; answers chunk / timestamps / flush_done / done /
 * error messages. Speech comes from espeak-ng (emu_tts.c); one context's
 * life is in emu_cart_ctx.c.
 *
 * Errors follow the Cartesia-Version of the connection: 2026-03-01 and
 * newer get structured errors (error_code, title, message, request_id),
 * older ones the "error" string of protocols.md 3.3 (HTTP: "Title:
 * Message" text).
 *
 * Owns: the Cartesia vhost's connections (lws per-session data), the list
 * of live ones (to route synthesis results), the record of received
 * messages (GET /emu/requests on the same port).
 * Never: runs off the lws service thread; calls espeak itself.
 * Fails: a bad request gets the real error message and ends that context
 * only; no memory closes the connection with 1011.
 */
#include "emu_cart.h"

#include "../../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CTXS	256	/* finished contexts remembered per socket */

struct cart_conn;

struct cart_server {
	struct emu *e;
	struct emu_tts *tts;
	struct emu_rng rng;
	unsigned conns;
	uint64_t serial;
	uint64_t ctx_serial;
	struct emu_fault next_fault;
	bool next_structured;
	struct emu_rec rec;
	uint64_t n_received, n_sent;	/* counts for the exit log */
};

struct cart_conn {
	struct ws_conn ws;		/* first: emu_ws.c's view */
	struct cart_server *srv;
	struct lws *wsi;
	bool structured;		/* Cartesia-Version >= 2026-03-01 */
	struct cart_ctx *ctxs;
	size_t nctxs;
	struct ws_txq q;
	bool broken;
};

int cart_server_new(struct emu *e, struct emu_tts *tts, struct cart_server **out)
{
	struct cart_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->e = e;
	s->tts = tts;
	emu_rng_seed(&s->rng, 3);
	*out = s;
	return 0;
}

void cart_server_free(struct cart_server *s)
{
	if (!s)
		return;
	log_info("tts", NULL, "cartesia emulator: %llu connections, %llu messages received, "
		 "%llu sent", (unsigned long long)s->serial, (unsigned long long)s->n_received,
		 (unsigned long long)s->n_sent);
	emu_rec_clear(&s->rec);
	free(s);
}

/* ---- errors ---- */

struct cart_err {
	int status;
	const char *code;
	const char *title;
	char message[256];
};

static void set_err(struct cart_err *er, int status, const char *code, const char *title,
		    const char *msg)
{
	er->status = status;
	er->code = code;
	er->title = title;
	snprintf(er->message, sizeof(er->message), "%s", msg);
}

static int refuse(struct cart_server *s, struct lws *wsi, bool structured, const struct cart_err *er)
{
	char rid[37], text[400], *body = NULL;
	int rc;

	emu_uuid(&s->rng, rid);
	if (structured) {
		json_t *j = json_pack("{s:s?, s:s, s:s, s:s}", "error_code", er->code,
				      "title", er->title, "message", er->message, "request_id", rid);

		body = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL;
		json_decref(j);
	}
	snprintf(text, sizeof(text), "%s: %s", er->title, er->message);
	rc = ws_http_reply(wsi, er->status, structured ? "application/json" : "text/plain",
			   body ? body : text, NULL);
	free(body);
	log_info("tts", NULL, "cartesia emulator: refused upgrade with %d: %s", er->status,
		 er->message);
	return rc ? -1 : 1;
}

/* An error event for one context (or none); done:true as the real one. */
static void send_error(struct cart_conn *c, const char *ctx_id, const struct cart_err *er)
{
	json_t *j;

	if (c->structured) {
		char rid[37];

		emu_uuid(&c->srv->rng, rid);
		j = json_pack("{s:s, s:b, s:i, s:s?, s:s, s:s, s:s, s:s?}", "type", "error",
			      "done", 1, "status_code", er->status, "error_code", er->code,
			      "title", er->title, "message", er->message, "request_id", rid,
			      "context_id", ctx_id);
	} else {
		j = json_pack("{s:s, s:s?, s:i, s:b, s:s}", "type", "error", "context_id", ctx_id,
			      "status_code", er->status, "done", 1, "error", er->message);
	}
	if (ws_txq_push_json(&c->q, j, emu_now_us()))
		c->broken = true;
	log_info("tts", NULL, "cartesia emulator: error for context %s: %s",
		 ctx_id ? ctx_id : "-", er->message);
}

/* ---- upgrade ---- */

static bool key_ok(struct lws *wsi, const char *key)
{
	char v[512], name[64];

	if (!key)
		return true;
	if (!ws_header(wsi, "x-api-key", v, sizeof(v)) && !strcmp(v, key))
		return true;
	if (!ws_header(wsi, "authorization", v, sizeof(v)) && !strncasecmp(v, "Bearer ", 7) &&
	    !strcmp(v + 7, key))
		return true;
	for (int i = 0; !ws_query(wsi, i, name, sizeof(name), v, sizeof(v)); i++)
		if ((!strcmp(name, "api_key") || !strcmp(name, "access_token")) && !strcmp(v, key))
			return true;
	return false;
}

/* The version: the query wins over the header. 0, or -ENOENT. */
static int version_of(struct lws *wsi, char *v, size_t len)
{
	char name[64];

	for (int i = 0; !ws_query(wsi, i, name, sizeof(name), v, len); i++)
		if (!strcmp(name, "cartesia_version"))
			return 0;
	return ws_header(wsi, "cartesia-version", v, len);
}

static bool version_valid(const char *v)
{
	int y, m, d;
	char tail;

	return strlen(v) == 10 && sscanf(v, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
	       y >= 2024 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int on_upgrade(void *srv, struct lws *wsi)
{
	struct cart_server *s = srv;
	char path[256], ver[64];
	struct cart_err er;
	struct emu_fault f;
	bool have_ver = !version_of(wsi, ver, sizeof(ver));
	bool structured = have_ver && version_valid(ver) && strcmp(ver, "2026-03-01") >= 0;

	ws_path(wsi, path, sizeof(path));
	if (strcmp(path, "/tts/websocket")) {
		set_err(&er, 404, "not_found", "Not Found", "No such endpoint.");
		return refuse(s, wsi, structured, &er);
	}
	f = emu_fault_for(&s->e->fault[EMU_CART], s->conns++);
	if (f.kind == FAULT_REFUSE) {
		set_err(&er, f.n, f.n == 429 ? "concurrency_limited" : "service_unavailable",
			f.n == 429 ? "Too many concurrent requests" : "Service unavailable",
			"The service is temporarily unavailable (vagent-emu fault).");
		return refuse(s, wsi, structured, &er);
	}
	if (!key_ok(wsi, s->e->opt.key[EMU_CART])) {
		set_err(&er, 401, "unauthorized", "Unauthorized", "Invalid API key.");
		return refuse(s, wsi, structured, &er);
	}
	if (!have_ver || !version_valid(ver)) {
		set_err(&er, 400, "invalid_request", "Invalid request",
			have_ver ? "Invalid Cartesia-Version: expected a date YYYY-MM-DD."
				 : "Missing Cartesia-Version header or cartesia_version query parameter.");
		return refuse(s, wsi, structured, &er);
	}
	s->next_fault = f;
	s->next_structured = structured;
	return 0;
}

/* ---- requests ---- */

static struct cart_ctx *find_ctx(struct cart_conn *c, const char *id)
{
	for (struct cart_ctx *x = c->ctxs; x; x = x->next)
		if (!strcmp(x->id, id))
			return x;
	return NULL;
}

static int parse_format(json_t *of, int *rate, enum emu_pcm *enc, struct cart_err *er)
{
	static const int rates[] = { 8000, 16000, 22050, 24000, 44100, 48000 };
	const char *container = json_string_value(json_object_get(of, "container"));
	const char *e = json_string_value(json_object_get(of, "encoding"));
	json_t *r = json_object_get(of, "sample_rate");
	bool rate_ok = false;

	if (!json_is_object(of) || !container || !e || !json_is_integer(r)) {
		set_err(er, 400, "invalid_request", "Invalid request",
			"output_format needs container, encoding and sample_rate.");
		return -EINVAL;
	}
	if (strcmp(container, "raw")) {
		set_err(er, 400, "invalid_request", "Invalid request",
			"The WebSocket API only supports the raw container.");
		return -EINVAL;
	}
	if (!strcmp(e, "pcm_s16le"))
		*enc = PCM_S16LE;
	else if (!strcmp(e, "pcm_f32le"))
		*enc = PCM_F32LE;
	else if (!strcmp(e, "pcm_mulaw"))
		*enc = PCM_MULAW;
	else if (!strcmp(e, "pcm_alaw"))
		*enc = PCM_ALAW;
	else {
		set_err(er, 400, "invalid_request", "Invalid request", "Invalid output_format.encoding.");
		return -EINVAL;
	}
	*rate = (int)json_integer_value(r);
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		rate_ok |= rates[i] == *rate;
	if (!rate_ok) {
		set_err(er, 400, "invalid_request", "Invalid request", "Invalid output_format.sample_rate.");
		return -EINVAL;
	}
	return 0;
}

/* Checks a generation request. fixed: the fields a context must keep. */
static int check_request(json_t *j, int *rate, enum emu_pcm *enc, char **fixed, struct cart_err *er)
{
	const char *model = json_string_value(json_object_get(j, "model_id"));
	json_t *voice = json_object_get(j, "voice"), *t = json_object_get(j, "transcript");
	json_t *cont = json_object_get(j, "continue"), *lang = json_object_get(j, "language");
	const char *mode = json_string_value(json_object_get(voice, "mode"));
	json_t *f;

	if (!model || strncmp(model, "sonic", 5)) {
		set_err(er, 400, "invalid_request", "Invalid request",
			model ? "Invalid model_id." : "model_id is required.");
		if (model)
			snprintf(er->message, sizeof(er->message), "Invalid model: %s", model);
		return -EINVAL;
	}
	if (!json_is_string(t)) {
		set_err(er, 400, "invalid_request", "Invalid request", "transcript must be a string.");
		return -EINVAL;
	}
	if (!json_is_object(voice) || !mode || strcmp(mode, "id") ||
	    !json_is_string(json_object_get(voice, "id"))) {
		set_err(er, 400, "invalid_request", "Invalid request",
			"voice must be {\"mode\":\"id\",\"id\":\"<voice id>\"}.");
		return -EINVAL;
	}
	f = json_object_get(j, "max_buffer_delay_ms");
	if (f && (!json_is_integer(f) || json_integer_value(f) < 0 || json_integer_value(f) > 1000)) {
		set_err(er, 400, "invalid_request", "Invalid request",
			"max_buffer_delay_ms must be an integer from 0 to 1000.");
		return -EINVAL;
	}
	if ((cont && !json_is_boolean(cont)) || (lang && !json_is_string(lang))) {
		set_err(er, 400, "invalid_request", "Invalid request",
			"continue must be a boolean and language a string.");
		return -EINVAL;
	}
	if (parse_format(json_object_get(j, "output_format"), rate, enc, er))
		return -EINVAL;
	f = json_pack("{s:s, s:O, s:O, s:O?}", "model_id", model, "voice", voice,
		      "output_format", json_object_get(j, "output_format"), "language", lang);
	*fixed = f ? json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(f);
	return *fixed ? 0 : -ENOMEM;
}

static void forget_old(struct cart_conn *c)
{
	struct cart_ctx **pp = &c->ctxs;

	while (*pp && c->nctxs > MAX_CTXS) {
		if ((*pp)->finished) {
			struct cart_ctx *x = *pp;

			*pp = x->next;
			cart_ctx_free(x);
			c->nctxs--;
		} else {
			pp = &(*pp)->next;
		}
	}
}

static struct cart_ctx *open_ctx(struct cart_conn *c, const char *id, const char *fixed,
				 int rate, enum emu_pcm enc, json_t *j)
{
	struct cart_ctx *x = cart_ctx_new(id, c->srv->ctx_serial++, fixed, rate, enc);
	json_t *delay = json_object_get(j, "max_buffer_delay_ms");

	if (!x)
		return NULL;
	x->timestamps = json_is_true(json_object_get(j, "add_timestamps"));
	x->buffer_delay_ms = json_is_integer(delay) ? (int)json_integer_value(delay) : 0;
	x->next = c->ctxs;
	c->ctxs = x;
	c->nctxs++;
	forget_old(c);
	return x;
}

static const struct cart_env *env_of(struct cart_conn *c, struct cart_env *env)
{
	env->e = c->srv->e;
	env->tts = c->srv->tts;
	env->conn_serial = c->ws.serial;
	env->q = &c->q;
	return env;
}

static void on_generation(struct cart_conn *c, json_t *j, const char *id)
{
	struct cart_env env;
	struct cart_err er;
	struct cart_ctx *x = find_ctx(c, id);
	char *fixed = NULL;
	enum emu_pcm enc;
	int rate, rc = check_request(j, &rate, &enc, &fixed, &er);

	if (rc == -ENOMEM)
		c->broken = true;
	else if (rc)
		send_error(c, id, &er);
	else if (x && x->cancelled)
		;	/* input for a cancelled context is dropped */
	else if (x && (x->finished || x->input_closed)) {
		set_err(&er, 400, "invalid_request", "Invalid request",
			"Context has already been closed; use a new context_id.");
		send_error(c, id, &er);
	} else if (x && strcmp(x->fixed, fixed)) {
		set_err(&er, 400, "invalid_request", "Invalid request",
			"model_id, voice, output_format and language must be identical for "
			"every input of a context.");
		send_error(c, id, &er);
		x->finished = true;
	} else if (!x && !(x = open_ctx(c, id, fixed, rate, enc, j))) {
		c->broken = true;
	} else if (cart_ctx_input(x, env_of(c, &env), json_string_value(json_object_get(j, "transcript")),
				  json_is_true(json_object_get(j, "continue")),
				  json_is_true(json_object_get(j, "flush")))) {
		c->broken = true;
	}
	free(fixed);
}

static void on_message(struct cart_conn *c, const char *s, size_t len)
{
	json_t *j = json_loadb(s, len, 0, NULL);
	json_t *ctx_id = json_object_get(j, "context_id");
	struct cart_err er;
	char gen_id[48];
	const char *id;

	emu_rec_add(&c->srv->rec, json_pack("{s:i, s:O?, s:s%}", "conn", (int)c->ws.serial,
					    "message", j, "raw", s, len));
	if (!json_is_object(j) || (ctx_id && !json_is_string(ctx_id))) {
		set_err(&er, 400, "invalid_request", "Invalid request",
			j ? "context_id must be a string." : "Invalid JSON message.");
		send_error(c, NULL, &er);
	} else if (json_is_true(json_object_get(j, "cancel"))) {
		struct cart_ctx *x = ctx_id ? find_ctx(c, json_string_value(ctx_id)) : NULL;

		if (x)
			cart_ctx_cancel(x);
	} else {
		if (ctx_id) {
			id = json_string_value(ctx_id);
		} else {	/* no context_id: the server names one, as the real one */
			emu_rand_id(&c->srv->rng, "ctx_", 16, gen_id, sizeof(gen_id));
			id = gen_id;
		}
		on_generation(c, j, id);
	}
	json_decref(j);
}

/* ---- sending ---- */

/* ws_send_queued, counted; a broken connection needs the writeable callback. */
static int send_queued(struct cart_conn *c)
{
	unsigned before = c->ws.ft.sent;
	int rc;

	if (c->broken)
		return 1;
	rc = ws_send_queued(&c->ws.ft, c->wsi, &c->q, "{\"type\":\"chunk\",\"data\":\"AAAA",
			    INT64_MAX);
	c->srv->n_sent += c->ws.ft.sent - before;
	return rc;
}

static void kick(struct cart_conn *c)
{
	int64_t now = emu_now_us(), wake = INT64_MAX;
	struct cart_env env;

	if (c->ws.close_sent)
		return;
	for (struct cart_ctx *x = c->ctxs; x && !c->broken; x = x->next) {
		int64_t w = cart_ctx_pump(x, env_of(c, &env), now);

		if (w < 0)
			c->broken = true;
		else if (w < wake)
			wake = w;
	}
	if (send_queued(c))
		lws_callback_on_writable(c->wsi);	/* a failed write is closed there */
	ws_timer_at(c->wsi, wake);
}

static int on_writeable(void *conn)
{
	struct cart_conn *c = conn;
	int rc;

	if (c->ws.close_sent)
		return 0;
	if (c->broken)
		return ws_close(&c->ws, c->wsi, &c->q, 1011, "internal error");
	if (ws_fault_closes(&c->ws.ft))
		return ws_close(&c->ws, c->wsi, &c->q, 1011, "vagent-emu fault: close");
	rc = send_queued(c);
	if (rc > 0)
		lws_callback_on_writable(c->wsi);
	return rc < 0 ? -1 : 0;
}

/* A synthesis result, routed to its context. */
static void on_result(void *conn, struct emu_tts_job *j)
{
	struct cart_conn *c = conn;

	for (struct cart_ctx *x = c->ctxs; x; x = x->next) {
		if (x->serial == j->ctx) {
			cart_ctx_result(x, j);
			break;
		}
	}
	kick(c);
}

/* ---- connection life ---- */

static void on_open(void *srv, struct lws *wsi, void *conn)
{
	static const char *const hide[] = { "api_key", "access_token", NULL };
	struct cart_server *s = srv;
	struct cart_conn *c = conn;

	memset(c, 0, sizeof(*c));
	c->srv = s;
	c->wsi = wsi;
	c->ws.serial = s->serial++;
	c->ws.ft.f = s->next_fault;
	c->structured = s->next_structured;
	ws_rec_open(&s->rec, wsi, c->ws.serial, hide);
}

static void on_closed(void *conn)
{
	struct cart_conn *c = conn;

	while (c->ctxs) {
		struct cart_ctx *x = c->ctxs;

		c->ctxs = x->next;
		cart_ctx_free(x);
	}
	ws_txq_clear(&c->q);
}

static void on_receive(void *conn, const void *in, size_t len)
{
	struct cart_conn *c = conn;
	int rc;

	if (lws_frame_is_binary(c->wsi)) {
		struct cart_err er;

		set_err(&er, 400, "invalid_request", "Invalid request",
			"Binary messages are not supported; send JSON text.");
		send_error(c, NULL, &er);
		kick(c);
		return;
	}
	rc = ws_rx_take(&c->ws.rx, in, len, lws_is_final_fragment(c->wsi), 0);
	if (rc < 0)
		c->broken = true;
	if (rc == 0)
		return;
	if (rc > 0) {
		c->srv->n_received++;
		on_message(c, c->ws.rx.p, c->ws.rx.len);
	}
	kick(c);
}

static void on_timer(void *conn)
{
	kick(conn);
}

static int on_http(void *srv, struct lws *wsi, const char *path)
{
	return ws_http_inspect(wsi, path, &((struct cart_server *)srv)->rec);
}

const struct ws_ops cart_ws_ops = {
	.name = "cartesia", .pss_size = sizeof(struct cart_conn),
	.upgrade = on_upgrade, .http = on_http, .open = on_open, .receive = on_receive,
	.writeable = on_writeable, .timer = on_timer, .result = on_result, .closed = on_closed,
};
