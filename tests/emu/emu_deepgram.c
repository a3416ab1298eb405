/*
 * emu_deepgram.c - a TEST DOUBLE of Deepgram live STT
 * (ws://127.0.0.1:PORT/v1/listen), speaking the wire protocol of
 * protocols.md section 1 to vagent's real Deepgram client.
 *
 * It "hears" by energy: 20 ms windows whose RMS reaches --vad-rms start a
 * speech segment (SpeechStarted with vad_events=true); interim Results
 * (interim_results=true) reveal the script's utterance word by word every
 * 200 ms of speech; `endpointing` ms of silence ends the segment and,
 * --stt-final-ms later, a final Results (is_final, speech_final) carries the
 * script's Nth utterance (N counts segments on this websocket); with
 * utterance_end_ms an UtteranceEnd follows that much silence after the
 * last word, interim or final, even if speech with no words came since.
 * Times are seconds of audio received on this connection.
 * With endpointing=false a segment ends (is_final, speech_final:false)
 * at utterance_end_ms of silence, or after 1 s; audio with no speech
 * still gets an empty final every 5 s. KeepAlive, Finalize (final with
 * from_finalize), CloseStream (and the deprecated empty binary frame:
 * remaining final, Metadata, close 1000) behave as the real service;
 * 10 s (--stt-idle-ms) without data closes 1011 NET-0001. Without
 * encoding= the audio must start with a WAV header.
 *
 * Owns: the Deepgram vhost's per-connection state (lws per-session data)
 * and the server state (fault counter, record of what clients sent).
 * Never: runs off the lws service thread; blocks.
 * Fails: a refused upgrade answers the real HTTP status and JSON body; a
 * peer's bad message gets what Deepgram sends; an internal failure (no
 * memory) closes that connection with 1011.
 */
#include "emu_dg.h"
#include "emu_ws.h"

#include "../../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define INTERIM_S	0.2
#define EMPTY_FINAL_S	5.0	/* silence-only audio still gets a final this often */
#define NO_EP_FINAL_S	1.0	/* endpointing=false: segment ends after this silence */

struct dg_server {
	struct emu *e;
	struct emu_rng rng;
	unsigned conns;			/* upgrades that reached the fault check */
	unsigned serial;		/* connections established */
	struct dg_cfg next_cfg;		/* checked at upgrade, taken by the new pss */
	struct emu_fault next_fault;
	char next_request_id[37];
	struct emu_rec rec;
	uint64_t n_audio, n_windows, n_sent;	/* counts for the exit log */
};

struct dg_conn {
	struct ws_conn ws;		/* first: emu_ws.c's view */
	struct dg_server *srv;
	struct dg_cfg cfg;
	char request_id[37];
	char model_uuid[37];
	/* receiving */
	bool header_done;		/* containerised audio: WAV header skipped */
	struct dg_vad vad;		/* the 20 ms window being filled */
	struct lws *wsi;
	uint64_t frames;		/* sample frames analysed */
	uint64_t bytes;
	int64_t last_rx_us;
	/* hearing */
	bool seg_active;
	double seg_start, last_voice_end, next_interim;
	int interims;
	double cursor;			/* end of the last final slice */
	bool ue_armed;
	double last_word_end;
	size_t utt_index;
	/* sending */
	struct ws_txq q;
	bool ending;			/* CloseStream: close 1000 once drained */
	bool closing;			/* close now with close_code/close_reason */
	int close_code;
	const char *close_reason;
	bool broken;			/* out of memory: close 1011 */
};

/* ---- server ---- */

int dg_server_new(struct emu *e, struct dg_server **out)
{
	struct dg_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->e = e;
	emu_rng_seed(&s->rng, 1);
	*out = s;
	return 0;
}

