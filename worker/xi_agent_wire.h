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

enum xi_kind {
	XI_IGNORED = 0,		/* a type we do not act on (vad_score, ...) */
	XI_METADATA,		/* conversation_initiation_metadata */
	XI_AUDIO,
	XI_INTERRUPTION,
	XI_PING,
	XI_AGENT_RESPONSE,
	XI_CORRECTION,		/* agent_response_correction */
	XI_USER_TRANSCRIPT,
	XI_TOOL_CALL,		/* client_tool_call */
};

/* An audio format: "pcm_16000" or "ulaw_8000". */
struct xi_fmt {
	bool ulaw;
	int rate;
};

struct xi_msg {
	enum xi_kind kind;
	json_t *root;			/* owns every pointer below */
	int64_t event_id;		/* -1: none */
	const char *audio;		/* base64, audio_len bytes */
	size_t audio_len;
	const char *text;		/* agent_response, user_transcript, corrected text */
	const char *original;		/* a correction's original text */
	const char *conversation_id;
	struct xi_fmt in, out;		/* metadata: user input and agent output formats */
	const char *tool_name, *tool_call_id;
	json_t *params;			/* a tool call's parameters (object, borrowed) */
};

/* 0, or -EINVAL (not JSON, no type, or a known type without its fields). */
int xi_msg_parse(struct xi_msg *m, const char *data, size_t len);
void xi_msg_clear(struct xi_msg *m);

/* 0, or -EINVAL for a name that is neither pcm_<rate> nor ulaw_8000. */
int xi_fmt_parse(const char *s, struct xi_fmt *f);

/* Client messages, malloc'd JSON text (NULL when out of memory). */
char *xi_init_msg(json_t *dynamic_variables);
char *xi_audio_msg(const uint8_t *bytes, size_t n);
char *xi_pong_msg(int64_t event_id);
char *xi_tool_result_msg(const char *tool_call_id, const char *result, bool is_error);

/* The signed_url of a get-signed-url answer, malloc'd; NULL if none. */
char *xi_signed_url(const char *body, size_t len);

#endif
