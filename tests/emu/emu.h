/*
 * emu.h - vagent-emu, a TEST DOUBLE of vagent's providers (Deepgram live
 * STT, OpenAI/Groq chat completions, Cartesia TTS), speaking their wire
 * protocols on loopback for tests and benchmarks.
 *
 * Owns: the types every part of the emulator shares: the options, the
 * loaded script (what the "providers" say), fault specifications, and the
 * one context struct (struct emu) handed to each server. After start-up
 * struct emu is read-only; each server keeps its mutable state in its own
 * struct, touched by its own thread only.
 *
 * Never: nothing in vagent itself may include this file or depend on the
 * emulator; the emulator never talks to a real provider.
 *
 * Fails: start-up problems (bad option, bad script, port taken) are fatal
 * with one clear line; a peer's bad input is answered the way the real
 * service answers it and logged as a warning.
 */
#ifndef VG_EMU_H
#define VG_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* How every JSON message is written: compact, keys in build order. */
#define EMU_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

enum emu_svc { EMU_DG = 0, EMU_OAI, EMU_CART, EMU_XI /* ElevenLabs TTS */, EMU_NSVC };

enum fault_kind {
	FAULT_NONE = 0,
	FAULT_REFUSE,		/* answer the connect/upgrade with an HTTP error */
	FAULT_CLOSE,		/* close after n messages ("close@n", "cut@n") */
	FAULT_STALL,		/* stop sending after n messages, keep the socket */
	FAULT_MALFORMED,	/* after n messages, one non-JSON message */
};

struct emu_fault {
	enum fault_kind kind;
	int n;			/* messages first; for refuse: the HTTP status */
	bool once;		/* only the first connection (or request) */
};

/* One scripted tool call of an LLM reply. */
struct emu_llm_call {
	char *id;		/* NULL: generated "call_..." */
	char *name;
	char *arguments;	/* the JSON text sent as function.arguments */
};

/* One scripted LLM reply (script "llm" entry). */
struct emu_llm_reply {
	char *content;		/* NULL: no text */
	struct emu_llm_call *calls;
	size_t ncalls;
	int error;		/* HTTP status to answer with, 0: none */
	char *error_message;	/* NULL: the real service's usual text */
	char *error_code;
	int retry_after;	/* seconds, for 429 */
	int cut_after_tokens;	/* -1: none; else close without [DONE] */
	int stream_error_after;	/* -1: none; else Groq "event: error" */
	char *finish_reason;	/* NULL: "stop" or "tool_calls" */
	int ttft_ms;		/* -1: --ttft-ms */
};

struct emu_script {
	char **stt;		/* utterances, in order of speech segments */
	size_t nstt;
	struct emu_llm_reply *llm;
	size_t nllm;
	struct emu_fault fault[EMU_NSVC];
};

struct emu_opts {
	const char *script_path;
	int port[EMU_NSVC];		/* 0: that server is off */
	const char *key[EMU_NSVC];	/* NULL: any (or no) key accepted */
	int stt_final_ms;
	int stt_idle_ms;		/* Deepgram's 10 s no-data close */
	int vad_rms;			/* speech threshold (RMS, 16-bit) */
	int ttft_ms;
	int tokens_per_s;
	int tts_ttfb_ms;
	double tts_rtf;
	const char *voice;		/* espeak-ng voice name */
	const char *log_path;
	const char *faults_spec;
	int xi_api_port;		/* ElevenLabs provisioning REST, 0: off */
	const char *xi_api_key;		/* NULL: any non-empty xi-api-key */
	int xi_agent_port;		/* ElevenLabs ConvAI websocket + signed URL, 0: off */
	const char *xi_agent_key;	/* NULL: public agent, no signature needed */
	const char *xi_agent_script;	/* the conversation (emu_xi_agent.c) */
	int twilio_rest_port;		/* Twilio's Calls REST, 0: off */
	const char *twilio_sid, *twilio_token;	/* NULL: any basic auth */
	const char *twilio_connect_to;	/* HOST:PORT: calls placed are dialled here; NULL: none */
	const char *twilio_callee_wav;	/* what the callee of a placed call says */
};

/* The one context struct: read-only once the servers run. */
struct emu {
	struct emu_opts opt;
	struct emu_script script;
	struct emu_fault fault[EMU_NSVC];	/* in force (script, then --faults) */
};

/* ---- emu_script.c ---- */

/* Loads and checks the script. 0, or -errno / -EINVAL with err filled. */
int emu_script_load(const char *path, struct emu_script *s, char *err, size_t errlen);
void emu_script_free(struct emu_script *s);

/*
 * Parses a fault list "svc:[once:]kind[@n],..." (svc deepgram|openai|
 * cartesia; kind refuse|close|cut|stall|malformed) into out[EMU_NSVC],
 * overriding only the services it names. 0 or -EINVAL with err filled.
 */
int emu_fault_parse(const char *spec, struct emu_fault out[EMU_NSVC], char *err, size_t errlen);

/*
 * The fault in force for the conn_index'th connection (0-based) of a
 * service: f itself, or none when f is "once" and this is not the first.
 */
struct emu_fault emu_fault_for(const struct emu_fault *f, unsigned conn_index);

/* The reply for a request holding n user/tool messages (never NULL if nllm). */
const struct emu_llm_reply *emu_script_llm(const struct emu_script *s, size_t n);