void dg_server_free(struct dg_server *s)
{
	if (!s)
		return;
	log_info("stt", NULL, "deepgram emulator: %u connections, %llu audio messages, %llu "
		 "20 ms windows heard, %llu messages sent", s->serial,
		 (unsigned long long)s->n_audio, (unsigned long long)s->n_windows,
		 (unsigned long long)s->n_sent);
	emu_rec_clear(&s->rec);
	free(s);
}

static double audio_pos(const struct dg_conn *c)
{
	return (double)c->frames / (double)c->cfg.rate;
}

/* ---- refusing an upgrade ---- */

static const char *err_code_for(int status)
{
	switch (status) {
	case 400: return "INVALID_QUERY_PARAMETER";
	case 401: return "INVALID_AUTH";
	case 402: return "ASR_PAYMENT_REQUIRED";
	case 403: return "INSUFFICIENT_PERMISSIONS";
	case 404: return "NOT_FOUND";
	case 429: return "TOO_MANY_REQUESTS";
	default: return status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST";
	}
}

static const char *err_msg_for(int status)
{
	switch (status) {
	case 401: return "Invalid credentials.";
	case 402: return "Project does not have enough credits for an ASR request.";
	case 403: return "Insufficient permissions.";
	case 404: return "Not found.";
	case 429: return "Too many requests. Please try again later.";
	case 503: return "Service unavailable. Please try again later.";
	default: return "Internal server error.";
	}
}

/* The real body {"err_code","err_msg","request_id"}; dg-error repeats the text. */
static int refuse(struct dg_server *s, struct lws *wsi, int status, const char *msg)
{
	char rid[37], *body;
	json_t *j;
	int rc;

	emu_uuid(&s->rng, rid);
	if (!msg)
		msg = err_msg_for(status);
	j = json_pack("{s:s, s:s, s:s}", "err_code", err_code_for(status), "err_msg", msg,
		      "request_id", rid);
	body = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL;
	json_decref(j);
	{
		const char *hdrs[] = { "dg-request-id", rid, "dg-error", msg, NULL };

		rc = ws_http_reply(wsi, status, "application/json", body ? body : "{}", hdrs);
	}
	free(body);
	log_info("stt", NULL, "deepgram emulator: refused upgrade with %d: %s", status, msg);
	return rc ? -1 : 1;
}

static bool auth_ok(struct dg_server *s, struct lws *wsi)
{
	const char *key = s->e->opt.key[EMU_DG];
	char auth[512];

	if (!key)
		return true;
	if (ws_header(wsi, "authorization", auth, sizeof(auth)))
		return false;
	return !strncasecmp(auth, "Token ", 6) && !strcmp(auth + 6, key);
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 accepts, 1 refused (answered). */
static int on_upgrade(void *srv, struct lws *wsi)
{
	struct dg_server *s = srv;
	char path[256], msg[256];
	struct emu_fault f;

	ws_path(wsi, path, sizeof(path));
	if (strcmp(path, "/v1/listen"))
		return refuse(s, wsi, 404, NULL);
	f = emu_fault_for(&s->e->fault[EMU_DG], s->conns++);
	if (f.kind == FAULT_REFUSE)
		return refuse(s, wsi, f.n, NULL);
	if (!auth_ok(s, wsi))
		return refuse(s, wsi, 401, NULL);
	if (dg_cfg_parse(wsi, &s->next_cfg, msg, sizeof(msg)))
		return refuse(s, wsi, 400, msg);
	s->next_fault = f;
	emu_uuid(&s->rng, s->next_request_id);
	return 0;
}

/* LWS_CALLBACK_ADD_HEADERS: the 101 carries dg-request-id, as the real one. */
static int add_headers(void *srv, struct lws *wsi, struct lws_process_html_args *a)
{
	struct dg_server *s = srv;
	unsigned char *p = (unsigned char *)a->p;

	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"dg-request-id:",
					(const unsigned char *)s->next_request_id,
					(int)strlen(s->next_request_id), &p, p + a->max_len))
		return 1;
	a->p = (char *)p;
	return 0;
}

/* ---- results ---- */

