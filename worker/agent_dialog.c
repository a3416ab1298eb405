/*
 * agent_dialog.c - the conversation: the caller's turns, the agent's
 * replies, tool rounds, retries, barge-in.
 *
 * A reply is one TTS context. Every token the model streams goes into it
 * at once (continuation), so the caller hears the first word while the
 * model is still writing the sentence. The reply enters the history when
 * the model is done; if the caller talks over it, the history keeps only
 * what the caller heard (word timings when the TTS gives them, else the
 * share of the reply's audio that was played), so the model never believes
 * it said what was never heard.
 *
 * Errors never mean dead air: a model that fails (429, 5xx, a cut stream)
 * gets a spoken apology and a retry after the delay it asked for; after
 * [llm] retries the caller is asked to say it again.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
#include "agent.h"
#include "breaker.h"
#include "call.h"
#include "http.h"
#include "http_status.h"
#include "playout.h"
#include "worker.h"

static void start_llm(struct agent *a);
static void agent_stop_reply(struct agent *a);

/* ---- the reply being said ---- */

static void reply_clear(struct agent *a)
{
	buf_reset(&a->reply);
	json_array_clear(a->reply_words);
	a->reply_llm_done = a->reply_tts_done = false;
	a->t.tts_first_text = a->t.tts_first_audio = a->t.first_frame = 0;
}

static void reply_begin(struct agent *a, bool filler)
{
	reply_clear(a);
	a->reply_ctx = a->tts_ops->begin(a->tts);
	a->reply_is_filler = filler;
	if (a->state != AG_ENDING && a->state != AG_TOOLS)
		agent_enter(a, AG_SPEAKING, "a reply begins");
}

static void reply_add(struct agent *a, const char *text, size_t len)
{
	if (buf_append(&a->reply, text, len) < 0)
		return;
	if (!a->t.tts_first_text)
		a->t.tts_first_text = mono_ns();
	a->tts_ops->text(a->tts, text, len);
}

static void reply_end_input(struct agent *a)
{
	a->tts_ops->finish(a->tts);
	a->reply_llm_done = true;
}

void agent_say(struct agent *a, const char *text, bool in_history)
{
	if (a->state == AG_ENDING)
		return;		/* the goodbye is being said: nothing may cut it */
	if (a->reply_ctx)
		agent_stop_reply(a);
	reply_begin(a, !in_history);
	reply_add(a, text, strlen(text));
	reply_end_input(a);
	if (in_history)
		json_array_append_new(a->history, json_pack("{s:s, s:s}", "role", "assistant",
							    "content", text));
	agent_transcript(a, "agent", text);
}

void agent_say_and_end(struct agent *a, const char *text, bool in_history, const char *why)
{
	if (text)
		agent_say(a, text, in_history);
	a->hangup_after_reply = true;
	agent_enter(a, AG_ENDING, why);
}

/* Stops the reply at once: nothing more of it reaches the caller. */
static void agent_stop_reply(struct agent *a)
{
	if (!a->reply_ctx)
		return;
	a->tts_ops->cancel(a->tts);	/* the playout flushes the ring, then no more enters */
	a->reply_ctx = 0;
}

void agent_tts_done(struct agent *a, uint32_t ctx)
{
	if (ctx && ctx == a->reply_ctx)
		a->reply_tts_done = true;
}

void agent_reply_finished(struct agent *a)
{
	a->reply_ctx = 0;
	if (a->handoff_after_reply && !a->hangup_after_reply) {
		agent_handoff(a, a->handoff_after_reply);
		return;
	}
	if (a->hangup_after_reply) {
		call_hangup_after_playout(a->call, "the agent ended the call");
		return;
	}
	if (a->state == AG_SPEAKING)
		agent_enter(a, AG_LISTENING, "the reply was played");
	a->last_activity_ns = mono_ns();
	if (a->state == AG_LISTENING && a->heard.len)
		agent_user_turn(a);	/* the caller spoke while the agent was finishing */
}

/* ---- the local voice: the TTS failed ---- */

/*
 * Runs off the TTS client's own callback (a client is never stopped from
 * inside itself): the reply that was being said starts again in the local
 * voice, and everything after it is said by it.
 */
