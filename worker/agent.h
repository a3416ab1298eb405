/*
 * agent.h - the local agent engine: one caller, one conversation.
 *
 * Owns: a call's dialog with the caller through the three providers:
 * speech-to-text hears the caller, the language model decides what to say
 * and which tool to use, text-to-speech says it, token by token. Also the
 * barge-in (the caller talks over the agent: stop at once, keep in the
 * history only what was heard), the tools (create_booking through the
 * booking-writer, end_call, webhooks), and the call's transcript, turn
 * latencies and outcome for its call record.
 *
 * Modules: eng_local.c (engine ops, caller audio, barge-in, pacing hooks),
 * agent_dialog.c (turns, replies, retries), agent_tools.c (tools),
 * agent_ctx.c (who was called: context, prompt, greeting), agent_heard.c
 * (how much of an interrupted reply was heard), agent_state.c (the one
 * place the state changes), agent_transcript.c (the call record's
 * transcript), agent_render.c ({{name}} in the prompt and greeting),
 * agent_handoff.c (passing the caller to a person), agent_keypad.c (the
 * caller's keys).
 * Everything runs on the worker's main loop, except the provider hooks
 * that move audio (stt.h, tts.h).
 */
#ifndef VG_AGENT_H
#define VG_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/buf.h"
#include "llm.h"
#include "stt.h"
#include "tts.h"

struct call;
struct conf;
struct event;
struct http;
struct http_req;
struct worker;

/* Changed only by agent_enter() (agent_state.c), which has the table of
 * allowed changes. */
enum agent_state {
	AG_CONTEXT = 0,		/* fetching who was called; where calloc puts a new agent */
	AG_LISTENING,		/* the caller's turn */
	AG_THINKING,		/* the model is working, nothing said yet */
	AG_SPEAKING,		/* a reply is being said */
	AG_TOOLS,		/* waiting for tools */
	AG_ENDING,		/* saying goodbye, then hanging up; final */
};
#define AG_NSTATES (AG_ENDING + 1)

struct agent_turn_times {
	int64_t speech_end;	/* caller stopped speaking (local VAD) */
	int64_t final;		/* the final transcript arrived */
	int64_t llm_sent, first_token;
	int64_t tts_first_text, tts_first_audio;
	int64_t first_frame;	/* the reply's first frame went to the caller */
};

struct agent {
	struct call *call;
	const struct conf *conf;
	struct worker *w;
	char uuid[40];
	int rate;

	struct stt *stt;
	struct tts *tts;
	struct llm_req *llm;
	const struct stt_ops *stt_ops;
	const struct tts_ops *tts_ops;
	const struct llm_ops *llm_ops;
	struct http_req *ctx_req;	/* did_context lookup */
	struct ctx_fetch *ctx_fetch;	/* its buffer */

	json_t *vars;			/* context: company_name, trade_type, ... */
	json_t *history;		/* OpenAI messages */
	json_t *tools;			/* tool definitions */
	json_t *transcript;		/* for the call record */

	enum agent_state state;
	/* The caller's turn being heard. */
	struct buf heard;		/* finals since the last turn, a space apart */
	int64_t last_voice_ns;		/* last caller frame above the speech level */
	bool voice_now;			/* the caller's last frame was above it */
	int64_t stt_open_ns;		/* STT heard the caller begin an utterance (0: none open) */
	uint64_t loud_samples;		/* barge-in: caller audio loud in a row */
	/* The reply being said. */
	uint32_t reply_ctx;		/* TTS context, 0 when none */
	struct buf reply;		/* text sent to TTS for this reply */
	bool reply_llm_done, reply_tts_done;
	bool reply_is_filler;		/* apology or filler: not in the history */
	json_t *reply_words;		/* [[word, end_s], ...] when the TTS times them */
	/* Model requests of this turn. */
	int attempts;
	struct event *retry_ev;
	struct agent_tool_call *calls;	/* in flight */
	bool hangup_after_reply;
	bool booked;
	/* Timing. */
	struct agent_turn_times t;
	int64_t last_activity_ns;	/* for the silence timeout */
	struct event *filler_ev;	/* a filler line if tools are slow */
	int nudges;
	/* Passing the caller to a person (agent_handoff.c). */
	char handoff[22];		/* the reason, as a code; "" while not handing off;
				 * short: "handoff:" and it fit calls.outcome */
	/* Keys typed on the keypad, not yet a turn (agent_keypad.c). */
	char keys[24];
	size_t nkeys;
	int64_t key_ns;			/* the last key */
	/* Counters for the call record. */
	int turns, barge_ins;
	json_t *turn_latencies;		/* ms, one per answered turn */
	/* Degraded modes (breaker.h): stages this call does without. */
	unsigned degraded;		/* 1u << enum brk_stage, once entered */
	unsigned reported_ok;		/* stages whose success was reported this call */
	struct agent_script *script;	/* the LLM is down: the scripted dialog */
	const char *handoff_after_reply;	/* hand back once the reply has played */
	const struct tts_events *tts_events;	/* eng_local.c's, for a new TTS */
	struct event *voice_ev;		/* switching to the local voice */
};