static json_t *results(const struct dg_conn *c, const char *text, size_t reveal,
		       double start, double end, bool is_final, bool speech_final,
		       bool from_finalize)
{
	struct dg_slice sl = {
		.text = text, .reveal = reveal, .start = start, .end = end,
		.w0 = c->seg_active ? c->seg_start : start,
		.w1 = c->seg_active ? c->last_voice_end : end,
		.is_final = is_final, .speech_final = speech_final, .from_finalize = from_finalize,
	};

	return dg_results(&c->cfg, c->request_id, c->model_uuid, &sl);
}

static void kick(struct lws *wsi, struct dg_conn *c);

static void queue(struct lws *wsi, struct dg_conn *c, json_t *j, int64_t due)
{
	if (ws_txq_push_json(&c->q, j, due))
		c->broken = true;
	kick(wsi, c);
}

/* ---- hearing ---- */

/* A segment ends: its final goes out --stt-final-ms later. */
static void end_segment(struct lws *wsi, struct dg_conn *c, double at, bool speech_final,
			bool from_finalize)
{
	const char *text = emu_script_stt(&c->srv->e->script, c->utt_index++);
	int64_t due = emu_now_us() + (int64_t)c->srv->e->opt.stt_final_ms * 1000;

	queue(wsi, c, results(c, text, SIZE_MAX, c->cursor, at, true, speech_final,
			      from_finalize), due);
	c->seg_active = false;
	c->cursor = at;
	if (dg_count_words(text)) {
		c->last_word_end = c->last_voice_end;
		c->ue_armed = c->cfg.interim && c->cfg.utt_end_ms > 0;
	}
}

/* A final with no words for the audio since the last one. */
static void empty_final(struct lws *wsi, struct dg_conn *c, double at, bool from_finalize)
{
	int64_t due = emu_now_us() + (int64_t)c->srv->e->opt.stt_final_ms * 1000;

	queue(wsi, c, results(c, "", 0, c->cursor, at, true, false, from_finalize), due);
	c->cursor = at;
}

/* Speech again: an UtteranceEnd owed for earlier words stays owed until
 * a word is heard (noise with no words does not cancel it). */
static void start_segment(struct lws *wsi, struct dg_conn *c, double t0)
{
	c->seg_active = true;
	c->seg_start = t0;
	c->interims = 0;
	c->next_interim = t0 + INTERIM_S;
	if (c->cfg.vad_events)
		queue(wsi, c, json_pack("{s:s, s:[i,i], s:o}", "type", "SpeechStarted",
					"channel", 0, 1, "timestamp", emu_json_secs(t0)),
		      emu_now_us());
}

static void voiced_window(struct lws *wsi, struct dg_conn *c, double t0, double t1)
{
	if (!c->seg_active)
		start_segment(wsi, c, t0);
	c->last_voice_end = t1;
	if (c->cfg.interim && t1 >= c->next_interim) {
		const char *text = emu_script_stt(&c->srv->e->script, c->utt_index);

		c->interims++;
		c->next_interim = t1 + INTERIM_S;
		if (dg_count_words(text)) {	/* a word ends now: the gap starts again */
			c->last_word_end = t1;
			c->ue_armed = c->cfg.utt_end_ms > 0;
		}
		queue(wsi, c, results(c, text, (size_t)c->interims, c->cursor, t1, false, false,
				      false), emu_now_us());
	}
}

