/*
 * emu_xi_tts.c - a TEST DOUBLE of ElevenLabs' TTS websockets
 * (ws://127.0.0.1:PORT/v1/text-to-speech/VOICE/stream-input and
 * .../multi-stream-input), speaking protocols.md section 4 to vagent's real
 * ElevenLabs client. Speech comes from espeak-ng (emu_tts.c), in the
 * output_format asked for (pcm_RATE, ulaw_8000, alaw_8000).
 *
 * What it holds the client to: the key (xi-api-key header, or xi_api_key
 * in the first message), a single-space first message (single context),
 * settings only in a context's first message (later ones are ignored and
 * logged), at most 5 open contexts (else max_active_conversations, 1008),
 * the inactivity timeout (input_timeout_exceeded, 1008), valid JSON
 * (invalid_input_message, 1008). Text without its trailing space is
 * recorded and logged, as the real service may then stay silent.
 *
 * Generation: a context's text is generated once chunk_length_schedule's
 * characters wait (up to the last space), on flush, on close_context and
 * on EOS; its audio goes out in 50 ms messages, the first --tts-ttfb-ms
 * after the generation began, then paced at --tts-rtf, with alignment on
 * each piece's first message. A closed context sends isFinal after its
 * last audio (close_context stops no audio already asked for).
 *
 * Owns: the ElevenLabs vhost's connections, their contexts, the record of
 * received messages (GET /emu/requests on the same port).
 * Never: runs off the lws service thread; calls espeak itself.
 * Fails: no memory closes the connection with 1011.
 */
#include "emu_ws.h"

#include "../../common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XI_MAX_OPEN	5
#define CHUNK_MS	50
#define LATE_SLACK_US	20000

struct xi_piece {
	struct xi_piece *next;
	uint64_t seq;
	bool ready;
	char *text;
	uint8_t *audio;
	size_t len, off;
};

struct xi_ctx {
	struct xi_ctx *next;
	char *id;			/* "" on stream-input */
	uint64_t serial;
	char *text;			/* not generated yet */
	size_t text_len;
	int gens;
	int schedule[4];
	bool closed, final_sent;
	struct xi_piece *pieces, *tail;
	uint64_t next_seq;
	int64_t gen_us;			/* a generation began: first audio due from here */
	bool first_sent;
	int64_t next_due_us;
	int64_t last_input_us;
};

/* What the upgrade asked for. */
struct xi_up {
	bool multi;
	int rate;
	enum emu_pcm enc;
	int timeout_s;
	bool authed;			/* the header carried the key (or none is needed) */
};

struct xi_conn;

struct xi_server {
	struct emu *e;
	struct emu_tts *tts;
	struct emu_rng rng;
	unsigned conns;
	uint64_t serial, ctx_serial;
	struct emu_fault next_fault;
	struct xi_up next_up;
	struct emu_rec rec;
};

struct xi_conn {
	struct ws_conn ws;		/* first: emu_ws.c's view */
	struct xi_server *srv;
	struct lws *wsi;
	struct xi_up up;
	unsigned received;
	struct xi_ctx *ctxs;
	struct ws_txq q;
	int64_t last_input_us;
	bool broken;
	int close_code;			/* close once the queue is out; 0: no */
	char close_reason[64];
};

int xi_server_new(struct emu *e, struct emu_tts *tts, struct xi_server **out)
{
	struct xi_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->e = e;
	s->tts = tts;
	emu_rng_seed(&s->rng, 11);
	*out = s;
	return 0;
}

void xi_server_free(struct xi_server *s)
{
	if (!s)
		return;
	emu_rec_clear(&s->rec);
	free(s);
}

/* ---- upgrade ---- */

static int refuse(struct lws *wsi, int status, const char *code, const char *msg)
{
	json_t *j = json_pack("{s:{s:s, s:s}}", "detail", "status", code, "message", msg);
	char *body = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL;
	int rc = ws_http_reply(wsi, status, "application/json", body ? body : "{}", NULL);

	json_decref(j);
	free(body);
	log_info("tts", NULL, "elevenlabs emulator: refused upgrade with %d: %s", status, msg);
	return rc ? -1 : 1;
}

