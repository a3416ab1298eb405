/*
 * eng_local.c - the local agent engine's ops: wiring the providers to the
 * call, watching the caller's level, and the pacer's side of a reply.
 *
 * Barge-in: while agent audio is playing, a caller level above
 * [local] bargein_rms for bargein_ms of the caller's audio (the seed's 800
 * for 300 ms) stops the agent at once; the pacer's next frame is silence.
 * Speech level (for the caller's end of speech, where every turn's latency
 * starts) is half that.
 *
 * Between replies the pacer sends silence, because Asterisk ends an
 * AudioSocket() call after 2 s with no frame: every tick, or with [call]
 * send_silence = no once a second. When nothing goes every tick (that,
 * Twilio, or silence the kernel paces while no reply is near:
 * local_reply_near), the caller's audio is read in batches while nothing
 * needs it frame by frame (local_read_batch_ms).
 * Housekeeping (the caller's silence) rides on the pacer's ticks, which
 * come on the caller's frames anyway: the engine has no timer of its own.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/audio.h"
#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
#include "../ipc/shm.h"
#include "agent.h"
#include "breaker.h"
#include "call.h"
#include "call_relay.h"
#include "engine.h"
#include "http.h"
#include "playout.h"
#include "worker.h"

/* Longer than any TTS takes to its first audio, short enough that a caller waits. */
#define TTS_FIRST_AUDIO_NS (4 * NS_PER_S)

static void record_stage(struct agent *a, enum stage st, int64_t from, int64_t to)
{
	if (from && to > from)
		hist_add(&call_worker(a->call)->stats->hist[st], (uint64_t)(to - from) / 1000);
}

/*
 * What vagent itself adds to a turn: final transcript to model request,
 * first token to TTS, first audio to the caller's frame. The rest of a turn
 * is the providers' (and the caller's pause).
 */
static void record_overhead(struct agent *a)
{
	const struct agent_turn_times *t = &a->t;

	if (!t->final || !t->llm_sent || !t->first_token || !t->tts_first_text ||
	    !t->tts_first_audio || t->llm_sent < t->final)
		return;
	int64_t own = (t->llm_sent - t->final) + (t->tts_first_text - t->first_token) +
		      (t->first_frame - t->tts_first_audio);
	if (own >= 0)
		hist_add(&call_worker(a->call)->stats->hist[STAGE_OVERHEAD], (uint64_t)own / 1000);
}

/* ---- provider events ---- */

static void stt_speech_started(void *arg)
{
	struct agent *a = arg;

	/* Noise starts speech too: only words or level count for the dialog. */
	a->stt_open_ns = mono_ns();
}

static void stt_partial(void *arg, const char *text)
{
	struct agent *a = arg;
	int words = 0;

	agent_report(a, BRK_STT, true);
	for (const char *p = text; *p; p++)
		words += (*p != ' ') && (p == text || p[-1] == ' ');
	/* Words heard over the agent's voice confirm a barge-in. */
	if (a->reply_ctx && !a->reply_is_filler && words >= 2)
		agent_barge_in(a, "the caller's words over the agent");
	a->last_activity_ns = a->stt_open_ns = mono_ns();
}

/* Adds a final to the caller's words, a space after the one before. */
static int heard_add(struct buf *heard, const char *text, size_t n)
{
	/* Room for both first: a failed add leaves no stray space behind. */
	int rc = buf_reserve(heard, n + 1, NULL);

	if (rc < 0)
		return rc;
	if (heard->len)
		buf_append_byte(heard, ' ');
	return buf_append(heard, text, n);
}

static void stt_final(void *arg, const char *text, bool speech_final)
{
	struct agent *a = arg;
	size_t n = strlen(text);

	if (n && a->stt_ops != &stt_relay)	/* Twilio's hearing is not the STT's health */
		agent_report(a, BRK_STT, true);
	a->last_activity_ns = mono_ns();
	/* An empty final is the STT's word on a stretch of silence: it opens nothing. */
	if (speech_final)
		a->stt_open_ns = 0;
	else if (n)
		a->stt_open_ns = a->last_activity_ns;
	if (n && heard_add(&a->heard, text, n) < 0)
		return;
	if (speech_final && a->heard.len)
		agent_user_turn(a);
}

static void stt_utterance_end(void *arg)
{
	struct agent *a = arg;

	/* speech_final can fail to come in noise: this ends the turn instead. */
	a->stt_open_ns = 0;
	if (a->heard.len)
		agent_user_turn(a);
}

/*
 * The caller cannot be heard: say so, then hand the call back (a person
 * or voicemail can still help them). Nothing the model was about to say
 * is said any more.
 */