static void silent_window(struct lws *wsi, struct dg_conn *c, double t1)
{
	double silence = t1 - c->last_voice_end;
	int ep = c->cfg.endpointing_ms;

	if (c->seg_active) {
		if (ep >= 0 && silence * 1000.0 >= (double)ep)
			end_segment(wsi, c, t1, true, false);
		else if (c->cfg.utt_end_ms && c->cfg.interim &&
			 silence * 1000.0 >= (double)c->cfg.utt_end_ms)
			end_segment(wsi, c, t1, false, false);
		else if (ep < 0 && !c->cfg.utt_end_ms && silence >= NO_EP_FINAL_S)
			end_segment(wsi, c, t1, false, false);
	} else if (t1 - c->cursor >= EMPTY_FINAL_S) {
		empty_final(wsi, c, t1, false);
	}
	if (c->ue_armed && (t1 - c->last_word_end) * 1000.0 >= (double)c->cfg.utt_end_ms) {
		c->ue_armed = false;
		queue(wsi, c, json_pack("{s:s, s:[i,i], s:o}", "type", "UtteranceEnd",
					"channel", 0, 1, "last_word_end",
					emu_json_secs(c->last_word_end)), emu_now_us());
	}
}

/* dg_vad_feed's verdict on one more window of audio. */
static void on_window(void *arg, size_t frames, bool voiced)
{
	struct dg_conn *c = arg;
	double t0 = audio_pos(c), t1;

	c->frames += frames;
	c->srv->n_windows++;
	t1 = audio_pos(c);
	if (voiced)
		voiced_window(c->wsi, c, t0, t1);
	else
		silent_window(c->wsi, c, t1);
}

/*
 * Containerised audio (no encoding=): a WAV header declares the format.
 * 0: consumed *used bytes of header; -EINVAL: not decodable (DATA-0000).
 */
static int take_wav_header(struct dg_conn *c, const uint8_t *p, size_t len, size_t *used)
{
	size_t off = 12;

	if (len < 44 || memcmp(p, "RIFF", 4) || memcmp(p + 8, "WAVE", 4))
		return -EINVAL;
	while (off + 8 <= len) {
		uint32_t sz = (uint32_t)p[off + 4] | (uint32_t)p[off + 5] << 8 |
			      (uint32_t)p[off + 6] << 16 | (uint32_t)p[off + 7] << 24;

		if (!memcmp(p + off, "fmt ", 4) && off + 24 <= len) {
			int fmt = p[off + 8] | p[off + 9] << 8;

			c->cfg.channels = p[off + 10] | p[off + 11] << 8;
			c->cfg.rate = (int)((uint32_t)p[off + 12] | (uint32_t)p[off + 13] << 8 |
					    (uint32_t)p[off + 14] << 16);
			c->cfg.enc = fmt == 7 ? DG_ENC_MULAW : fmt == 6 ? DG_ENC_ALAW :
				     fmt == 1 ? DG_ENC_LINEAR16 : DG_ENC_NONE;
		} else if (!memcmp(p + off, "data", 4)) {
			*used = off + 8;
			if (c->cfg.enc == DG_ENC_NONE || c->cfg.channels < 1 || c->cfg.channels > 8 ||
			    c->cfg.rate < 1000 || c->cfg.rate > 192000)
				return -EINVAL;
			return 0;
		}
		off += 8 + sz + (sz & 1);
	}
	return -EINVAL;
}

static void setup_window(struct dg_conn *c)
{
	dg_vad_init(&c->vad, c->cfg.enc, c->cfg.channels, c->cfg.rate, c->srv->e->opt.vad_rms);
}

static void close_with(struct lws *wsi, struct dg_conn *c, int code, const char *reason)
{
	c->closing = true;
	c->close_code = code;
	c->close_reason = reason;
	lws_callback_on_writable(wsi);
}

static void on_audio(struct lws *wsi, struct dg_conn *c, const uint8_t *p, size_t len)
{
	size_t used = 0;

	if (c->ending || c->closing)
		return;
	c->bytes += len;
	if (!c->header_done) {
		if (c->cfg.enc == DG_ENC_NONE && take_wav_header(c, p, len, &used)) {
			close_with(wsi, c, 1008, "DATA-0000");
			return;
		}
		c->header_done = true;
		setup_window(c);
		p += used;
		len -= used;
	}
	c->srv->n_audio++;
	dg_vad_feed(&c->vad, p, len, on_window, c);
}

/* ---- control messages ---- */

