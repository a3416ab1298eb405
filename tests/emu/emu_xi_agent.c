/*
 * emu_xi_agent.c - a TEST DOUBLE of an ElevenLabs Conversational AI agent
 * (protocols.md 5.1-5.5): the conversation websocket
 * /v1/convai/conversation?agent_id=...[&conversation_signature=...] and the
 * signed-URL GET /v1/convai/conversation/get-signed-url?agent_id=... (header
 * xi-api-key; --key-xi-agent K, else any non-empty key), on one port.
 *
 * The conversation follows --xi-agent-script FILE:
 *   {"input_format": "pcm_16000", "output_format": "pcm_16000",
 *    "chunk_ms": 200,
 *    "turns": [{"say": "Hello...", "ms": 3000, "ping": true},
 *              {"user": "I have a leak...", "tool": {"name": "createBooking",
 *               "parameters": {...}}, "say": "Booked.", "ms": 1000, "end": true}]}
 * Turn 0 is said once conversation_initiation_client_data has come; turn n
 * after the caller's n'th utterance, heard by energy like the Deepgram
 * emulator (20 ms windows of RMS >= --vad-rms; 600 ms of quiet ends one):
 * user_transcript with "user", a ping if asked, a client_tool_call if
 * asked (the rest waits for its client_tool_result), then agent_response
 * and the audio. "end" closes the websocket (1000) once that audio has
 * played at the caller's pace.
 *
 * Audio: every chunk is an audio event with the next event id and a flat
 * level of 1000 + 100 * id, so a listener can tell which event each sample
 * came from. Chunks go out at once, faster than real time, as the real
 * service sends them. When the caller speaks for 200 ms while the agent's
 * audio is still playing, an interruption with the last audio id goes out,
 * then one late chunk with that same id (protocols.md 5.7 item 6); with
 * "race_next" on the interrupted turn, the next turn's response goes out
 * first (newer audio queued before the interruption).
 *
 * Emulator-only: GET /emu/state: per conversation, what it was given and
 * what it saw (dynamic variables, pings and the pongs that answered them,
 * interruptions, late chunks, tool results, how it ended); GET /emu/requests:
 * the last 200 messages received (audio chunks counted, not kept).
 *
 * Owns: its lws vhost's connections. Runs on the lws thread only.
 */
#include "emu_ws.h"

#include "../../common/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIN_MS 20
#define VOICED_MIN_MS 200	/* speech that counts: an utterance, or a barge-in */
#define QUIET_END_MS 600
#define END_GRACE_US 300000
#define LEVEL(id) ((int16_t)((id) > 310 ? 32000 : 1000 + 100 * (id)))

struct xa_server {
	struct emu *e;
	json_t *script;			/* NULL: a greeting only */
	struct emu_rng rng;
	struct emu_rec rec;
	json_t *convs;			/* one report per conversation */
	json_t *sigs;			/* signatures issued */
	unsigned serial;
};

struct xa_conn {
	struct ws_conn ws;		/* first: emu_ws.c's view */
	struct xa_server *srv;
	struct lws *wsi;
	struct ws_txq q;
	json_t *report;			/* borrowed from srv->convs */
	bool inited, broken;
	bool in_ulaw, out_ulaw;
	int in_rate, out_rate;
	int64_t next_id, last_audio_id;
	size_t turn;			/* the next turn to say */
	bool waiting_tool;		/* the current turn waits for its tool result */
	char tool_id[40];
	int64_t play_end_us;		/* when the agent's audio has played at the caller */
	int64_t close_at_us;		/* INT64_MAX: none */
	bool barged;			/* this playing audio was interrupted already */
	/* Hearing the caller. */
	double win_sq;
	int win_n, win_len;
	int voiced_ms, quiet_ms;
	bool in_utt;
};

static json_t *turn_at(const struct xa_server *s, size_t i)
{
	return json_array_get(json_object_get(s->script, "turns"), i);
}

