/*
 * emu_twilio.c - vagent-emu's TEST DOUBLE of Twilio dialling in over
 * Media Streams (protocols.md 6): `vagent-emu twilio --url ws://...`.
 *
 * Each call is a websocket client that does what Twilio does on a
 * <Connect><Stream>: the upgrade (signed with X-Twilio-Signature when a
 * token is given), connected, start (callSid, streamSid, customParameters
 * did, caller and any --param, 8 kHz mu-law), one 20 ms media message per
 * tick from a WAV (then silence), dtmf at given times, and stop once the caller is
 * done. What vagentd sends is "played" as a phone would: its media queue
 * is drained 160 bytes per tick, a mark is echoed once the audio queued
 * before it has played, and a clear drops the queue and echoes every
 * pending mark at once. Real Twilio plays on a clock of its own, so its
 * echoes come between the caller's media messages; --play-between plays
 * half a tick after each frame goes, which shows the echoes' cost (by
 * default the phone plays as it sends, and an echo rides with a frame).
 * With --connect-to the URL may be the public wss:// one Twilio is given:
 * the socket goes plain to HOST:PORT, where a TLS proxy would pass it on,
 * and the Host and signature stay the URL's (the Calls REST emulator
 * dials outbound calls this way, emu_twilio_dial.c).
 *
 * Owns: its own lws context and loop (one thread; no server runs). Prints
 * one JSON object with each call's counts and the turn latencies (the
 * caller's last voiced frame to the first voiced agent audio received),
 * the most audio it held unplayed at once, the gaps (its speaker ran dry
 * and the agent's audio came again within GAP_TICKS: vagentd's lead ran
 * out inside a reply), and records call 0's played audio as a WAV if asked.
 * Fails: bad usage exits 2; a call's failure is its outcome.
 */
#include "emu_twilio_ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../common/wav.h"

#define TICK_US 20000
#define FRAME 160			/* 20 ms of 8 kHz mu-law */
#define MAX_CALLS 1000
#define MAX_DTMF 16
#define MAX_PARAMS 40
#define TURN_GAP_TICKS 5
#define STOP_WAIT_TICKS 50		/* 1 s for the server to close after stop */
#define GAP_TICKS 10			/* dry so briefly inside the agent's audio: a gap */

struct item {				/* vagentd's queue at "Twilio": audio or a mark */
	struct item *next;
	char *mark;			/* NULL: audio */
	size_t len, off;
	uint8_t audio[];
};

struct tw_opts {
	struct tw_target t;		/* --url and the rest every dialler takes */
	const char *wav, *record;
	const char *call_sid;		/* the one the Calls REST answered; NULL: random */
	const char *params[MAX_PARAMS];	/* more customParameters, NAME=VALUE */
	int nparams;
	int calls, stagger_ms, voice_rms;
	bool no_marks;			/* a platform that never echoes marks */
	bool play_between;		/* the phone plays half a tick after a frame goes */
	struct { char digit; int ms; } dtmf[MAX_DTMF];
	int ndtmf;
};

struct tw_emu;

struct tw_call {
	struct tw_emu *e;
	int idx;
	struct tw_link link;
	char call_sid[40], stream_sid[40];
	int64_t t0_us;			/* connected: the call's clock starts */
	uint64_t ticks, seq;
	uint64_t plays;			/* ticks of the phone's speaker, at most ticks */
	struct item *q, *q_tail;	/* to play */
	bool open, done, stop_sent;
	const char *outcome;
	/* counts */
	uint64_t media_in, bytes_in, marks_in, marks_echoed, clears, played;
	uint64_t queued, max_queued;	/* bytes received and not played (nor cleared) */
	/* The speaker ran dry inside the agent's audio (vagentd's lead ran out). */
	bool speaking;			/* the last tick played a whole frame */
	int64_t dry_tick;		/* it ran short on this tick; -1: not */
	uint64_t gaps, gap_ticks;
	int64_t clear_tick[8];
	int nclear;
	int64_t last_voiced_tx_tick;	/* -1: none */
	bool awaiting;
	double *turn_ms;
	size_t nturn;
	struct wav_writer rec;
};

struct tw_emu {
	struct tw_opts o;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	int16_t *pcm;
	size_t npcm;
	struct tw_call *calls;
	int started, finished;
	int64_t t_start_us;
};