static void switch_voice(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	bool had = a->reply_ctx && a->reply.len, filler = a->reply_is_filler;
	bool all_in = a->reply_llm_done;
	char *text = had ? strdup(buf_str(&a->reply)) : NULL;
	(void)fd; (void)what;

	if (a->tts_ops == &tts_espeak) {
		free(text);
		return;
	}
	agent_stop_reply(a);
	a->tts_ops->stop(a->tts);
	a->tts = NULL;
	a->tts_ops = &tts_espeak;
	int rc = a->tts_ops->start(&a->tts, worker_ws(a->w), a->conf, a->rate, call_playout(a->call),
				   a->uuid, a->tts_events, a);
	if (rc < 0) {
		log_error("tts", a->uuid, "local voice: %s", strerror(-rc));
		free(text);
		call_hangup_after_playout(a->call, "no voice at all");
		return;
	}
	agent_degrade(a, BRK_TTS, "local voice");
	if (text) {
		reply_begin(a, filler);
		reply_add(a, text, strlen(text));
		if (all_in)		/* else the model's next tokens follow */
			reply_end_input(a);
	}
	free(text);
}

void agent_local_voice(struct agent *a, const char *why)
{
	static const struct timeval now = { 0, 0 };

	if (a->tts_ops == &tts_espeak || (a->voice_ev && event_pending(a->voice_ev, EV_TIMEOUT,
									    NULL)))
		return;
	log_warn("tts", a->uuid, "switching to the local voice: %s", why);
	if (!a->voice_ev)
		a->voice_ev = event_new(call_worker(a->call)->base, -1, 0, switch_voice, a);
	if (a->voice_ev)
		event_add(a->voice_ev, &now);
}

/* ---- barge-in ---- */

/*
 * What of the reply the caller heard, cut at a word boundary: a prefix of
 * the reply's own text, never the TTS's words joined (agent_heard.c says
 * why).
 */
static char *heard_part(struct agent *a)
{
	struct playout *po = call_playout(a->call);
	uint64_t played_n = playout_played(po, a->reply_ctx);
	double played = (double)played_n / a->rate;
	size_t nwords = json_array_size(a->reply_words), n = 0;
	const char *text = buf_str(&a->reply);

	if (nwords) {
		const char **words = calloc(nwords, sizeof(*words));
		size_t heard = 0;
		if (!words)
			return strdup("");
		for (size_t i = 0; i < nwords; i++) {
			json_t *w = json_array_get(a->reply_words, i);
			if (json_number_value(json_array_get(w, 1)) > played)
				break;
			words[heard++] = json_string_value(json_array_get(w, 0));
		}
		n = agent_heard_len(text, a->reply.len, words, heard);
		free(words);
		return strndup(text, n);
	}
	/* No word timings: the played share of the audio written so far. */
	uint64_t total = playout_written(po, a->reply_ctx);
	double frac = total ? (double)played_n / (double)total : 0;
	n = (size_t)(frac > 1 ? a->reply.len : frac * (double)a->reply.len);
	while (n && n < a->reply.len && text[n] != ' ')
		n--;
	return strndup(text, n);
}

/*
 * The history's record of the interrupted reply becomes what was heard.
 * Nothing heard: a reply with tool calls keeps them (content null is what
 * the API wants with tool_calls), one without is dropped; the API refuses
 * an assistant message with neither content nor tool calls, and would
 * refuse every later request of the call.
 */
static void keep_heard(struct agent *a, const char *heard)
{
	size_t at = json_array_size(a->history) - 1;
	json_t *last = json_array_get(a->history, at);
	const char *role = json_string_value(json_object_get(last, "role"));
	bool ours = role && !strcmp(role, "assistant") && a->reply_llm_done;

	if (ours && *heard)
		json_object_set_new(last, "content", json_string(heard));
	else if (ours && json_array_size(json_object_get(last, "tool_calls")))
		json_object_set_new(last, "content", json_null());
	else if (ours)
		json_array_remove(a->history, at);
	else if (*heard)
		json_array_append_new(a->history, json_pack("{s:s, s:s}", "role", "assistant",
							    "content", heard));
	agent_transcript_cut(a, heard);
}