static int script_int(const struct xa_server *s, json_t *o, const char *k, int dflt)
{
	json_t *v = json_object_get(o ? o : s->script, k);

	return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static bool fmt_of(const char *name, bool *ulaw, int *rate)
{
	if (!name || !strcmp(name, "pcm_16000")) {
		*ulaw = false;
		*rate = 16000;
	} else if (!strcmp(name, "ulaw_8000")) {
		*ulaw = true;
		*rate = 8000;
	} else if (!strncmp(name, "pcm_", 4) && atoi(name + 4) >= 8000) {
		*ulaw = false;
		*rate = atoi(name + 4);
	} else {
		return false;
	}
	return true;
}

static void report_push(struct xa_conn *c, const char *key, json_t *v)
{
	json_array_append_new(json_object_get(c->report, key), v);
}

static void push(struct xa_conn *c, json_t *j)
{
	if (ws_txq_push_json(&c->q, j, emu_now_us()))
		c->broken = true;
}

static void kick(struct xa_conn *c)
{
	int64_t wake = c->close_at_us, now = emu_now_us();

	if (ws_txq_next_due(&c->q) <= now || c->broken || c->close_at_us <= now)
		lws_callback_on_writable(c->wsi);
	if (ws_txq_next_due(&c->q) < wake)
		wake = ws_txq_next_due(&c->q);
	ws_timer_at(c->wsi, wake);
}

/* ---- the agent's side ---- */

static void audio_chunk(struct xa_conn *c, int64_t id, int ms)
{
	size_t n = (size_t)c->out_rate * (size_t)ms / 1000, width = c->out_ulaw ? 1 : 2;
	uint8_t *pcm = malloc(n * width);
	int16_t level = LEVEL(id);
	char *b64;

	if (!pcm) {
		c->broken = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (c->out_ulaw) {
			pcm[i] = emu_ulaw_encode(level);
		} else {
			pcm[2 * i] = (uint8_t)(level & 0xff);
			pcm[2 * i + 1] = (uint8_t)(level >> 8);
		}
	}
	b64 = emu_base64(pcm, n * width);
	free(pcm);
	if (!b64) {
		c->broken = true;
		return;
	}
	push(c, json_pack("{s:s, s:{s:s, s:I}}", "type", "audio", "audio_event",
			  "audio_base_64", b64, "event_id", (json_int_t)id));
	free(b64);
}

/* agent_response and the turn's audio, chunk by chunk. */
static void say(struct xa_conn *c, json_t *turn)
{
	int ms = script_int(c->srv, turn, "ms", 1000), chunk = script_int(c->srv, NULL,
									  "chunk_ms", 200);
	const char *text = json_string_value(json_object_get(turn, "say"));
	json_t *ids = json_array();
	int64_t now = emu_now_us();

	if (text)
		push(c, json_pack("{s:s, s:{s:s}}", "type", "agent_response",
				  "agent_response_event", "agent_response", text));
	for (int done = 0; done < ms; done += chunk) {
		c->last_audio_id = c->next_id++;
		json_array_append_new(ids, json_integer(c->last_audio_id));
		audio_chunk(c, c->last_audio_id, ms - done < chunk ? ms - done : chunk);
	}
	report_push(c, "said", json_pack("{s:s?, s:o}", "text", text, "audio_ids", ids));
	c->play_end_us = (c->play_end_us > now ? c->play_end_us : now) + (int64_t)ms * 1000;
	c->barged = false;
	if (json_is_true(json_object_get(turn, "end")))
		c->close_at_us = c->play_end_us + END_GRACE_US;
}

static void ping(struct xa_conn *c)
{
	int64_t id = c->next_id++;

	push(c, json_pack("{s:s, s:{s:I, s:i}}", "type", "ping", "ping_event", "event_id",
			  (json_int_t)id, "ping_ms", 20));
	report_push(c, "pings", json_integer(id));
}

/* Turn n: what the caller said, then the agent's part. */
static void take_turn(struct xa_conn *c)
{
	json_t *turn = turn_at(c->srv, c->turn);
	json_t *tool = json_object_get(turn, "tool");
	const char *user = json_string_value(json_object_get(turn, "user"));

	if (!turn)
		return;		/* past the script: the agent listens */
	c->turn++;
	if (user)
		push(c, json_pack("{s:s, s:{s:s}}", "type", "user_transcript",
				  "user_transcription_event", "user_transcript", user));
	if (json_is_true(json_object_get(turn, "ping")))
		ping(c);
	if (json_is_object(tool)) {
		emu_rand_id(&c->srv->rng, "toolu_", 20, c->tool_id, sizeof(c->tool_id));
		push(c, json_pack("{s:s, s:{s:O, s:s, s:O}}", "type", "client_tool_call",
				  "client_tool_call", "tool_name", json_object_get(tool, "name"),
				  "tool_call_id", c->tool_id, "parameters",
				  json_object_get(tool, "parameters")));
		c->waiting_tool = true;
		return;
	}
	say(c, turn);
}

/*
 * The caller talked over audio still playing: stop it, as the real one does.
 * A turn with "race_next" has the next turn's response (no user line) sent
 * before the interruption, as when the service answered before it noticed.
 */
static void interrupt(struct xa_conn *c)
{
	int64_t id = c->last_audio_id;
	json_t *next = NULL;

	if (json_is_true(json_object_get(turn_at(c->srv, c->turn - 1), "race_next")))
		next = turn_at(c->srv, c->turn);
	c->play_end_us = emu_now_us();
	if (next) {
		c->turn++;
		say(c, next);
	}
	c->barged = true;
	push(c, json_pack("{s:s, s:{s:I, s:s}}", "type", "interruption", "interruption_event",
			  "event_id", (json_int_t)id, "reason", "user_speech"));
	report_push(c, "interruptions", json_integer(id));
	audio_chunk(c, id, 200);	/* late audio of the interrupted response */
	report_push(c, "late_audio", json_integer(id));
	if (c->close_at_us != INT64_MAX)
		c->close_at_us = c->play_end_us + END_GRACE_US;
}

/* ---- hearing the caller ---- */

static void window(struct xa_conn *c)
{
	double rms = sqrt(c->win_sq / c->win_n);

	c->win_sq = 0;
	c->win_n = 0;
	if (rms >= (double)c->srv->e->opt.vad_rms) {
		c->voiced_ms += WIN_MS;
		c->quiet_ms = 0;
		if (c->voiced_ms >= VOICED_MIN_MS) {
			c->in_utt = true;
			if (!c->barged && emu_now_us() < c->play_end_us)
				interrupt(c);
		}
		return;
	}
	c->quiet_ms += WIN_MS;
	if (c->quiet_ms >= QUIET_END_MS / 4 && !c->in_utt)
		c->voiced_ms = 0;	/* a click, not speech */
	if (c->in_utt && c->quiet_ms >= QUIET_END_MS) {
		c->in_utt = false;
		c->voiced_ms = 0;
		if (!c->waiting_tool)
			take_turn(c);
	}
}

static void hear(struct xa_conn *c, const uint8_t *p, size_t n)
{
	size_t width = c->in_ulaw ? 1 : 2;

	for (size_t i = 0; i + width <= n; i += width) {
		double s = c->in_ulaw ? emu_ulaw_decode(p[i]) : (int16_t)(p[i] | p[i + 1] << 8);
		c->win_sq += s * s;
		if (++c->win_n >= c->win_len)
			window(c);
	}
}

static long b64_decode(const char *s, uint8_t *out)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	long n = 0;

	for (; *s && *s != '='; s++) {
		const char *p = strchr(alpha, *s);
		if (!p)
			return -1;
		acc = acc << 6 | (uint32_t)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n;
}

/* ---- the client's messages ---- */

static void on_init(struct xa_conn *c, json_t *j)
{
	char conv[48];

	c->inited = true;
	json_object_set(c->report, "dynamic_variables", json_object_get(j, "dynamic_variables"));
	emu_rand_id(&c->srv->rng, "conv_", 24, conv, sizeof(conv));
	push(c, json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "conversation_initiation_metadata",
			  "conversation_initiation_metadata_event", "conversation_id", conv,
			  "agent_output_audio_format", c->out_ulaw ? "ulaw_8000" :
			  c->out_rate == 16000 ? "pcm_16000" : c->out_rate == 8000 ? "pcm_8000" :
			  "pcm_24000",
			  "user_input_audio_format", c->in_ulaw ? "ulaw_8000" :
			  c->in_rate == 16000 ? "pcm_16000" : "pcm_8000"));
	take_turn(c);
}