/* ---- the queue vagentd fills ---- */

static void q_push(struct tw_call *c, struct item *it)
{
	if (c->q_tail)
		c->q_tail->next = it;
	else
		c->q = it;
	c->q_tail = it;
}

static void send_json(struct tw_call *c, json_t *j)
{
	tw_send_json(&c->link, j);
}

static void echo_mark(struct tw_call *c, const char *name)
{
	if (c->e->o.no_marks)
		return;
	c->marks_echoed++;
	send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s}}", "event", "mark", "sequenceNumber",
			       "0", "streamSid", c->stream_sid, "mark", "name", name));
}

/* Marks at the head have had everything before them played. */
static void echo_due_marks(struct tw_call *c)
{
	while (c->q && c->q->mark) {
		struct item *it = c->q;
		if (!(c->q = it->next))
			c->q_tail = NULL;
		echo_mark(c, it->mark);
		free(it->mark);
		free(it);
	}
}

/* One tick of the phone's speaker: 160 bytes of what is queued, or silence. */
static void play_tick(struct tw_call *c, int16_t *out)
{
	size_t got = 0;

	memset(out, 0, FRAME * sizeof(*out));
	echo_due_marks(c);
	while (got < FRAME && c->q && !c->q->mark) {
		struct item *it = c->q;
		size_t n = it->len - it->off < FRAME - got ? it->len - it->off : FRAME - got;
		for (size_t i = 0; i < n; i++)
			out[got + i] = emu_ulaw_decode(it->audio[it->off + i]);
		got += n;
		it->off += n;
		c->queued -= n;
		if (it->off == it->len) {
			if (!(c->q = it->next))
				c->q_tail = NULL;
			free(it);
		}
		echo_due_marks(c);
	}
	c->played += got;
	if (got < FRAME && c->speaking)
		c->dry_tick = (int64_t)c->plays;
	c->speaking = got == FRAME;
}

/* Audio came after the speaker ran dry: soon after, it was a gap in one reply. */
static void count_gap(struct tw_call *c)
{
	int64_t ticks = (int64_t)c->plays - c->dry_tick;

	if (c->dry_tick >= 0 && ticks <= GAP_TICKS) {
		c->gaps++;
		c->gap_ticks += (uint64_t)(ticks > 0 ? ticks : 1);
	}
	c->dry_tick = -1;
}

static void on_clear(struct tw_call *c)
{
	if (c->nclear < 8)
		c->clear_tick[c->nclear++] = (int64_t)c->ticks;
	c->clears++;
	c->queued = 0;
	c->speaking = false;
	c->dry_tick = -1;
	while (c->q) {
		struct item *it = c->q;
		c->q = it->next;
		if (it->mark) {
			echo_mark(c, it->mark);
			free(it->mark);
		}
		free(it);
	}
	c->q_tail = NULL;
}

/* ---- what vagentd sends ---- */

static bool voiced(const struct tw_call *c, const uint8_t *u, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		double v = emu_ulaw_decode(u[i]);
		sum += v * v;
	}
	return n && sum / (double)n > (double)c->e->o.voice_rms * c->e->o.voice_rms;
}

static void on_media(struct tw_call *c, json_t *m)
{
	const char *b64 = json_string_value(json_object_get(json_object_get(m, "media"),
							   "payload"));
	size_t len = b64 ? strlen(b64) : 0;
	struct item *it = malloc(sizeof(*it) + len);

	if (!it)
		return;
	int n = b64 ? lws_b64_decode_string(b64, (char *)it->audio, (int)len + 1) : -1;
	if (n <= 0) {
		free(it);
		return;
	}
	*it = (struct item){ .len = (size_t)n };
	c->media_in++;
	c->bytes_in += (size_t)n;
	count_gap(c);
	c->queued += (size_t)n;
	if (c->queued > c->max_queued)
		c->max_queued = c->queued;
	if (c->awaiting && (int64_t)c->ticks - c->last_voiced_tx_tick >= TURN_GAP_TICKS &&
	    voiced(c, it->audio, it->len)) {
		double ms = (double)(emu_now_us() - c->t0_us) / 1000.0 -
			    (double)c->last_voiced_tx_tick * TICK_US / 1000.0;
		double *t = realloc(c->turn_ms, (c->nturn + 1) * sizeof(*t));
		if (t) {
			c->turn_ms = t;
			c->turn_ms[c->nturn++] = ms;
		}
		c->awaiting = false;
	}
	q_push(c, it);
}