void agent_barge_in(struct agent *a, const char *why)
{
	if (!a->reply_ctx || a->state == AG_ENDING)
		return;
	char *heard = a->reply_is_filler ? NULL : heard_part(a);
	bool was_filler = a->reply_is_filler;
	uint64_t played = playout_played(call_playout(a->call), a->reply_ctx);

	agent_stop_reply(a);
	if (a->llm) {
		a->llm_ops->cancel(a->llm);
		a->llm = NULL;
	}
	a->barge_ins++;
	a->loud_samples = 0;
	if (!was_filler)
		keep_heard(a, heard ? heard : "");
	log_info("agent", a->uuid, "barge-in (%s) at outbound frame %llu, %.2f s into the "
		 "reply; kept \"%.60s\"", why, (unsigned long long)call_frames_out(a->call),
		 (double)played / a->rate, heard ? heard : "");
	free(heard);
	if (a->state != AG_TOOLS)
		agent_enter(a, AG_LISTENING, "barge-in");
}

/* ---- the model ---- */

static void on_token(void *arg, const char *text, size_t len)
{
	struct agent *a = arg;

	if (!a->t.first_token) {
		a->t.first_token = mono_ns();
		if (a->t.llm_sent)
			hist_add(&call_worker(a->call)->stats->hist[STAGE_LLM_TTFT],
				 (uint64_t)(a->t.first_token - a->t.llm_sent) / 1000);
	}
	if (!a->reply_ctx || a->reply_is_filler || a->reply_llm_done)
		reply_begin(a, false);	/* a filler still playing finishes first */
	reply_add(a, text, len);
}

/* The assistant message as the API wants it back, tool calls unchanged. */
static json_t *assistant_message(struct agent *a, json_t *calls)
{
	json_t *m = json_pack("{s:s}", "role", "assistant");
	size_t i;
	json_t *c;

	json_object_set_new(m, "content", a->reply.len && !a->reply_is_filler ?
			    json_string(buf_str(&a->reply)) : json_null());
	if (json_array_size(calls)) {
		json_t *tc = json_array();
		json_array_foreach(calls, i, c)
			json_array_append_new(tc, json_pack("{s:O, s:s, s:{s:O, s:O}}",
				"id", json_object_get(c, "id"), "type", "function", "function",
				"name", json_object_get(c, "name"),
				"arguments", json_object_get(c, "arguments")));
		json_object_set_new(m, "tool_calls", tc);
	}
	return m;
}

static void on_done(void *arg, const char *finish, json_t *calls)
{
	struct agent *a = arg;
	bool said = a->reply_ctx && !a->reply_is_filler && a->reply.len;

	a->llm = NULL;
	a->attempts = 0;
	agent_report(a, BRK_LLM, true);
	if (said) {
		reply_end_input(a);
		agent_transcript(a, "agent", buf_str(&a->reply));
	}
	if (said || json_array_size(calls))
		json_array_append_new(a->history, assistant_message(a, calls));
	log_debug("agent", a->uuid, "reply done (%s): %zu chars, %zu tool call(s)", finish,
		  a->reply.len, json_array_size(calls));
	if (json_array_size(calls)) {
		agent_enter(a, AG_TOOLS, "tool calls");
		agent_run_tools(a, calls);
		return;
	}
	if (a->state == AG_THINKING)
		agent_enter(a, said ? AG_SPEAKING : AG_LISTENING, "the model is done");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	start_llm(arg);
}