static int parse_format(const char *f, struct xi_up *up)
{
	static const int rates[] = { 8000, 16000, 22050, 24000, 44100 };
	char want[32];

	if (!strcmp(f, "ulaw_8000") || !strcmp(f, "alaw_8000")) {
		up->rate = 8000;
		up->enc = f[0] == 'u' ? PCM_MULAW : PCM_ALAW;
		return 0;
	}
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		snprintf(want, sizeof(want), "pcm_%d", rates[i]);
		if (!strcmp(f, want)) {
			up->rate = rates[i];
			up->enc = PCM_S16LE;
			return 0;
		}
	}
	return -EINVAL;
}

/* The query: model_id, output_format, inactivity_timeout. NULL or why not. */
static const char *check_query(struct lws *wsi, struct xi_up *up)
{
	char name[64], v[256], format[256] = "mp3_44100_128";
	int i;

	up->timeout_s = 20;
	for (i = 0; !ws_query(wsi, i, name, sizeof(name), v, sizeof(v)); i++) {
		if (!strcmp(name, "model_id") && !strncmp(v, "eleven_v3", 9))
			return "eleven_v3 is not available over WebSocket.";
		if (!strcmp(name, "output_format"))
			snprintf(format, sizeof(format), "%s", v);
		if (!strcmp(name, "inactivity_timeout")) {
			up->timeout_s = atoi(v);
			if (up->timeout_s < 1 || up->timeout_s > 180)
				return "inactivity_timeout must be between 1 and 180.";
		}
	}
	if (parse_format(format, up))
		return "output_format not supported by vagent-emu (pcm_*, ulaw_8000, alaw_8000).";
	return NULL;
}

static int on_upgrade(void *srv, struct lws *wsi)
{
	struct xi_server *s = srv;
	const char *key = s->e->opt.key[EMU_XI], *why;
	char path[256], v[512];
	struct xi_up up = { 0 };
	size_t n;
	struct emu_fault f;

	ws_path(wsi, path, sizeof(path));
	n = strlen(path);
	up.multi = n > 19 && !strcmp(path + n - 19, "/multi-stream-input");
	if (strncmp(path, "/v1/text-to-speech/", 19) || n <= 19 ||
	    (!up.multi && (n < 13 || strcmp(path + n - 13, "/stream-input"))) ||
	    strchr(path + 19, '/') != strrchr(path, '/'))
		return refuse(wsi, 404, "not_found", "No such endpoint.");
	f = emu_fault_for(&s->e->fault[EMU_XI], s->conns++);
	if (f.kind == FAULT_REFUSE)
		return refuse(wsi, f.n, "service_unavailable", "vagent-emu fault: refused.");
	bool have = !ws_header(wsi, "xi-api-key", v, sizeof(v));
	if (key && have && strcmp(v, key))
		return refuse(wsi, 401, "invalid_api_key", "Invalid API key.");
	up.authed = !key || have;
	if ((why = check_query(wsi, &up)))
		return refuse(wsi, 400, "invalid_request", why);
	s->next_fault = f;
	s->next_up = up;
	return 0;
}

/* ---- contexts ---- */

static void ctx_free(struct xi_ctx *x)
{
	while (x->pieces) {
		struct xi_piece *p = x->pieces;

		x->pieces = p->next;
		free(p->text);
		free(p->audio);
		free(p);
	}
	free(x->text);
	free(x->id);
	free(x);
}

static struct xi_ctx *ctx_find(struct xi_conn *c, const char *id)
{
	for (struct xi_ctx *x = c->ctxs; x; x = x->next)
		if (!strcmp(x->id, id))
			return x;
	return NULL;
}

static int ctx_open_count(const struct xi_conn *c)
{
	int n = 0;

	for (const struct xi_ctx *x = c->ctxs; x; x = x->next)
		n += !x->final_sent;
	return n;
}

static void ctx_forget(struct xi_conn *c, struct xi_ctx *gone)
{
	for (struct xi_ctx **pp = &c->ctxs; *pp; pp = &(*pp)->next) {
		if (*pp == gone) {
			*pp = gone->next;
			ctx_free(gone);
			return;
		}
	}
}