static void on_message(struct tw_call *c, const char *text, size_t len)
{
	json_t *m = json_loadb(text, len, 0, NULL);
	const char *ev = json_string_value(json_object_get(m, "event"));

	if (!ev) {
		log_warn("twilio", NULL, "call %d: not a Media Streams message", c->idx);
	} else if (!strcmp(ev, "media")) {
		on_media(c, m);
	} else if (!strcmp(ev, "mark")) {
		const char *name = json_string_value(json_object_get(json_object_get(m, "mark"),
								     "name"));
		struct item *it = calloc(1, sizeof(*it));
		c->marks_in++;
		if (it && name && (it->mark = strdup(name)))
			q_push(c, it);
		else
			free(it);
		echo_due_marks(c);	/* nothing queued before it: echoed at once */
	} else if (!strcmp(ev, "clear")) {
		on_clear(c);
	}
	json_decref(m);
}

/* ---- the caller's side ---- */

static void send_start(struct tw_call *c)
{
	struct tw_opts *o = &c->e->o;

	send_json(c, json_pack("{s:s, s:s, s:s}", "event", "connected", "protocol", "Call",
			       "version", "1.0.0"));
	json_t *params = json_pack("{s:s, s:s}", "did", o->t.did, "caller", o->t.caller);
	for (int i = 0; params && i < o->nparams; i++) {
		const char *eq = strchr(o->params[i], '=');
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - o->params[i]), o->params[i]);
		json_object_set_new(params, name, json_string(eq + 1));
	}
	send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:[s], s:o, "
			       "s:{s:s, s:i, s:i}}}",
			       "event", "start", "sequenceNumber", "1", "streamSid", c->stream_sid,
			       "start", "accountSid", "ACemulator", "streamSid", c->stream_sid,
			       "callSid", c->call_sid, "tracks", "inbound",
			       "customParameters", params,
			       "mediaFormat", "encoding", "audio/x-mulaw", "sampleRate", 8000,
			       "channels", 1));
	c->seq = 1;
}

static void send_frame(struct tw_call *c)
{
	struct tw_emu *e = c->e;
	uint8_t u[FRAME];
	size_t at = (size_t)c->ticks * FRAME;
	bool loud = false;
	char seq[24], chunk[24], ts[24];

	for (size_t i = 0; i < FRAME; i++)
		u[i] = emu_ulaw_encode(at + i < e->npcm ? e->pcm[at + i] : 0);
	loud = voiced(c, u, FRAME);
	if (loud) {
		c->last_voiced_tx_tick = (int64_t)c->ticks;
		c->awaiting = true;
	}
	char *b64 = emu_base64(u, FRAME);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)++c->seq);
	snprintf(chunk, sizeof(chunk), "%llu", (unsigned long long)c->ticks + 1);
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)c->ticks * 20);
	if (b64)
		send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "event", "media",
				       "sequenceNumber", seq, "streamSid", c->stream_sid, "media",
				       "track", "inbound", "chunk", chunk, "timestamp", ts,
				       "payload", b64));
	free(b64);
	for (int i = 0; i < e->o.ndtmf; i++)
		if (e->o.dtmf[i].ms / 20 == (int)c->ticks)
			send_json(c, json_pack("{s:s, s:s, s:{s:s, s:s#}}", "event", "dtmf",
					       "streamSid", c->stream_sid, "dtmf", "track",
					       "inbound_track", "digit", &e->o.dtmf[i].digit, 1));
}