/* agent_ctx.c */
void agent_context_start(struct agent *a);
/*
 * Asks the api's did_context who call c rang; ready(arg, vars) gets the
 * fields (every one of the right type, the fallback's where the api did
 * not say; owned by ready), from the main loop, or at once when there is
 * nothing to ask. Until then *req and *fetch are set: to give up,
 * http_abort(*req) and free(*fetch).
 */
struct ctx_fetch;
void agent_ctx_fetch(struct worker *w, struct call *c, struct http_req **req,
		     struct ctx_fetch **fetch, void (*ready)(void *arg, json_t *vars), void *arg);

/* agent_render.c: tmpl with each {{name}} replaced by its value in vars,
 * into *out (the caller frees it); 0, or a negative errno with *out NULL. */
int agent_render(const char *tmpl, json_t *vars, char **out);

/* agent_state.c: moves a to state `to`, for the log's `why`; 0, or -EPERM
 * (logged) when the table does not allow it and a stays where it was. */
int agent_enter(struct agent *a, enum agent_state to, const char *why);

/* agent_dialog.c */
void agent_user_turn(struct agent *a);		/* the caller finished speaking */
void agent_say(struct agent *a, const char *text, bool in_history);
/* Says text (NULL: lets the reply being said finish), hangs up once the
 * reply has been played, and enters ENDING for `why`. */
void agent_say_and_end(struct agent *a, const char *text, bool in_history, const char *why);
void agent_barge_in(struct agent *a, const char *why);
/* agent_interrupt.c: the caller's side spoke the reply and says what of it was heard. */
void agent_interrupted(struct agent *a, const char *heard);
void agent_tts_done(struct agent *a, uint32_t ctx);
void agent_reply_finished(struct agent *a);	/* last audio frame played */

void agent_tools_done(struct agent *a);

/* agent_heard.c: the length of the prefix of reply (len bytes) that the
 * n words the TTS says it has spoken cover, in the reply's own spelling;
 * 0 when none of them is found. */
size_t agent_heard_len(const char *reply, size_t len, const char *const *words, size_t n);

/* agent_tools.c */
json_t *agent_tool_defs(const struct conf *c);
void agent_run_tools(struct agent *a, json_t *calls);
void agent_tools_cancel(struct agent *a);

/* agent_booking.c: books args (the model's) with what the call knows
 * (vars: its context) as source ("local", "cloud"). done(arg, result,
 * booked) comes once, result owned by it, always from the main loop
 * (never before this returns); *out stays the owner's to free with
 * agent_booking_cancel(), which also stops one not yet answered.
 * 0 or -ENOMEM (then no done). */
struct agent_booking;
int agent_booking_start(struct agent_booking **out, struct call *c, json_t *vars, json_t *args,
			const char *source,
			void (*done)(void *arg, json_t *result, bool booked), void *arg);
void agent_booking_cancel(struct agent_booking *b);	/* NULL is fine */

/* agent_handoff.c: passes the caller to a person for `reason` (a short
 * code such as "dtmf-0"; other text is made one): writes the reason file
 * the dialplan reads with what the caller said so far, says the [handoff]
 * goodbye, then closes the connection once it has played, so the dialplan
 * goes on to the ring group. Stops whatever was being said or asked. Once
 * per call; nothing when the agent is already ending the call. */
void agent_handoff(struct agent *a, const char *reason);
/* The same from the model's transfer_to_human tool (args: its arguments):
 * what the model is saying is let finish as the goodbye. */
void agent_handoff_tool(struct agent *a, json_t *args);
json_t *agent_handoff_tool_def(void);

/* agent_keypad.c: a key the caller pressed (DTMF), and the pacer's tick
 * that ends typing after a pause. */
void agent_keypad(struct agent *a, char key, int64_t now);
void agent_keypad_tick(struct agent *a, int64_t now);

/* agent_degrade.c: the breakers and the degraded modes. */
void agent_report(struct agent *a, int stage, bool ok);	/* an outcome of a provider stage */
bool agent_stage_down(const struct agent *a, int stage);	/* its breaker is open */
/* Enters the degraded mode of stage for `why`, once: marks, counts, logs. */
void agent_degrade(struct agent *a, int stage, const char *why);
/* The TTS failed: the local voice says the rest of the call, from this reply on. */
void agent_local_voice(struct agent *a, const char *why);
json_t *agent_degraded_json(const struct agent *a);	/* ["llm", ...] */

/* agent_script.c: the booking dialog without the model (the LLM is down). */
void agent_script_start(struct agent *a);	/* from now on, this call */
void agent_script_turn(struct agent *a);	/* the caller finished speaking */
void agent_script_tools_done(struct agent *a);	/* create_booking answered */
void agent_script_free(struct agent *a);

/* agent_transcript.c: an entry of the call record's transcript; 0 or -EINVAL. */
int agent_transcript(struct agent *a, const char *role, const char *text);
int agent_transcript_cut(struct agent *a, const char *heard);	/* a reply talked over */

#endif