static struct xi_ctx *ctx_new(struct xi_conn *c, const char *id)
{
	struct xi_ctx *x = calloc(1, sizeof(*x));

	if (!x || !(x->id = strdup(id))) {
		free(x);
		return NULL;
	}
	static const int dflt[4] = { 120, 160, 250, 290 };
	memcpy(x->schedule, dflt, sizeof(dflt));
	x->serial = c->srv->ctx_serial++;
	x->last_input_us = emu_now_us();
	x->next = c->ctxs;
	c->ctxs = x;
	return x;
}

/* A context's settings: taken from its first message only. */
static void ctx_settings(struct xi_ctx *x, json_t *j)
{
	json_t *s = json_object_get(json_object_get(j, "generation_config"),
				    "chunk_length_schedule");

	for (size_t i = 0; i < 4 && i < json_array_size(s); i++) {
		json_int_t v = json_integer_value(json_array_get(s, i));
		if (v >= 50 && v <= 500)
			x->schedule[i] = (int)v;
	}
}

/* Sends text[0, n) to synthesis as one piece. */
static int generate(struct xi_conn *c, struct xi_ctx *x, size_t n)
{
	struct emu_tts_job *job;
	struct xi_piece *p;
	size_t i;

	for (i = 0; i < n && isspace((unsigned char)x->text[i]); i++)
		;
	if (i < n) {
		job = calloc(1, sizeof(*job));
		p = job ? calloc(1, sizeof(*p)) : NULL;
		if (!p || !(job->text = strndup(x->text + i, n - i)) ||
		    !(p->text = strndup(x->text + i, n - i))) {
			if (job)
				free(job->text);
			free(job);
			free(p);
			return -ENOMEM;
		}
		p->seq = x->next_seq++;
		if (x->tail)
			x->tail->next = p;
		else
			x->pieces = p;
		x->tail = p;
		if (!x->gen_us)
			x->gen_us = emu_now_us();
		x->gens++;
		job->conn = c->ws.serial;
		job->ctx = x->serial;
		job->seq = p->seq;
		job->rate = c->up.rate;
		job->enc = c->up.enc;
		emu_tts_submit(c->srv->tts, job);
	}
	memmove(x->text, x->text + n, x->text_len - n + 1);
	x->text_len -= n;
	return 0;
}

/* Text in; generated by the schedule, or all of it on flush. */
static int ctx_text(struct xi_conn *c, struct xi_ctx *x, const char *t, bool flush)
{
	size_t n = strlen(t), last_space = 0;
	char *p;

	if (n) {
		if (!(p = realloc(x->text, x->text_len + n + 1)))
			return -ENOMEM;
		x->text = p;
		memcpy(x->text + x->text_len, t, n + 1);
		x->text_len += n;
	}
	if (!x->text_len)
		return 0;
	if (flush)
		return generate(c, x, x->text_len);
	for (size_t i = 0; i < x->text_len; i++)
		if (isspace((unsigned char)x->text[i]))
			last_space = i + 1;
	if (x->text_len >= (size_t)x->schedule[x->gens < 3 ? x->gens : 3] && last_space)
		return generate(c, x, last_space);
	return 0;
}

static void ctx_result(struct xi_conn *c, struct emu_tts_job *job)
{
	for (struct xi_ctx *x = c->ctxs; x; x = x->next) {
		if (x->serial != job->ctx)
			continue;
		for (struct xi_piece *p = x->pieces; p; p = p->next) {
			if (p->seq == job->seq) {
				p->audio = job->audio;
				p->len = job->len;
				job->audio = NULL;
				p->ready = true;
			}
		}
		return;
	}
}

/* ---- what goes out ---- */

static void queue(struct xi_conn *c, json_t *j)
{
	if (ws_txq_push_json(&c->q, j, emu_now_us()))
		c->broken = true;
}

static void fail(struct xi_conn *c, const char *code, const char *msg);

/* The real service's words for an input timeout. */
static void timed_out(struct xi_conn *c)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "Have not received a new text input within the timeout of "
		 "%d seconds. Streaming input terminates after this time to avoid unnecessary "
		 "costs.", c->up.timeout_s);
	fail(c, "input_timeout_exceeded", msg);
}

