/*
 * xi_agent_wire.h - ElevenLabs Conversational AI websocket messages
 * (protocols.md 5.2-5.4): what a server message says, and the client
 * messages the bridge sends. Pure functions, no I/O, no state.
 */
#ifndef VG_XI_AGENT_WIRE_H
#define VG_XI_AGENT_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xa_kind {
	XA_IGNORED = 0,		/* a type we do not act on (vad_score, ...) */
	XA_METADATA,		/* conversation_initiation_metadata */
	XA_AUDIO,
	XA_INTERRUPTION,
	XA_PING,
	XA_AGENT_RESPONSE,
	XA_CORRECTION,		/* agent_response_correction */
	XA_USER_TRANSCRIPT,
	XA_TOOL_CALL,		/* client_tool_call */
};

/* An audio format: "pcm_16000" or "ulaw_8000". */
struct xa_fmt {
	bool ulaw;
	int rate;
};

struct xa_msg {
	enum xa_kind kind;
	json_t *root;			/* owns every pointer below */
	int64_t event_id;		/* -1: none */
	const char *audio;		/* base64, audio_len bytes */
	size_t audio_len;
	const char *text;		/* agent_response, user_transcript, corrected text */
	const char *original;		/* a correction's original text */
	const char *conversation_id;
	struct xa_fmt in, out;		/* metadata: user input and agent output formats */
	const char *tool_name, *tool_call_id;
	json_t *params;			/* a tool call's parameters (object, borrowed) */
};

/* 0, or -EINVAL (not JSON, no type, or a known type without its fields). */
int xa_msg_parse(struct xa_msg *m, const char *data, size_t len);
void xa_msg_clear(struct xa_msg *m);

/* 0, or -EINVAL for a name that is neither pcm_<rate> nor ulaw_8000. */
int xa_fmt_parse(const char *s, struct xa_fmt *f);

/*
 * The dynamic variables for conversation_initiation_client_data (new
 * reference; NULL when out of memory). ctx: the call's context
 * (agent_ctx_fetch: did_context's fields, time_greeting, and the call's
 * own variables merged under them). Every field the prompt may name is
 * there, never missing nor null (protocols.md 5.7 item 3); each of
 * call_vars' names (NULL: none) is added with ctx's value for it, so a
 * name did_context also gave keeps did_context's value.
 */
json_t *xa_dynamic_vars(json_t *ctx, json_t *call_vars);

/* Client messages, malloc'd JSON text (NULL when out of memory). */
char *xa_init_msg(json_t *dynamic_variables);
char *xa_audio_msg(const uint8_t *bytes, size_t n);
char *xa_pong_msg(int64_t event_id);
char *xa_tool_result_msg(const char *tool_call_id, const char *result, bool is_error);

/* The signed_url of a get-signed-url answer, malloc'd; NULL if none. */
char *xa_signed_url(const char *body, size_t len);

#endif