static void stt_down(struct agent *a, const char *why)
{
	if (a->state == AG_ENDING)
		return;
	agent_degrade(a, BRK_STT, why);
	if (a->llm) {
		a->llm_ops->cancel(a->llm);
		a->llm = NULL;
	}
	if (a->retry_ev)
		event_del(a->retry_ev);
	agent_tools_cancel(a);
	agent_say(a, a->conf->local_stt_down, false);
	a->handoff_after_reply = "stt-down";	/* the dialplan's reason code */
}

static void stt_error(void *arg, const char *why, bool fatal)
{
	struct agent *a = arg;

	agent_report(a, BRK_STT, false);
	if (!fatal)
		return;		/* the client reconnects by itself */
	log_error("stt", a->uuid, "speech-to-text lost for good: %s", why);
	stt_down(a, "speech-to-text lost");
}

static void stt_heard(void *arg, const char *heard)
{
	agent_interrupted(arg, heard);
}

static const struct stt_events stt_ev = {
	stt_speech_started, stt_partial, stt_final, stt_utterance_end, stt_error, stt_heard,
};

static void tts_first_audio(void *arg, uint32_t ctx)
{
	struct agent *a = arg;

	if (ctx != a->reply_ctx || a->t.tts_first_audio)
		return;
	a->t.tts_first_audio = mono_ns();
	agent_report(a, BRK_TTS, true);
	record_stage(a, STAGE_TTS_TTFB, a->t.tts_first_text, a->t.tts_first_audio);
	call_play_now(a->call);	/* if the caller hears silence, no need to wait a tick */
}

static void tts_done(void *arg, uint32_t ctx)
{
	agent_tts_done(arg, ctx);
}

static void tts_words(void *arg, uint32_t ctx, const char *const *words, const double *end,
		      size_t n)
{
	struct agent *a = arg;

	if (ctx != a->reply_ctx)
		return;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a->reply_words, json_pack("[s, f]", words[i], end[i]));
}

static void tts_error(void *arg, const char *why, bool fatal)
{
	struct agent *a = arg;

	agent_report(a, BRK_TTS, false);
	/*
	 * No voice left, a reply lost before any of it was heard (dead air
	 * otherwise), or the TTS failing for every call: the local voice says
	 * this reply again and the rest of the call. A connection dropped in
	 * the middle of a reply is not that: the provider reconnects for the
	 * next reply, and the caller keeps the voice the business chose.
	 */
	bool unheard = a->reply_ctx && !a->t.tts_first_audio;
	if (a->tts_ops != &tts_espeak && (fatal || unheard || agent_stage_down(a, BRK_TTS))) {
		agent_local_voice(a, why);
		return;
	}
	if (a->reply_ctx)	/* the reply will not finish: treat it as said */
		a->reply_tts_done = true;
	if (fatal) {
		log_error("tts", a->uuid, "text-to-speech lost for good: %s", why);
		call_hangup_after_playout(a->call, "text-to-speech unavailable");
	}
}

/* A reply sent to the TTS with no audio back in time counts as its failure. */
static void check_tts_late(struct agent *a, int64_t now)
{
	if (a->reply_ctx && a->t.tts_first_text && !a->t.tts_first_audio &&
	    now - a->t.tts_first_text > TTS_FIRST_AUDIO_NS && a->tts_ops != &tts_espeak &&
	    a->tts_ops != &tts_relay) {
		agent_report(a, BRK_TTS, false);
		agent_local_voice(a, "no audio in time");
	}
}

static const struct tts_events tts_ev = { tts_done, tts_words, tts_error };

/* ---- the caller's silence: checked on the pacer's ticks, no timer ---- */

static void check_silence(struct agent *a, int64_t now)
{
	int64_t quiet = now - (a->last_activity_ns > a->last_voice_ns ?
			       a->last_activity_ns : a->last_voice_ns);

	if (a->state != AG_LISTENING || a->heard.len ||
	    quiet < (int64_t)a->conf->local_silence_timeout * NS_PER_S)
		return;
	a->last_activity_ns = now;
	if (a->nudges++ == 0) {
		agent_say(a, a->conf->local_nudge, true);
		return;
	}
	agent_say_and_end(a, a->conf->local_goodbye, true, "the caller is silent");
}

/* ---- engine ops ---- */