static void finalize(struct lws *wsi, struct dg_conn *c, bool from_finalize)
{
	double at = c->header_done ? audio_pos(c) : c->cursor;

	if (c->seg_active)
		end_segment(wsi, c, at, false, from_finalize);
	else if (from_finalize || at > c->cursor)
		empty_final(wsi, c, at, from_finalize);
}

static void close_stream(struct lws *wsi, struct dg_conn *c)
{
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	double dur = c->header_done ? audio_pos(c) : 0;

	if (c->ending)
		return;
	finalize(wsi, c, false);
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	queue(wsi, c, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:[s], s:{s:{s:s, s:s, s:s}}}",
		"type", "Metadata", "transaction_key", "deprecated", "request_id", c->request_id,
		"sha256", "0000000000000000000000000000000000000000000000000000000000000000",
		"created", created, "duration", emu_json_secs(dur), "channels", c->cfg.channels,
		"models", c->model_uuid, "model_info", c->model_uuid, "name", c->cfg.model,
		"version", "emu", "arch", c->cfg.model), emu_now_us());
	c->ending = true;
	kick(wsi, c);
}

/* Deepgram's in-band error for a text message it cannot use. */
static void schema_error(struct lws *wsi, struct dg_conn *c, const char *variant, const char *what)
{
	queue(wsi, c, json_pack("{s:s, s:s, s:s, s:s}", "type", "Error", "variant", variant,
				"description", what, "message", what), emu_now_us());
}

static void on_text(struct lws *wsi, struct dg_conn *c, const char *s, size_t len)
{
	json_t *j = json_loadb(s, len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));

	emu_rec_add(&c->srv->rec, json_pack("{s:s, s:i, s:O?, s:s%}", "event", "text",
					    "conn", (int)c->ws.serial, "message", j, "raw", s, len));
	if (!type)
		schema_error(wsi, c, "SchemaError", "Could not parse the text message.");
	else if (!strcmp(type, "KeepAlive"))
		;	/* no reply, as the real one */
	else if (!strcmp(type, "Finalize"))
		finalize(wsi, c, true);
	else if (!strcmp(type, "CloseStream"))
		close_stream(wsi, c);
	else if (!strcmp(type, "Configure")) {
		if (strncmp(c->cfg.model, "nova-3", 6))
			schema_error(wsi, c, "InvalidConfigureMessage",
				     "Configure is only supported for Nova-3 models.");
	} else {
		schema_error(wsi, c, "SchemaError", "Unknown message type.");
	}
	json_decref(j);
}

static void on_receive(void *conn, const void *in, size_t len)
{
	struct dg_conn *c = conn;
	struct lws *wsi = c->wsi;
	int rc;

	c->last_rx_us = emu_now_us();
	if (lws_frame_is_binary(wsi)) {
		if (!len && lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi))
			close_stream(wsi, c);	/* the deprecated end-of-stream signal */
		else
			on_audio(wsi, c, in, len);
	} else {
		rc = ws_rx_take(&c->ws.rx, in, len, lws_is_final_fragment(wsi), 0);
		if (rc < 0)
			c->broken = true;
		if (rc <= 0)
			return;
		on_text(wsi, c, c->ws.rx.p, c->ws.rx.len);
	}
	kick(wsi, c);
}

/* ---- sending ---- */

static int64_t idle_deadline(const struct dg_conn *c)
{
	return c->last_rx_us + (int64_t)c->srv->e->opt.stt_idle_ms * 1000;
}

/*
 * The messages due now, written at once (ws_send_queued), counted: no
 * writeable round per result. 1: the writeable callback is still needed;
 * -1: a write failed.
 */
static int send_due(struct lws *wsi, struct dg_conn *c)
{
	unsigned before = c->ws.ft.sent;
	int rc = ws_send_queued(&c->ws.ft, wsi, &c->q,
				"{\"type\":\"Results\",\"channel_index\":[0,", emu_now_us());

	c->srv->n_sent += c->ws.ft.sent - before;
	if (c->ws.ft.f.kind == FAULT_STALL && c->ws.ft.sent >= (unsigned)c->ws.ft.f.n)
		c->ending = false;	/* a stalled stream never ends */
	return rc;
}