static void call_tick(struct tw_call *c, int64_t now)
{
	struct tw_emu *e = c->e;
	int16_t heard[FRAME];
	uint64_t end = (e->npcm + FRAME - 1) / FRAME + (uint64_t)e->o.t.hold_ms / 20;
	uint64_t due = (uint64_t)((now - c->t0_us) / TICK_US);
	int64_t lag_us = e->o.play_between ? TICK_US / 2 : 0;

	/* After stop the server closes; if it does not, Twilio's side does. */
	if (c->open && c->stop_sent && due > c->ticks + STOP_WAIT_TICKS && c->link.wsi)
		lws_set_timeout(c->link.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	while (c->open && !c->stop_sent) {
		if (c->plays < c->ticks && (int64_t)c->plays * TICK_US + lag_us <= now - c->t0_us) {
			play_tick(c, heard);	/* what the caller heard of the frame's tick */
			if (c->rec.fp)
				wav_writer_append(&c->rec, heard, FRAME);
			c->plays++;
			continue;
		}
		if (c->ticks > due)
			break;
		if (c->ticks >= end) {
			send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "event", "stop",
					       "sequenceNumber", "0", "streamSid", c->stream_sid,
					       "stop", "accountSid", "ACemulator", "callSid",
					       c->call_sid));
			c->stop_sent = true;
			break;
		}
		send_frame(c);
		c->ticks++;
	}
}

/* ---- connections ---- */

/* The loop's wake-ups: each tick, or each half tick to play between the frames. */
static int64_t grid_us(const struct tw_emu *e)
{
	return e->o.play_between ? TICK_US / 2 : TICK_US;
}

static void finish(struct tw_call *c, const char *outcome)
{
	if (c->done)
		return;
	c->done = true;
	c->open = false;
	c->link.wsi = NULL;
	if (!c->outcome)
		c->outcome = outcome;
	c->e->finished++;
	wav_writer_close(&c->rec);
}

static void on_open(struct tw_link *l)
{
	struct tw_call *c = lws_container_of(l, struct tw_call, link);
	struct tw_emu *e = c->e;
	int64_t period = grid_us(e), now = emu_now_us();

	/* Ticks half way between the loop's wake-ups: a late one sends no frame early. */
	c->open = true;
	c->t0_us = now - (now - e->t_start_us) % period + period / 2;
	if (c->t0_us > now)
		c->t0_us -= period;
	send_start(c);
}

static void on_link_message(struct tw_link *l, const char *text, size_t len)
{
	on_message(lws_container_of(l, struct tw_call, link), text, len);
}

static void on_end(struct tw_link *l, const char *refused)
{
	struct tw_call *c = lws_container_of(l, struct tw_call, link);

	if (refused)
		log_info("twilio", NULL, "call %d: refused (%s, HTTP %d)", c->idx, refused,
			 l->http_status);
	finish(c, refused ? "refused" : c->stop_sent ? "completed" : "server_closed");
}

static const struct tw_link_ops link_ops = { on_open, on_link_message, on_end };

static void dial(struct tw_emu *e, struct tw_call *c)
{
	struct emu_rng rng;

	emu_rng_seed(&rng, (uint64_t)c->idx * 7919 + (uint64_t)emu_now_us());
	if (e->o.call_sid && c->idx == 0)
		snprintf(c->call_sid, sizeof(c->call_sid), "%s", e->o.call_sid);
	else
		emu_rand_id(&rng, "CA", 32, c->call_sid, sizeof(c->call_sid));
	emu_rand_id(&rng, "MZ", 32, c->stream_sid, sizeof(c->stream_sid));
	c->last_voiced_tx_tick = -1;
	c->dry_tick = -1;
	if (c->idx == 0 && e->o.record && wav_writer_open(&c->rec, e->o.record, 8000) < 0)
		log_warn("twilio", NULL, "cannot record to %s", e->o.record);
	e->started++;
	if (tw_connect(e->ctx, &c->link) && !c->done)
		finish(c, "connect_error");
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct tw_emu *e = lws_container_of(sul, struct tw_emu, sul);
	int64_t now = emu_now_us(), period = grid_us(e);

	while (e->started < e->o.calls &&
	       (int64_t)e->started * e->o.stagger_ms * 1000 <= now - e->t_start_us)
		dial(e, &e->calls[e->started]);
	for (int i = 0; i < e->started; i++)
		if (e->calls[i].open)
			call_tick(&e->calls[i], now);
	/* On a fixed grid, as Twilio's clock: a late wake-up does not move the next. */
	lws_sul_schedule(e->ctx, 0, &e->sul, on_tick,
			 period - (emu_now_us() - e->t_start_us) % period);
}