static int local_start(struct call *c)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct worker *w = call_worker(c);
	struct relay *relay = call_relay(c);	/* Twilio hears and speaks: text only */

	if (!a)
		return -ENOMEM;
	call_set_engine_state(c, a);
	a->call = c;
	a->conf = call_conf(c);
	a->w = w;
	a->rate = call_rate(c);
	snprintf(a->uuid, sizeof(a->uuid), "%s", call_uuid(c));
	a->stt_ops = relay ? &stt_relay : &stt_deepgram;
	a->tts_ops = relay ? &tts_relay :
		     strcmp(conf_tts_for(a->conf, call_did(c)), "elevenlabs") ? &tts_cartesia :
								       &tts_elevenlabs;
	a->llm_ops = &llm_openai;
	a->tts_events = &tts_ev;
	a->history = json_array();
	a->transcript = json_array();
	a->turn_latencies = json_array();
	a->reply_words = json_array();
	a->last_activity_ns = mono_ns();
	buf_init(&a->heard, 0);	/* no ceiling: a turn's finals were never capped */
	buf_init(&a->reply, 0);
	if (!worker_ws(w) || !worker_http(w))
		return -ENOMEM;
	playout_on_first_audio(call_playout(c), tts_first_audio, a);
	unsigned down = call_down_stages(c);
	if (relay)	/* our STT and TTS play no part in this call */
		down &= ~(1u << BRK_STT | 1u << BRK_TTS);
	if (down & (1u << BRK_TTS)) {
		a->tts_ops = &tts_espeak;
		agent_degrade(a, BRK_TTS, "breaker open at call start");
	}
	/* Neither calls back from inside start(): a half-made agent hears nothing. */
	int rc = down & (1u << BRK_STT) ? 0 :
		 a->stt_ops->start(&a->stt, w->ws, a->conf, a->rate, call_ring_in(c), a->uuid,
				   &stt_ev, a);
	if (rc == 0)
		rc = a->tts_ops->start(&a->tts, w->ws, a->conf, a->rate, call_playout(c),
				       a->uuid, &tts_ev, a);
	if (rc < 0)
		return rc;
	if (relay)
		relay_bind(relay, a->stt, a->tts);
	if (down & (1u << BRK_STT)) {
		stt_down(a, "speech-to-text breaker open at call start");
		return 0;
	}
	if (down & (1u << BRK_LLM))
		agent_script_start(a);
	agent_context_start(a);
	return 0;
}

/* The STT has begun an utterance of the caller's and not ended it. */
static bool stt_open(const struct agent *a, int64_t now)
{
	int64_t open_ns = (int64_t)(a->conf->stt_utterance_end_ms + 1000) * NS_PER_MS;

	return a->stt_open_ns && now - a->stt_open_ns < open_ns;
}

/*
 * Whether the caller audio waiting in the ring should go to the STT now.
 * Batching it saves wake-ups on both sides, but two moments cannot wait:
 * quiet inside an utterance the STT has begun (the silence its endpointing
 * needs to end the caller's turn) and speech while the agent talks (the
 * words that confirm a barge-in). Noise that opened an utterance with no
 * words closes it after utterance_end_ms plus a second.
 */
static bool stt_due(const struct agent *a, struct call *c, bool speech, bool playing,
		    int64_t now)
{
	size_t batch = (size_t)call_rate(c) * (size_t)a->conf->stt_batch_ms / 1000;

	return (stt_open(a, now) && !speech) || (playing && speech) ||
	       ring_avail(call_ring_in(c)) >= batch;
}

static void local_on_audio(struct call *c, const uint8_t *pcm, size_t n)
{
	struct agent *a = call_engine_state(c);
	double ms = audio_mean_square_le(pcm, n), loud = (double)a->conf->local_bargein_rms;
	int64_t now = mono_ns();
	bool speech = ms >= loud * loud / 4;	/* half the barge-in level */

	if (speech)
		a->last_voice_ns = now;
	a->voice_now = speech;
	bool playing = a->reply_ctx && !a->reply_is_filler &&
		       (ring_avail(call_ring_out(c)) || !a->reply_tts_done);
	if (a->stt && stt_due(a, c, speech, playing, now))
		a->stt_ops->audio(a->stt);
	else if (!a->stt)
		ring_flush(call_ring_in(c));	/* nobody listens */
	if (!playing || ms < loud * loud) {
		a->loud_samples = 0;
		return;
	}
	/*
	 * Counted in audio, not by the clock: frames read in a batch arrive
	 * together, and a run of them must not seem longer or shorter for it.
	 */
	a->loud_samples += n;
	if (a->loud_samples * 1000 >= (uint64_t)a->conf->local_bargein_ms * (uint64_t)call_rate(c))
		agent_barge_in(a, "the caller's voice over the agent");
}

/*
 * The caller's frames may wait for a batch only while none of them can
 * matter alone: no quiet inside an utterance the STT has begun (that
 * silence ends the caller's turn and goes out at once, stt_due). The
 * batch is half the endpointing at most, so the call is back to frame by
 * frame well inside the silence that ends a turn, and the turn's latency
 * does not grow. While a reply is under way (the call asks then only
 * while no audio of it goes, or on a transport whose peer buffers it:
 * engine.h) a barge-in is heard a batch late at most, so the batch is a
 * fifth of bargein_ms then.
 */
