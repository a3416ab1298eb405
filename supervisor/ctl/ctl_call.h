/*
 * ctl_call.h - vagentctl's outbound calls.
 *
 *   call NUMBER --did DID [--var k=v]... [--via twilio|elevenlabs]
 *       Twilio: POST Calls.json with TwiML that connects the answered call
 *       back to this vagentd ([twilio] public_url: <Connect><Stream>, or
 *       <ConversationRelay> with mode = relay) with <Parameter>s did,
 *       caller and each variable, and a status callback to /twilio/status.
 *       ElevenLabs: POST /v1/convai/twilio/outbound-call with the agent,
 *       the imported number's id and the variables as dynamic_variables.
 *   announce NUMBER --text TEXT [--did DID]
 *       a one-way message: synthesised to an 8 kHz WAV in [api]
 *       announce_dir under a random name, and a call that <Play>s it from
 *       <public_url>/announce/<name>.wav (ctl_announce.c).
 *
 * Must never: print or log a key or token; call a number that is not
 * written as one.
 * Fails with one line on stderr naming the provider, the HTTP status and
 * the error body's message; exit status 1 (2 for usage).
 */
#ifndef VG_CTL_CALL_H
#define VG_CTL_CALL_H

#include <stddef.h>

struct conf;

/* argv holds the words after "call" / "announce". Returns the exit status. */
int ctl_call(const struct conf *c, int argc, char **argv);
int ctl_announce(const struct conf *c, int argc, char **argv);

/* ctl_call.c, for ctl_announce.c */

/* "+44 20 3996-2952" -> "+442039962952"; -1 when it is not a phone number. */
int ctl_e164(const char *in, char *out, size_t len);

/* [twilio] public_url without its trailing '/', into out; returns out. */
const char *ctl_public_base(const struct conf *c, char *out, size_t len);

/*
 * Places a call through Twilio's REST API answering with twiml. Prints the
 * call's SID and status. 0, or -1 (reported).
 */
int ctl_twilio_call(const struct conf *c, const char *to, const char *from, const char *twiml);

#endif