/* The n'th utterance (0-based); "" past the end. */
const char *emu_script_stt(const struct emu_script *s, size_t n);

/* ---- emu_util.c ---- */

int64_t emu_now_us(void);		/* CLOCK_MONOTONIC */

/* A small PRNG; one per thread's server state, never shared. */
struct emu_rng {
	uint64_t s;
};
void emu_rng_seed(struct emu_rng *r, uint64_t salt);
uint64_t emu_rng_next(struct emu_rng *r);
/* Writes a random RFC 4122 v4 UUID (37 bytes with the NUL). */
void emu_uuid(struct emu_rng *r, char out[37]);
/* Writes prefix + n random [A-Za-z0-9] characters, NUL-terminated. */
void emu_rand_id(struct emu_rng *r, const char *prefix, size_t n, char *out, size_t outlen);

/* Base64 (RFC 4648, padded). Returns a malloc'd string or NULL. */
char *emu_base64(const uint8_t *p, size_t n);
/* The same into out (EMU_BASE64_LEN(n) bytes, no NUL); returns the length. */
#define EMU_BASE64_LEN(n) (((n) + 2) / 3 * 4)
size_t emu_base64_into(const uint8_t *p, size_t n, char *out);

/* G.711 */
int16_t emu_ulaw_decode(uint8_t u);
uint8_t emu_ulaw_encode(int16_t s);
int16_t emu_alaw_decode(uint8_t a);
uint8_t emu_alaw_encode(int16_t s);

/*
 * The last EMU_REC_MAX things a server received, newest last, for the
 * emulator-only inspection endpoints (GET /emu/requests). Owned by one
 * thread.
 */
#define EMU_REC_MAX 200
struct emu_rec {
	json_t *items[EMU_REC_MAX];
	size_t head, count;
};
void emu_rec_add(struct emu_rec *r, json_t *item);	/* steals item */
char *emu_rec_dump(const struct emu_rec *r);		/* malloc'd JSON array */
void emu_rec_clear(struct emu_rec *r);

/* Seconds as JSON with millisecond precision (e.g. 1.04). */
json_t *emu_json_secs(double s);

/* ---- emu_tts.c: speech synthesis on its own thread ---- */

enum emu_pcm { PCM_S16LE, PCM_F32LE, PCM_MULAW, PCM_ALAW };

/* Bytes per sample of an output encoding. */
size_t emu_pcm_width(enum emu_pcm enc);

struct emu_tts_job {
	struct emu_tts_job *next;
	uint64_t conn, ctx, seq;	/* the requester's keys, echoed back */
	char *text;			/* owned */
	int rate;
	enum emu_pcm enc;
	uint8_t *audio;			/* result, owned (NULL: error or empty) */
	size_t len;
};

struct emu_tts;

/*
 * Starts the synthesis thread and waits until espeak-ng is ready.
 * wake(arg) is called from that thread when results are waiting.
 * 0 or -errno (with err filled).
 */
int emu_tts_start(const char *voice, void (*wake)(void *), void *arg,
		  struct emu_tts **out, char *err, size_t errlen);
/* Queues a job (ownership passes). */
void emu_tts_submit(struct emu_tts *t, struct emu_tts_job *job);
/* Finished jobs in submission order, or NULL. The caller frees them. */
struct emu_tts_job *emu_tts_take(struct emu_tts *t);
void emu_tts_job_free(struct emu_tts_job *job);
void emu_tts_stop(struct emu_tts *t);	/* NULL is fine */

/* ---- emu_ws.c: the websocket servers (Deepgram, Cartesia) ---- */

struct emu_ws;
int emu_ws_start(struct emu *e, struct emu_ws **out, char *err, size_t errlen);
void emu_ws_stop(struct emu_ws *w);	/* NULL is fine */

/* ---- emu_openai.c: the HTTP + SSE server ---- */

struct event_base;
struct emu_oai;
int emu_oai_start(struct emu *e, struct event_base *base, struct emu_oai **out,
		  char *err, size_t errlen);
void emu_oai_stop(struct emu_oai *o);	/* NULL is fine */

/* ---- emu_xi_api.c: ElevenLabs provisioning REST (tools, agents) ---- */

struct emu_xi_api;
int emu_xi_api_start(struct emu *e, struct event_base *base, struct emu_xi_api **out,
		     char *err, size_t errlen);
void emu_xi_api_stop(struct emu_xi_api *x);	/* NULL is fine */

/* ---- emu_twilio_rest.c: Twilio's Calls REST; ElevenLabs' outbound-call ---- */

struct emu_twilio_rest;
int emu_twilio_rest_start(struct emu *e, struct event_base *base, struct emu_twilio_rest **out,
			  char *err, size_t errlen);
void emu_twilio_rest_stop(struct emu_twilio_rest *t);	/* NULL is fine */
struct evhttp_request;
/* POST /v1/convai/twilio/outbound-call on the xi-api port; body may be NULL. */
void emu_xi_outbound_call(struct evhttp_request *req, json_t *body, struct emu_rng *rng);

/* ---- emu_twilio.c: `vagent-emu twilio ...`, Twilio dialling in (a client) ---- */

int emu_twilio_main(int argc, char **argv);
/* emu_twilio_relay.c: `vagent-emu twilio --relay ...`, over ConversationRelay */
int emu_twilio_relay_main(int argc, char **argv);

#endif
