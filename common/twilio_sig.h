/*
 * twilio_sig.h - Twilio's request signature (X-Twilio-Signature).
 *
 * Owns: computing and checking the signature Twilio puts on every request
 * it makes to us (webhooks, the websocket upgrade of a stream): base64 of
 * HMAC-SHA1, keyed with the account's auth token, over the full URL Twilio
 * requested followed by each POST parameter's name and value, sorted by
 * name (then value), with nothing between them.
 *
 * Why the URL is given, not taken from the request: behind a TLS proxy the
 * request we see says http://127.0.0.1:8089; Twilio signed the public
 * https URL it was configured with, so the caller builds that from
 * configuration ([twilio] public_url + path + query).
 *
 * Never: log or return the token; compare in variable time; say why a
 * signature failed (a forger learns nothing from the answer).
 * Fails: compute returns 0, -EINVAL (no token or URL), -ENOSPC (out too
 * small: it needs TWILIO_SIG_LEN bytes) or -ENOMEM; valid is false for
 * anything but an exact match (an empty token never matches).
 */
#ifndef VG_TWILIO_SIG_H
#define VG_TWILIO_SIG_H

#include <stdbool.h>
#include <stddef.h>

/* base64 of a 20-byte SHA-1 HMAC, with its NUL */
#define TWILIO_SIG_LEN 29

/* names[i] = values[i], n pairs in any order (a sorted copy is signed). */
int twilio_sig_compute(const char *token, const char *url, const char *const *names,
		       const char *const *values, size_t n, char *out, size_t outlen);

/* The header (NULL: missing) is the signature of this request. */
bool twilio_sig_valid(const char *token, const char *url, const char *const *names,
		      const char *const *values, size_t n, const char *header);

#endif