static int local_read_batch_ms(struct call *c)
{
	struct agent *a = call_engine_state(c);
	int ms;

	if (!a)
		return 0;
	if (stt_open(a, mono_ns()) && !a->voice_now)
		return 0;
	ms = a->conf->stt_batch_ms;
	if (ms > a->conf->stt_endpointing_ms / 2)
		ms = a->conf->stt_endpointing_ms / 2;
	if (a->reply_ctx && ms > a->conf->local_bargein_ms / 5)
		ms = a->conf->local_bargein_ms / 5;
	return ms >= 40 ? ms : 0;	/* a batch of one frame saves nothing */
}

/*
 * While the caller has the turn, the agent speaks next only after the
 * STT's endpointing, the model and the TTS (or a nudge after seconds of
 * silence, which may start up to a batch late): silence written ahead
 * of it is long gone by then.
 */
static bool local_reply_near(struct call *c)
{
	struct agent *a = call_engine_state(c);

	return !a || a->state != AG_LISTENING || a->reply_ctx != 0;
}

/* Every 20 ms, before the pacer takes a frame; once per batch while reads are batched. */
static void local_on_tick(struct call *c)
{
	struct agent *a = call_engine_state(c);
	struct ring *out = call_ring_out(c);
	bool backlog = playout_backlog(call_playout(c));

	check_silence(a, mono_ns());
	agent_keypad_tick(a, mono_ns());
	check_tts_late(a, mono_ns());
	if (!a->reply_ctx)
		return;
	if (ring_avail(out) >= (size_t)call_frame_samples(c)) {
		if (!a->t.first_frame) {
			a->t.first_frame = mono_ns();
			record_stage(a, STAGE_TURN, a->t.speech_end, a->t.first_frame);
			record_overhead(a);
			if (a->t.speech_end)
				json_array_append_new(a->turn_latencies, json_integer(
					(a->t.first_frame - a->t.speech_end) / NS_PER_MS));
			/* One caller turn, one figure: the answer after a tool call
			 * (or a filler) is not a new turn. */
			a->t.speech_end = a->t.final = 0;
		}
	} else if (a->reply_tts_done && !backlog && !ring_avail(out)) {
		agent_reply_finished(a);
	}
}

static void local_on_dtmf(struct call *c, char digit)
{
	agent_keypad(call_engine_state(c), digit, mono_ns());	/* 0: a person */
}

static void local_summary(struct call *c, struct call_summary *s)
{
	struct agent *a = call_engine_state(c);
	json_t *lat = json_pack("{s:O}", "turns_ms", a->turn_latencies);

	if (a->degraded)	/* which degraded modes this call ran in */
		json_object_set_new(lat, "degraded", agent_degraded_json(a));

	if (a->handoff[0])
		snprintf(s->outcome, sizeof(s->outcome), "handoff:%s", a->handoff);
	else
		snprintf(s->outcome, sizeof(s->outcome), "%s", a->booked ? "booked" :
			 a->state == AG_ENDING ? "completed" : "caller_hangup");
	s->turns = a->turns;
	s->barge_ins = a->barge_ins;
	s->latency_json = json_dumps(lat, JSON_COMPACT);
	s->transcript_json = json_dumps(a->transcript, JSON_COMPACT);
	json_decref(lat);
}

static void local_stop(struct call *c)
{
	struct agent *a = call_engine_state(c);

	if (!a)
		return;
	agent_tools_cancel(a);
	if (a->llm)
		a->llm_ops->cancel(a->llm);
	http_abort(a->ctx_req);
	free(a->ctx_fetch);
	a->stt_ops->stop(a->stt);
	a->tts_ops->stop(a->tts);
	if (a->retry_ev)
		event_free(a->retry_ev);
	if (a->voice_ev)
		event_free(a->voice_ev);
	agent_script_free(a);
	json_decref(a->vars);
	json_decref(a->history);
	json_decref(a->tools);
	json_decref(a->transcript);
	json_decref(a->turn_latencies);
	json_decref(a->reply_words);
	buf_free(&a->heard);
	buf_free(&a->reply);
	free(a);
	call_set_engine_state(c, NULL);
}

const struct engine_ops engine_local = {
	.name = "local",
	.silence_when_idle = true,
	.start = local_start,
	.on_audio = local_on_audio,
	.on_dtmf = local_on_dtmf,
	.on_tick = local_on_tick,
	.read_batch_ms = local_read_batch_ms,
	.reply_near = local_reply_near,
	.summary = local_summary,
	.stop = local_stop,
};