static void on_tool_result(struct xa_conn *c, json_t *j)
{
	const char *id = json_string_value(json_object_get(j, "tool_call_id"));

	report_push(c, "tool_results", json_deep_copy(j));
	if (!c->waiting_tool || !id || strcmp(id, c->tool_id))
		return;
	c->waiting_tool = false;
	say(c, turn_at(c->srv, c->turn - 1));
}

static void on_message(struct xa_conn *c, const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	json_t *chunk = json_object_get(j, "user_audio_chunk");

	if (json_is_string(chunk)) {
		const char *b64 = json_string_value(chunk);
		uint8_t *pcm = malloc(strlen(b64) / 4 * 3 + 3);
		long n = pcm ? b64_decode(b64, pcm) : -1;
		if (n > 0 && c->inited)
			hear(c, pcm, (size_t)n);
		json_object_set_new(c->report, "audio_in_bytes", json_integer(
			json_integer_value(json_object_get(c->report, "audio_in_bytes")) +
			(n > 0 ? n : 0)));
		free(pcm);
	} else {
		emu_rec_add(&c->srv->rec, json_pack("{s:O?, s:s%}", "message", j, "raw", text,
						    len));
	}
	if (!type) {
		/* audio, or something the real service ignores */
	} else if (!strcmp(type, "conversation_initiation_client_data") && !c->inited) {
		on_init(c, j);
	} else if (!strcmp(type, "pong")) {
		report_push(c, "pongs", json_incref(json_object_get(j, "event_id") ?: json_null()));
	} else if (!strcmp(type, "client_tool_result")) {
		on_tool_result(c, j);
	}
	json_decref(j);
}