/* An error message, then close 1008, as the real one. */
static void fail(struct xi_conn *c, const char *code, const char *msg)
{
	queue(c, json_pack("{s:s, s:s, s:i}", "message", msg, "error", code, "code", 1008));
	c->close_code = 1008;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", code);
	log_info("tts", NULL, "elevenlabs emulator: %s: %s", code, msg);
}

static json_t *alignment(const char *text, double secs)
{
	json_t *chars = json_array(), *start = json_array(), *dur = json_array();
	size_t n = strlen(text);
	double each = n ? secs * 1000.0 / (double)n : 0;

	for (size_t i = 0; i < n; i++) {
		json_array_append_new(chars, json_stringn(text + i, 1));
		json_array_append_new(start, json_integer((json_int_t)(each * (double)i)));
		json_array_append_new(dur, json_integer((json_int_t)each));
	}
	return json_pack("{s:o, s:o, s:o}", "charStartTimesMs", start, "charsDurationsMs", dur,
			 "chars", chars);
}

static void send_audio(struct xi_conn *c, struct xi_ctx *x, struct xi_piece *p, int64_t due,
		       int64_t now)
{
	size_t width = emu_pcm_width(c->up.enc);
	size_t n = (size_t)c->up.rate * CHUNK_MS / 1000 * width;
	double secs;
	json_t *j, *al = NULL;
	char *b64;

	if (n > p->len - p->off)
		n = p->len - p->off;
	if (p->off == 0)
		al = alignment(p->text, (double)p->len / (double)width / (double)c->up.rate);
	b64 = emu_base64(p->audio + p->off, n);
	j = b64 ? json_pack("{s:s, s:b, s:O?, s:o?}", "audio", b64, "isFinal", 0,
			    "normalizedAlignment", al, "alignment", al) : NULL;
	free(b64);
	if (j && c->up.multi)
		json_object_set_new(j, "contextId", json_string(x->id));
	queue(c, j);
	p->off += n;
	secs = (double)n / (double)width / (double)c->up.rate;
	if (now - due > LATE_SLACK_US)
		due = now;	/* audio came late: pace from now, no burst */
	x->next_due_us = due + (int64_t)(secs * c->srv->e->opt.tts_rtf * 1e6);
	x->first_sent = true;
}

static void send_final(struct xi_conn *c, struct xi_ctx *x)
{
	x->final_sent = true;
	if (c->up.multi) {
		queue(c, json_pack("{s:b, s:s}", "isFinal", 1, "contextId", x->id));
	} else {
		queue(c, json_pack("{s:n, s:b}", "audio", "isFinal", 1));
		c->close_code = 1000;	/* EOS: final audio, isFinal, close */
		snprintf(c->close_reason, sizeof(c->close_reason), "%s", "");
	}
}

/* Queues what is due of x at now; returns when it next needs to run. */
static int64_t pump(struct xi_conn *c, struct xi_ctx *x, int64_t now)
{
	int64_t ttfb = (int64_t)c->srv->e->opt.tts_ttfb_ms * 1000;

	while (!c->broken && x->pieces && x->pieces->ready) {
		struct xi_piece *p = x->pieces;

		if (p->off < p->len) {
			int64_t due = x->first_sent ? x->next_due_us : x->gen_us + ttfb;
			if (due > now)
				return due;
			send_audio(c, x, p, due, now);
			continue;
		}
		x->pieces = p->next;
		if (!x->pieces)
			x->tail = NULL;
		free(p->text);
		free(p->audio);
		free(p);
	}
	if (!x->pieces && x->closed && !x->final_sent && !x->text_len)
		send_final(c, x);
	if (!x->closed && !x->final_sent)	/* open and quiet: the inactivity timeout */
		return x->last_input_us + (int64_t)c->up.timeout_s * 1000000;
	return INT64_MAX;
}

