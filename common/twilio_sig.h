/*
 * twilio_sig.h - Twilio's request signature (X-Twilio-Signature).
 *
 * Owns: the signed text and its check, for every request Twilio makes to
 * us: the Media Streams websocket upgrade (the wss URL alone) and HTTP
 * webhooks (the URL, then each POST parameter's name and value, sorted by
 * name). The signature is base64(HMAC-SHA1(auth token, that text)).
 *
 * Never: logs, keeps the token, or compares in time that depends on where
 * the signatures differ. Fails: -ENOMEM, or -EINVAL for a missing token.
 */
#ifndef VG_TWILIO_SIG_H
#define VG_TWILIO_SIG_H

#include <stdbool.h>
#include <stddef.h>

/* base64 of a 20-byte SHA-1 MAC, without its NUL. */
#define TWILIO_SIG_LEN 28

struct twilio_param {
	const char *name, *value;
};

/*
 * The signature Twilio sends for url and params (n of them, any order;
 * NULL when n is 0) into out (TWILIO_SIG_LEN + 1 bytes, NUL-terminated).
 * 0 or -errno.
 */
int twilio_sig_compute(const char *token, const char *url, const struct twilio_param *params,
		       size_t n, char out[TWILIO_SIG_LEN + 1]);

/* Whether header (the X-Twilio-Signature value; NULL: absent) is that signature. */
bool twilio_sig_valid(const char *token, const char *url, const struct twilio_param *params,
		      size_t n, const char *header);

#endif
