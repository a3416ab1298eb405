/*
 * twilio_relay_wire.h - Twilio ConversationRelay messages (protocols.md 6.6).
 *
 * Owns: the JSON both ways of a ConversationRelay session, where Twilio
 * does the speech both ways and only text crosses. In: setup (callSid,
 * from, to, customParameters "did" and "caller"), prompt (the caller's
 * words; last: the utterance is final), interrupt (what the caller heard
 * of the agent before talking over it), dtmf, error. Out: text (a token
 * of the agent's reply; last ends the reply) and end (handoffData).
 *
 * Never: trusts a string from the peer past its buffer: a callSid must be
 * letters and digits (it names the call in logs and files), parameters are
 * cut to their buffers. Fails: -EINVAL (malformed) with why set.
 */
#ifndef VG_TWILIO_RELAY_WIRE_H
#define VG_TWILIO_RELAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#define TR_SID_LEN 64
#define TR_PARAM_LEN 32

enum tr_type {
	TR_OTHER = 0,		/* info, or a type we do not use: ignored */
	TR_SETUP,
	TR_PROMPT,
	TR_INTERRUPT,
	TR_DTMF,
	TR_ERROR,
};

struct tr_msg {
	enum tr_type type;
	/* setup */
	char call_sid[TR_SID_LEN];
	char did[TR_PARAM_LEN];		/* customParameters.did, else "to" */
	char caller[TR_PARAM_LEN];	/* customParameters.caller, else "from" */
	/* prompt, interrupt (utteranceUntilInterrupt), error (description) */
	const char *text;		/* points into the parsed JSON: valid until tr_msg_free */
	bool last;			/* prompt */
	double heard_ms;		/* interrupt: durationUntilInterruptMs */
	char digit;			/* dtmf */
	void *json_;			/* owned: the parsed message */
};

/* Parses one text message into m. 0, or -EINVAL with why set to a static string. */
int tr_parse(const char *json, size_t len, struct tr_msg *m, const char **why);
void tr_msg_free(struct tr_msg *m);

/* Outbound messages, malloc'd NUL-terminated (caller frees); NULL on no memory. */
char *tr_text(const char *token, size_t len, bool last);
char *tr_end(const char *handoff_data);

#endif
