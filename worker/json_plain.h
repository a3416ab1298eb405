/*
 * json_plain.h - a provider's JSON read in place, when it is plain.
 *
 * Owns: a scanner over one message's bytes, for the messages that come
 * many times a second (a Twilio media message, a Cartesia chunk), where
 * jansson's tree (an allocation per member) was a tenth of a call's CPU.
 * It reads only the plain form: strings of printable ASCII without an
 * escape, numbers in a short plain form, true, false and null. Anything
 * else makes a function return false ("not plain"), and the caller then
 * parses the message with jansson, which decides. So nothing here need be
 * as complete as jansson; it must only never read a message otherwise.
 * Each user's fuzz target compares the two on every input.
 * Never: allocates; a string found points into the caller's bytes.
 */
#ifndef VG_JSON_PLAIN_H
#define VG_JSON_PLAIN_H

#include <stdbool.h>
#include <stddef.h>

struct jp {
	const char *p, *end;
};

struct jp_str {
	const char *p;		/* into the message; NULL: not found */
	size_t n;
};

void jp_init(struct jp *s, const char *data, size_t len);
/* Whitespace, then c, which is taken. */
bool jp_eat(struct jp *s, char c);
/* A plain string, into out; false leaves s where it was. */
bool jp_string(struct jp *s, struct jp_str *out);
/* A plain number (no exponent, 15 digits at most each side), true, false or null. */
bool jp_scalar(struct jp *s);
/* Only whitespace is left. */
bool jp_done(struct jp *s);
/* v was found and is lit. */
bool jp_is(struct jp_str v, const char *lit);

#endif