static void kick(struct xi_conn *c)
{
	int64_t now = emu_now_us(), wake = INT64_MAX;

	if (c->ws.close_sent)
		return;
	for (struct xi_ctx *x = c->ctxs; x && !c->broken && !c->close_code; x = x->next) {
		int64_t w = pump(c, x, now);
		if (w <= now && !x->closed) {
			timed_out(c);
			break;
		}
		wake = w < wake ? w : wake;
	}
	if (c->up.multi && !c->close_code && !ctx_open_count(c)) {
		int64_t idle = c->last_input_us + (int64_t)c->up.timeout_s * 1000000;
		if (idle <= now)
			timed_out(c);
		wake = idle < wake ? idle : wake;
	}
	if (c->broken || c->close_code ||
	    ws_send_queued(&c->ws.ft, c->wsi, &c->q, "{\"audio\":\"AAAA", INT64_MAX))
		lws_callback_on_writable(c->wsi);	/* a failed write is closed there */
	ws_timer_at(c->wsi, wake);
}

/* ---- what comes in ---- */

static void on_close_context(struct xi_conn *c, struct xi_ctx *x)
{
	if (!x || x->closed)
		return;
	x->closed = true;
	if (x->text_len && generate(c, x, x->text_len))
		c->broken = true;
}

/* A message of a context (multi) or of the one stream (single). */
static void on_input(struct xi_conn *c, json_t *j, const char *id)
{
	json_t *text = json_object_get(j, "text");
	const char *t = json_string_value(text);
	bool flush = json_is_true(json_object_get(j, "flush"));
	bool settings = json_object_get(j, "voice_settings") ||
			json_object_get(j, "generation_config");
	struct xi_ctx *x = ctx_find(c, id);

	if (x && x->final_sent) {	/* a closed id used again: a new context */
		ctx_forget(c, x);
		x = NULL;
	}
	if (!x) {
		if (ctx_open_count(c) >= XI_MAX_OPEN) {
			fail(c, "max_active_conversations", "Maximum simultaneous contexts per "
			     "WebSocket connection exceeded (5). Please close an existing context "
			     "before opening a new one.");
			return;
		}
		if (!c->up.multi && (!t || strcmp(t, " "))) {
			fail(c, "invalid_input_message", "The first message must have text "
			     "set to a single space.");
			return;
		}
		if (!(x = ctx_new(c, id))) {
			c->broken = true;
			return;
		}
		ctx_settings(x, j);
	} else if (settings) {
		log_warn("tts", NULL, "elevenlabs emulator: settings after the first message of "
			 "context \"%s\" are ignored", id);
	}
	if (text && !t) {
		fail(c, "invalid_input_message", "text must be a string.");
		return;
	}
	x->last_input_us = emu_now_us();
	if (x->closed)
		return;		/* closed, not final yet: nothing more enters */
	if (!c->up.multi && t && !*t) {	/* EOS */
		on_close_context(c, x);
		return;
	}
	if (t && *t && strcmp(t, " ") && t[strlen(t) - 1] != ' ')
		log_warn("tts", NULL, "elevenlabs emulator: text without its trailing space: "
			 "\"%.60s\"", t);
	if (ctx_text(c, x, t && strcmp(t, " ") ? t : "", flush))
		c->broken = true;
}

static bool key_in_message(struct xi_conn *c, json_t *j)
{
	const char *key = c->srv->e->opt.key[EMU_XI];
	const char *k = json_string_value(json_object_get(j, "xi_api_key"));

	if (!k)
		k = json_string_value(json_object_get(j, "xi-api-key"));
	return !key || (k && !strcmp(k, key));
}