/* ---- HTTP and the connection ---- */

static int signed_url(struct xa_server *s, struct lws *wsi)
{
	char key[256], name[64], agent[128] = "", sig[40], url[512];
	const char *want = s->e->opt.xi_agent_key;
	int rc;

	for (int i = 0; !ws_query(wsi, i, name, sizeof(name), url, sizeof(url)); i++)
		if (!strcmp(name, "agent_id"))
			snprintf(agent, sizeof(agent), "%.127s", url);
	if (ws_header(wsi, "xi-api-key", key, sizeof(key)) || !key[0] || (want && strcmp(key, want)))
		rc = ws_http_reply(wsi, 401, "application/json", "{\"detail\":{\"status\":"
				   "\"invalid_api_key\",\"message\":\"Invalid API key\"}}", NULL);
	else if (!agent[0])
		rc = ws_http_reply(wsi, 422, "application/json", "{\"detail\":[{\"type\":"
				   "\"missing\",\"loc\":[\"query\",\"agent_id\"],\"msg\":"
				   "\"Field required\"}]}", NULL);
	else {
		emu_rand_id(&s->rng, "sig_", 24, sig, sizeof(sig));
		json_array_append_new(s->sigs, json_string(sig));
		snprintf(url, sizeof(url), "ws://127.0.0.1:%d/v1/convai/conversation?agent_id=%s"
			 "&conversation_signature=%s", s->e->opt.xi_agent_port, agent, sig);
		json_t *j = json_pack("{s:s}", "signed_url", url);
		char *body = json_dumps(j, EMU_JSON_FLAGS);
		json_decref(j);
		rc = ws_http_reply(wsi, 200, "application/json", body ? body : "{}", NULL);
		free(body);
	}
	return rc || lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_http(void *srv, struct lws *wsi, const char *path)
{
	struct xa_server *s = srv;

	if (!strcmp(path, "/v1/convai/conversation/get-signed-url"))
		return signed_url(s, wsi);
	if (strcmp(path, "/emu/state"))
		return ws_http_inspect(wsi, path, &s->rec);
	char *body = json_dumps(s->convs, EMU_JSON_FLAGS);
	int rc = ws_http_reply(wsi, 200, "application/json", body ? body : "[]", NULL);
	free(body);
	return rc || lws_http_transaction_completed(wsi) ? -1 : 0;
}

static bool sig_known(struct xa_server *s, const char *sig)
{
	size_t i;
	json_t *v;

	json_array_foreach(s->sigs, i, v)
		if (!strcmp(json_string_value(v), sig))
			return true;
	return false;
}

/* Only signed conversations when a key is required (a private agent). */
static int on_upgrade(void *srv, struct lws *wsi)
{
	struct xa_server *s = srv;
	char path[256], name[64], val[256], agent[128] = "", sig[64] = "";

	ws_path(wsi, path, sizeof(path));
	for (int i = 0; !ws_query(wsi, i, name, sizeof(name), val, sizeof(val)); i++) {
		if (!strcmp(name, "agent_id"))
			snprintf(agent, sizeof(agent), "%.127s", val);
		else if (!strcmp(name, "conversation_signature"))
			snprintf(sig, sizeof(sig), "%.63s", val);
	}
	if (strcmp(path, "/v1/convai/conversation") || !agent[0] ||
	    (s->e->opt.xi_agent_key && !sig_known(s, sig))) {
		log_info("xi", NULL, "xi-agent emulator: refused %s (agent %s)", path, agent);
		return ws_http_reply(wsi, 403, "application/json",
				     "{\"detail\":\"conversation not allowed\"}", NULL) ? -1 : 1;
	}
	return 0;
}

static void on_open(void *srv, struct lws *wsi, void *conn)
{
	struct xa_server *s = srv;
	struct xa_conn *c = conn;
	char name[64], val[256], agent[128] = "";
	json_t *sc = s->script;

	memset(c, 0, sizeof(*c));
	c->srv = s;
	c->wsi = wsi;
	c->close_at_us = INT64_MAX;
	c->next_id = 1;
	for (int i = 0; !ws_query(wsi, i, name, sizeof(name), val, sizeof(val)); i++)
		if (!strcmp(name, "agent_id"))
			snprintf(agent, sizeof(agent), "%.127s", val);
	fmt_of(json_string_value(json_object_get(sc, "input_format")), &c->in_ulaw, &c->in_rate);
	fmt_of(json_string_value(json_object_get(sc, "output_format")), &c->out_ulaw, &c->out_rate);
	c->win_len = c->in_rate * WIN_MS / 1000;
	c->report = json_pack("{s:i, s:s, s:b, s:i, s:[], s:[], s:[], s:[], s:[], s:[], s:n}",
			      "conn", (int)s->serial++, "agent_id", agent, "signed",
			      s->e->opt.xi_agent_key != NULL, "audio_in_bytes", 0, "said",
			      "pings", "pongs", "interruptions", "late_audio", "tool_results",
			      "closed_by");
	json_array_append_new(s->convs, c->report);
}

static int on_writeable(void *conn)
{
	struct xa_conn *c = conn;
	struct ws_msg *m;

	if (c->ws.close_sent)
		return 0;
	if (c->broken || c->close_at_us <= emu_now_us()) {
		json_object_set_new(c->report, "closed_by", json_string("agent"));
		return ws_close(&c->ws, c->wsi, &c->q, c->broken ? LWS_CLOSE_STATUS_UNEXPECTED_CONDITION :
				LWS_CLOSE_STATUS_NORMAL, "");
	}
	m = ws_txq_pop_due(&c->q, emu_now_us());
	if (m && ws_send(c->wsi, m))
		return -1;
	kick(c);
	return 0;
}

/* A binary message is put together, then dropped: audio comes as JSON. */
static void on_receive(void *conn, const void *in, size_t len)
{
	struct xa_conn *c = conn;
	int rc = ws_rx_take(&c->ws.rx, in, len, lws_is_final_fragment(c->wsi), 0);

	if (rc < 0)
		c->broken = true;
	else if (rc > 0 && !lws_frame_is_binary(c->wsi))
		on_message(c, c->ws.rx.p, c->ws.rx.len);
	kick(c);
}

static void on_closed(void *conn)
{
	struct xa_conn *c = conn;

	if (json_is_null(json_object_get(c->report, "closed_by")))
		json_object_set_new(c->report, "closed_by", json_string("client"));
	ws_txq_clear(&c->q);
}

static void on_timer(void *conn)
{
	kick(conn);
}

const struct ws_ops xa_ws_ops = {
	.name = "xi-agent", .pss_size = sizeof(struct xa_conn),
	.upgrade = on_upgrade, .http = on_http, .open = on_open, .receive = on_receive,
	.writeable = on_writeable, .timer = on_timer, .closed = on_closed,
};

int xa_server_new(struct emu *e, struct xa_server **out, char *err, size_t errlen)
{
	struct xa_server *s = calloc(1, sizeof(*s));
	json_error_t je;

	*out = NULL;
	if (!s || !(s->convs = json_array()) || !(s->sigs = json_array())) {
		xa_server_free(s);
		snprintf(err, errlen, "xi-agent emulator: out of memory");
		return -ENOMEM;
	}
	s->e = e;
	emu_rng_seed(&s->rng, 12);
	if (e->opt.xi_agent_script &&
	    !(s->script = json_load_file(e->opt.xi_agent_script, 0, &je))) {
		snprintf(err, errlen, "xi-agent script %s:%d: %s", e->opt.xi_agent_script, je.line,
			 je.text);
		xa_server_free(s);
		return -EINVAL;
	}
	if (!s->script)
		s->script = json_pack("{s:[{s:s, s:i}]}", "turns", "say", "Hello.", "ms", 1000);
	*out = s;
	return 0;
}

void xa_server_free(struct xa_server *s)
{
	if (!s)
		return;
	json_decref(s->script);
	json_decref(s->convs);
	json_decref(s->sigs);
	emu_rec_clear(&s->rec);
	free(s);
}
