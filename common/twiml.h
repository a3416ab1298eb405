/*
 * twiml.h - the TwiML documents vagent hands to Twilio.
 *
 * Owns: the <Connect><Stream> (Media Streams, protocols.md 6.1) or
 * <Connect><ConversationRelay> (6.6) answer that brings a call to us, with
 * its <Parameter>s (the DID, the other party, any variables of an
 * outbound call), the polite refusal for a number we do not serve,
 * <Play> for a one-way message, and <Dial> to pass a caller to a person. Shared by the api (inbound webhook) and
 * vagentctl (outbound calls), so both ends always agree on the stream URL
 * and the parameter names the stream side reads.
 *
 * Never: put a query string on the stream URL (Twilio refuses it, 31922);
 * write a value without XML-escaping it.
 * Fails: -ENOMEM or -EMSGSIZE (from the buffer); the buffer then holds a
 * partial document the caller must not send.
 */
#ifndef VG_TWIML_H
#define VG_TWIML_H

#include <stddef.h>

#include "buf.h"

/* How a call reaches us: raw audio (stream) or text (ConversationRelay). */
struct twiml_connect {
	const char *public_url;		/* https://host[/prefix], no trailing '/' needed */
	int relay;			/* 0: <Stream> to /twilio; 1: <ConversationRelay> to /twilio/relay */
	const char *action;		/* <Connect action>: asked what next when it ends; NULL: none */
	/* ConversationRelay only; NULL or "" leaves an attribute out */
	const char *greeting, *language, *tts_provider, *voice, *transcription_provider;
	/* <Parameter name= value=>, n of them (did, caller, then any others) */
	const char *const *names, *const *values;
	size_t n;
};

/* The <Response> document into b (appended). 0 or -errno. */
int twiml_connect(struct buf *b, const struct twiml_connect *t);

/* <Response><Say>text</Say><Hangup/></Response>. 0 or -errno. */
int twiml_say_hangup(struct buf *b, const char *text);

/* <Response>[<Say>say</Say>]<Dial>number</Dial></Response>. 0 or -errno. */
int twiml_dial(struct buf *b, const char *say, const char *number);

/* <Response><Hangup/></Response>. 0 or -errno. */
int twiml_hangup(struct buf *b);

/* <Response><Play>url</Play></Response>. 0 or -errno. */
int twiml_play(struct buf *b, const char *url);

/* s with & < > " ' escaped, appended to b. 0 or -errno. */
int twiml_escape(struct buf *b, const char *s);

/*
 * The websocket base of public_url: "https://h/p" -> "wss://h/p" (no
 * trailing '/'), into out. 0, or -EINVAL when it is not an https URL.
 */
int twiml_wss_base(const char *public_url, char *out, size_t len);

#endif