static void kick(struct lws *wsi, struct dg_conn *c)
{
	int64_t due, idle = idle_deadline(c);
	int rc = 0;

	if (c->ws.close_sent)
		return;
	if (!c->broken && !c->closing)
		rc = send_due(wsi, c);
	if (rc < 0) {		/* the socket is gone: lws closes it */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	due = ws_txq_next_due(&c->q);
	if (rc > 0 || c->broken || c->closing || (c->ending && !c->q.head))
		lws_callback_on_writable(wsi);
	ws_timer_at(wsi, due < idle ? due : idle);
}

static int on_writeable(void *conn)
{
	struct dg_conn *c = conn;
	struct lws *wsi = c->wsi;

	if (c->ws.close_sent)
		return 0;
	if (c->broken)
		return ws_close(&c->ws, wsi, &c->q, 1011, "NET-0000");
	if (c->closing)
		return ws_close(&c->ws, wsi, &c->q, c->close_code, c->close_reason);
	if (!c->q.head && c->ending)
		return ws_close(&c->ws, wsi, &c->q, 1000, "");
	if (ws_fault_closes(&c->ws.ft))
		return ws_close(&c->ws, wsi, &c->q, 1011, "NET-0000");
	if (send_due(wsi, c) < 0)
		return -1;
	kick(wsi, c);
	return 0;
}

static void on_timer(void *conn)
{
	struct dg_conn *c = conn;

	if (emu_now_us() >= idle_deadline(c) && !c->closing) {
		log_info("stt", c->request_id, "deepgram emulator: no data for %d ms, closing",
			 c->srv->e->opt.stt_idle_ms);
		close_with(c->wsi, c, 1011, "NET-0001");
		return;
	}
	kick(c->wsi, c);
}

/* ---- connection life ---- */

static void on_open(void *srv, struct lws *wsi, void *conn)
{
	struct dg_server *s = srv;
	struct dg_conn *c = conn;
	char path[256];

	memset(c, 0, sizeof(*c));
	c->srv = s;
	c->wsi = wsi;
	c->cfg = s->next_cfg;
	c->ws.ft.f = s->next_fault;
	c->ws.serial = s->serial++;
	memcpy(c->request_id, s->next_request_id, sizeof(c->request_id));
	emu_uuid(&s->rng, c->model_uuid);
	c->last_rx_us = emu_now_us();
	ws_path(wsi, path, sizeof(path));	/* conn: the number its text and close carry */
	emu_rec_add(&s->rec, json_pack("{s:s, s:i, s:s, s:o*}", "event", "open", "conn",
				       (int)c->ws.serial, "path", path, "query",
				       ws_query_json(wsi, NULL)));
	if (c->cfg.enc != DG_ENC_NONE) {
		c->header_done = true;
		setup_window(c);
	}
	kick(wsi, c);
}

static void on_closed(void *conn)
{
	struct dg_conn *c = conn;

	emu_rec_add(&c->srv->rec, json_pack("{s:s, s:i, s:o, s:I}", "event", "close",
					    "conn", (int)c->ws.serial, "audio_seconds",
					    emu_json_secs(c->header_done ? audio_pos(c) : 0),
					    "audio_bytes", (json_int_t)c->bytes));
	ws_txq_clear(&c->q);
}

static int on_http(void *srv, struct lws *wsi, const char *path)
{
	return ws_http_inspect(wsi, path, &((struct dg_server *)srv)->rec);
}

const struct ws_ops dg_ws_ops = {
	.name = "deepgram", .pss_size = sizeof(struct dg_conn),
	.upgrade = on_upgrade, .http = on_http, .add_headers = add_headers, .open = on_open,
	.receive = on_receive, .writeable = on_writeable, .timer = on_timer, .closed = on_closed,
};