static void on_message(struct xi_conn *c, const char *s, size_t len)
{
	json_t *j = json_loadb(s, len, 0, NULL);
	json_t *id = json_object_get(j, "context_id");

	emu_rec_add(&c->srv->rec, json_pack("{s:i, s:O?, s:s%}", "conn", (int)c->ws.serial,
					    "message", j, "raw", s, len));
	c->last_input_us = emu_now_us();
	if (!json_is_object(j) || (id && !json_is_string(id))) {
		fail(c, "invalid_input_message", "Invalid message received.");
	} else if (c->received++ == 0 && !c->up.authed && !key_in_message(c, j)) {
		fail(c, "invalid_api_key", "Invalid API key.");
	} else if (!c->up.multi) {
		on_input(c, j, "");
	} else if (json_is_true(json_object_get(j, "close_socket"))) {
		for (struct xi_ctx *x = c->ctxs; x; x = x->next)
			on_close_context(c, x);
		c->close_code = 1000;	/* once the queue is out (see on_writeable) */
	} else if (!id) {
		fail(c, "invalid_input_message", "context_id is required on multi-stream-input.");
	} else if (json_is_true(json_object_get(j, "close_context"))) {
		on_close_context(c, ctx_find(c, json_string_value(id)));
	} else {
		on_input(c, j, json_string_value(id));
	}
	json_decref(j);
}

/* ---- sending ---- */

/* Contexts still generating before a close_socket may close it. */
static bool all_final(const struct xi_conn *c)
{
	for (const struct xi_ctx *x = c->ctxs; x; x = x->next)
		if (!x->final_sent)
			return false;
	return true;
}

static int on_writeable(void *conn)
{
	struct xi_conn *c = conn;
	int rc;

	if (c->ws.close_sent)
		return 0;
	if (c->broken)
		return ws_close(&c->ws, c->wsi, &c->q, 1011, "internal error");
	if (ws_fault_closes(&c->ws.ft))
		return ws_close(&c->ws, c->wsi, &c->q, 1011, "vagent-emu fault: close");
	if (!c->q.head) {
		if (c->close_code && (c->close_code != 1000 || all_final(c)))
			return ws_close(&c->ws, c->wsi, &c->q, c->close_code, c->close_reason);
		return 0;
	}
	rc = ws_send_queued(&c->ws.ft, c->wsi, &c->q, "{\"audio\":\"AAAA", INT64_MAX);
	if (rc > 0 || (rc == 0 && c->close_code))
		lws_callback_on_writable(c->wsi);	/* more, or the close behind them */
	return rc < 0 ? -1 : 0;
}

/* A synthesis result, routed to its context. */
static void on_result(void *conn, struct emu_tts_job *j)
{
	ctx_result(conn, j);
	kick(conn);
}

/* ---- connection life ---- */

static void on_open(void *srv, struct lws *wsi, void *conn)
{
	static const char *const hide[] = { "authorization", NULL };
	struct xi_server *s = srv;
	struct xi_conn *c = conn;

	memset(c, 0, sizeof(*c));
	c->srv = s;
	c->wsi = wsi;
	c->ws.serial = s->serial++;
	c->ws.ft.f = s->next_fault;
	c->up = s->next_up;
	c->last_input_us = emu_now_us();
	ws_rec_open(&s->rec, wsi, c->ws.serial, hide);
	kick(c);
}

static void on_closed(void *conn)
{
	struct xi_conn *c = conn;

	while (c->ctxs) {
		struct xi_ctx *x = c->ctxs;

		c->ctxs = x->next;
		ctx_free(x);
	}
	ws_txq_clear(&c->q);
}

static void on_receive(void *conn, const void *in, size_t len)
{
	struct xi_conn *c = conn;
	int rc;

	if (lws_frame_is_binary(c->wsi)) {
		fail(c, "invalid_input_message", "Binary messages are not supported.");
		kick(c);
		return;
	}
	rc = ws_rx_take(&c->ws.rx, in, len, lws_is_final_fragment(c->wsi), 0);
	if (rc < 0)
		c->broken = true;
	if (rc == 0)
		return;
	if (rc > 0 && !c->close_code)
		on_message(c, c->ws.rx.p, c->ws.rx.len);
	kick(c);
}

static void on_timer(void *conn)
{
	kick(conn);
}

static int on_http(void *srv, struct lws *wsi, const char *path)
{
	return ws_http_inspect(wsi, path, &((struct xi_server *)srv)->rec);
}

const struct ws_ops xi_ws_ops = {
	.name = "elevenlabs", .pss_size = sizeof(struct xi_conn),
	.upgrade = on_upgrade, .http = on_http, .open = on_open, .receive = on_receive,
	.writeable = on_writeable, .timer = on_timer, .result = on_result, .closed = on_closed,
};
