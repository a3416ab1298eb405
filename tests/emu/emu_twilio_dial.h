/*
 * emu_twilio_dial.h - the TEST DOUBLE of Twilio carrying out a call its
 * Calls REST accepted (emu_twilio_rest.c): the callee answers at once and
 * the call's TwiML runs. See emu_twilio_dial.c.
 */
#ifndef VG_EMU_TWILIO_DIAL_H
#define VG_EMU_TWILIO_DIAL_H

#include <jansson.h>

struct emu;
struct event_base;
struct emu_tw_dials;

/* NULL when out of memory. */
struct emu_tw_dials *emu_tw_dials_new(const struct emu *e, struct event_base *base);
/* Stops following the calls (a child still running is left to finish). NULL is fine. */
void emu_tw_dials_free(struct emu_tw_dials *d);

/*
 * Runs call sid's TwiML: a <Connect><Stream> is dialled to --twilio-connect-to
 * by a `vagent-emu twilio` child with the stream's <Parameter>s. Every call
 * becomes one entry of emu_tw_dials_dump, "unsupported" when its TwiML is
 * something else. 0 or -errno.
 */
int emu_tw_dial(struct emu_tw_dials *d, const char *sid, const char *to, const char *twiml);

/* [{"sid","to","state","stream_url","params","exit","report"}...], a new reference. */
json_t *emu_tw_dials_dump(const struct emu_tw_dials *d);

/* Exposed for the unit of parsing it is: <Stream url> and its <Parameter>s of a
 * TwiML document, into *url (malloc'd) and params (name -> value). 0 or -EINVAL. */
int emu_twiml_stream(const char *twiml, char **url, json_t *params);

#endif