static void on_error(void *arg, long status, int retry_after_ms, const char *why)
{
	struct agent *a = arg;
	int delay = retry_after_ms > 0 ? retry_after_ms : 300 * (a->attempts + 1);
	struct timeval tv;

	a->llm = NULL;
	a->attempts++;
	log_warn("llm", a->uuid, "attempt %d failed (HTTP %ld): %s", a->attempts, status, why);
	agent_report(a, BRK_LLM, false);
	/* Down (retries spent on an outage, or failing for every call): the
	 * script books instead. A refusal of this request alone (4xx) is not
	 * an outage: the caller is asked again, and the next turn may pass. */
	if ((a->attempts > a->conf->llm_retries && !http_status_permanent(status)) ||
	    agent_stage_down(a, BRK_LLM)) {
		a->attempts = 0;
		agent_script_start(a);
		return;
	}
	/* Never dead air: say something while we wait (and drop a half reply). */
	agent_say(a, a->conf->local_apology, false);
	if (http_status_permanent(status)) {
		a->attempts = 0;
		agent_say(a, a->conf->local_say_again, true);
		agent_enter(a, AG_LISTENING, "the model refused the request");
		return;
	}
	if (delay > 10000)
		delay = 10000;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	if (!a->retry_ev)
		a->retry_ev = event_new(call_worker(a->call)->base, -1, 0, on_retry, a);
	if (a->retry_ev)
		event_add(a->retry_ev, &tv);
	agent_enter(a, AG_THINKING, "the model failed: retrying");
}

static const struct llm_events llm_ev = { on_token, on_done, on_error };

/* The caller's words not yet in the history go in as a user message. */
static void take_heard(struct agent *a)
{
	if (!a->heard.len)
		return;
	json_array_append_new(a->history, json_pack("{s:s, s:s}", "role", "user",
						    "content", buf_str(&a->heard)));
	agent_transcript(a, "caller", buf_str(&a->heard));
	buf_reset(&a->heard);
}

static void start_llm(struct agent *a)
{
	take_heard(a);
	a->t.llm_sent = mono_ns();
	a->t.first_token = 0;
	agent_enter(a, AG_THINKING, "asking the model");
	if (a->llm_ops->start(&a->llm, worker_http(a->w), a->conf, a->history, a->tools,
			      &llm_ev, a) < 0) {
		a->llm = NULL;
		on_error(a, 0, -1, "cannot start the request");
	}
}

static void agent_llm_request(struct agent *a)
{
	a->attempts = 0;
	start_llm(a);
}

void agent_tools_done(struct agent *a)
{
	if (a->state == AG_ENDING || a->hangup_after_reply)
		return;		/* end_call: nothing more to ask the model */
	if (a->script)
		agent_script_tools_done(a);
	else
		agent_llm_request(a);
}

/* ---- the caller's turn ---- */

/*
 * The caller spoke again while the model was still on their last words:
 * the request is dropped and the new words join the last user message, so
 * the next request is about all of them.
 */
static void rethink(struct agent *a)
{
	if (a->llm) {
		a->llm_ops->cancel(a->llm);
		a->llm = NULL;
	}
	if (a->retry_ev)
		event_del(a->retry_ev);
	json_t *last = json_array_get(a->history, json_array_size(a->history) - 1);
	const char *role = json_string_value(json_object_get(last, "role"));
	if (role && !strcmp(role, "user")) {
		char *joined = NULL;
		if (asprintf(&joined, "%s %s", json_string_value(json_object_get(last,
			     "content")), buf_str(&a->heard)) > 0)
			json_object_set_new(last, "content", json_string(joined));
		free(joined);
		agent_transcript(a, "caller", buf_str(&a->heard));
		buf_reset(&a->heard);
	}
}

void agent_user_turn(struct agent *a)
{
	int64_t now = mono_ns();

	switch (a->state) {
	case AG_CONTEXT:
	case AG_TOOLS:
		return;		/* kept; taken once the agent can listen */
	case AG_ENDING:
		buf_reset(&a->heard);
		return;
	case AG_SPEAKING:
		if (a->reply_ctx && !a->reply_is_filler)
			agent_barge_in(a, "the caller's turn came in over the reply");
		break;
	case AG_THINKING:
		rethink(a);
		break;
	case AG_LISTENING:
		break;
	}
	memset(&a->t, 0, sizeof(a->t));
	a->t.speech_end = a->last_voice_ns ? a->last_voice_ns : now;
	a->t.final = now;
	if (a->t.final > a->t.speech_end)
		hist_add(&call_worker(a->call)->stats->hist[STAGE_STT_FINAL],
			 (uint64_t)(a->t.final - a->t.speech_end) / 1000);
	a->nudges = 0;
	a->turns++;		/* a caller's turn the agent answers */
	if (a->script)
		agent_script_turn(a);
	else
		agent_llm_request(a);
}
