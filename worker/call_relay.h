/*
 * call_relay.h - a Twilio ConversationRelay call as the local engine sees
 * it (call_relay.c, relay_io.c).
 *
 * Over ConversationRelay Twilio hears the caller and speaks the agent's
 * replies; only text crosses. The local engine runs unchanged with two
 * providers that are this socket: stt_relay (the caller's final prompts,
 * and what was heard of a reply the caller talked over) and tts_relay
 * (the reply's tokens as text messages). The engine binds them to the
 * call once started; a hand-off's details go out with the closing `end`.
 */
#ifndef VG_CALL_RELAY_H
#define VG_CALL_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct call;
struct relay;
struct stt;
struct tts;

/* The call's relay, NULL for a call on another transport. */
struct relay *call_relay(struct call *c);
/* The engine's providers for this call (NULL, NULL: unbound). */
void relay_bind(struct relay *r, struct stt *s, struct tts *t);
/* Final prompts so far. */
uint64_t relay_prompts(const struct relay *r);
/* Queues one outbound message (JSON text, taken and freed). 0 or -errno. */
int relay_send(struct relay *r, char *msg);
/* The hand-off's details (JSON text, len bytes): the `end` carries them. No-op if not relay. */
void relay_handoff(struct call *c, const char *data, size_t len);

/* relay_io.c: what call_relay.c hands the providers. */
void stt_relay_prompt(struct stt *s, const char *text);
void stt_relay_interrupt(struct stt *s, const char *heard);
void tts_relay_attach(struct tts *t, struct relay *r);

#endif