/* ---- the report ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void report(const struct tw_emu *e)
{
	json_t *results = json_array(), *turns = json_array();
	size_t nall = 0, completed = 0, refused = 0, closed = 0;
	uint64_t gaps = 0, gap_ticks = 0;
	double *all = NULL;

	for (int i = 0; i < e->o.calls; i++) {
		const struct tw_call *c = &e->calls[i];
		json_t *clears = json_array();
		for (int k = 0; k < c->nclear; k++)
			json_array_append_new(clears, json_integer(c->clear_tick[k] * 20));
		json_t *tm = json_array();
		for (size_t k = 0; k < c->nturn; k++)
			json_array_append_new(tm, json_real(c->turn_ms[k]));
		double *p = realloc(all, (nall + c->nturn + 1) * sizeof(*all));
		if (p) {
			all = p;
			if (c->nturn)
				memcpy(all + nall, c->turn_ms, c->nturn * sizeof(*all));
			nall += c->nturn;
		}
		const char *out = c->outcome ? c->outcome : "unfinished";
		completed += !strcmp(out, "completed");
		refused += !strcmp(out, "refused");
		closed += !strcmp(out, "server_closed");
		gaps += c->gaps;
		gap_ticks += c->gap_ticks;
		json_array_append_new(results, json_pack(
			"{s:i, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:I, s:I, s:I, s:o}",
			"index", i, "call_sid", c->call_sid, "outcome", out,
			"http_status", c->link.http_status, "media_in", (json_int_t)c->media_in,
			"bytes_in", (json_int_t)c->bytes_in, "marks_in", (json_int_t)c->marks_in,
			"marks_echoed", (json_int_t)c->marks_echoed, "clears", (json_int_t)c->clears,
			"clear_at_ms", clears, "played_s", (double)c->played / 8000.0,
			"max_queued_ms", (json_int_t)(c->max_queued / 8), "gaps", (json_int_t)c->gaps,
			"gap_ms", (json_int_t)(c->gap_ticks * 20), "turn_ms", tm));
	}
	if (nall)
		qsort(all, nall, sizeof(*all), cmp_double);
	json_decref(turns);
	json_t *top = json_pack("{s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:o}",
				"calls", e->o.calls, "completed", (json_int_t)completed,
				"server_closed", (json_int_t)closed, "refused", (json_int_t)refused,
				"turns", (json_int_t)nall, "turn_p50_ms", pct(all, nall, 50),
				"turn_p99_ms", pct(all, nall, 99),
				"turn_max_ms", nall ? all[nall - 1] : 0.0, "gaps", (json_int_t)gaps,
				"gap_ms", (json_int_t)(gap_ticks * 20), "results", results);
	char *text = json_dumps(top, EMU_JSON_FLAGS);
	if (text)
		printf("%s\n", text);
	free(text);
	free(all);
	json_decref(top);
}

/* ---- options ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
"usage: vagent-emu twilio --url ws://HOST:PORT/PATH [--wav FILE] [--calls N]\n"
"                  [--stagger-ms MS] [--hold-ms 2000] [--did D] [--caller C]\n"
"                  [--token T [--sign-url URL] | --signature S] [--dtmf D@MS]...\n"
"                  [--record FILE] [--voice-rms 300] [--no-marks] [--play-between]\n"
"                  [--log FILE] [--connect-to HOST:PORT] [--param NAME=VALUE]...\n"
"                  [--call-sid SID]\n"
"       vagent-emu twilio --relay --help: ConversationRelay instead\n"
"Dials vagentd as Twilio does for <Connect><Stream>, plays the WAV (8 kHz\n"
"mono) as the caller, then hold-ms of silence, then stop; prints JSON.\n"
"  --token T       sign the upgrade: HMAC-SHA1 of --sign-url (default --url)\n"
"  --signature S   send this X-Twilio-Signature as it is\n"
"  --record FILE   what call 0's phone played, as a WAV\n"
"  --no-marks      never echo a mark (a platform without them)\n"
"  --play-between  play each tick half a tick after its frame goes, as\n"
"                  Twilio's own clock does: echoes come between the frames\n"
"  --connect-to H:P  dial H:P (plain ws, a TLS proxy's backend) for the URL,\n"
"                  which may then be wss://; the Host and signature stay the URL's\n"
"  --param N=V     one more customParameter (did and caller too)\n"
"  --call-sid SID  call 0's callSid (the one the Calls REST answered)\n");
}

static int parse(int argc, char **argv, struct tw_opts *o)
{
	static const struct option lo[] = {
		TW_TARGET_OPTIONS,
		{ "wav", 1, NULL, 'w' }, { "calls", 1, NULL, 'n' }, { "stagger-ms", 1, NULL, 's' },
		{ "dtmf", 1, NULL, 'D' }, { "record", 1, NULL, 'r' },
		{ "voice-rms", 1, NULL, 'v' }, { "no-marks", 0, NULL, 'M' },
		{ "play-between", 0, NULL, 'B' },
		{ "connect-to", 1, NULL, 'C' }, { "param", 1, NULL, 'P' }, { "call-sid", 1, NULL, 'i' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct tw_opts){ .calls = 1, .voice_rms = 300 };
	tw_target_init(&o->t);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (tw_target_opt(&o->t, ch, optarg))
			continue;
		switch (ch) {
		case 'w': o->wav = optarg; break;
		case 'n': o->calls = atoi(optarg); break;
		case 's': o->stagger_ms = atoi(optarg); break;
		case 'r': o->record = optarg; break;
		case 'v': o->voice_rms = atoi(optarg); break;
		case 'M': o->no_marks = true; break;
		case 'B': o->play_between = true; break;
		case 'C': o->t.connect_to = optarg; break;
		case 'i': o->call_sid = optarg; break;
		case 'P':
			if (o->nparams == MAX_PARAMS || !strchr(optarg, '=') || optarg[0] == '=' ||
			    strchr(optarg, '=') - optarg >= 128)
				return -1;
			o->params[o->nparams++] = optarg;
			break;
		case 'D':
			if (o->ndtmf == MAX_DTMF || strlen(optarg) < 3 || optarg[1] != '@')
				return -1;
			o->dtmf[o->ndtmf].digit = optarg[0];
			o->dtmf[o->ndtmf++].ms = atoi(optarg + 2);
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	return tw_target_ok(&o->t) && o->calls >= 1 && o->calls <= MAX_CALLS &&
	       o->stagger_ms >= 0 && optind == argc ? 0 : -1;
}

static int setup(struct tw_emu *e)
{
	char err[256];
	struct wav w;

	if (tw_target_split(&e->o.t))
		return -EINVAL;
	if (e->o.wav) {
		if (wav_load(e->o.wav, &w, err, sizeof(err)) < 0 || w.rate != 8000) {
			fprintf(stderr, "vagent-emu twilio: --wav %s: %s\n", e->o.wav,
				err[0] ? err : "not 8 kHz");
			return -EINVAL;
		}
		e->pcm = w.samples;
		e->npcm = w.nsamples;
	}
	e->calls = calloc((size_t)e->o.calls, sizeof(*e->calls));
	if (!e->calls)
		return -ENOMEM;
	for (int i = 0; i < e->o.calls; i++) {
		e->calls[i].e = e;
		e->calls[i].idx = i;
		e->calls[i].link = (struct tw_link){ .t = &e->o.t, .ops = &link_ops };
	}
	return 0;
}

int emu_twilio_main(int argc, char **argv)
{
	struct tw_emu e;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--relay"))
			return emu_twilio_relay_main(argc, argv);
	memset(&e, 0, sizeof(e));
	if (parse(argc, argv, &e.o) < 0) {
		usage(stderr);
		return 2;
	}
	if (setup(&e) < 0)
		return 2;
	if (!(e.ctx = tw_context((unsigned)(e.o.calls + 16)))) {
		fprintf(stderr, "vagent-emu twilio: cannot create the lws context\n");
		return 1;
	}
	e.t_start_us = emu_now_us();
	lws_sul_schedule(e.ctx, 0, &e.sul, on_tick, 1);
	while (e.finished < e.o.calls)
		if (lws_service(e.ctx, 0) < 0)
			break;
	lws_sul_cancel(&e.sul);
	lws_context_destroy(e.ctx);
	report(&e);
	for (int i = 0; i < e.o.calls; i++) {
		struct tw_call *c = &e.calls[i];
		while (c->q) {
			struct item *it = c->q;
			c->q = it->next;
			free(it->mark);
			free(it);
		}
		tw_link_free(&c->link);
		free(c->turn_ms);
	}
	free(e.calls);
	free(e.pcm);
	return 0;
}
