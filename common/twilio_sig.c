/*
 * twilio_sig.c - X-Twilio-Signature: compute and check. See twilio_sig.h.
 *
 * The signed text is built whole in one allocation and MAC'd in one call;
 * a webhook's parameters are few and short. Parameters are sorted by name
 * (bytewise, as Twilio's own libraries do), then by value for a name
 * given twice, so the caller may pass them in the order they came; a
 * name and value given twice count once (twilio-python's set()).
 */
#include "twilio_sig.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static int by_name(const void *a, const void *b)
{
	const struct twilio_param *x = *(const struct twilio_param *const *)a;
	const struct twilio_param *y = *(const struct twilio_param *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* url, then name and value of each parameter in order: malloc'd, *len set. */
static char *signed_text(const char *url, const struct twilio_param *params, size_t n,
			 size_t *len)
{
	const struct twilio_param **sorted = n ? calloc(n, sizeof(*sorted)) : NULL;
	size_t total = strlen(url), at;
	char *text;

	if (n && !sorted)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		sorted[i] = &params[i];
		total += strlen(params[i].name) + strlen(params[i].value);
	}
	if (n)
		qsort(sorted, n, sizeof(*sorted), by_name);
	if (!(text = malloc(total + 1))) {
		free(sorted);
		return NULL;
	}
	at = strlen(url);
	memcpy(text, url, at);
	for (size_t i = 0; i < n; i++) {
		if (i && !by_name(&sorted[i - 1], &sorted[i]))
			continue;	/* a pair given twice counts once, as Twilio's libraries do */
		size_t nl = strlen(sorted[i]->name), vl = strlen(sorted[i]->value);
		memcpy(text + at, sorted[i]->name, nl);
		memcpy(text + at + nl, sorted[i]->value, vl);
		at += nl + vl;
	}
	text[at] = '\0';
	*len = at;
	free(sorted);
	return text;
}

int twilio_sig_compute(const char *token, const char *url, const struct twilio_param *params,
		       size_t n, char out[TWILIO_SIG_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t len;
	char *text;

	out[0] = '\0';
	if (!token || !*token || !url)
		return -EINVAL;
	if (!(text = signed_text(url, params, n, &len)))
		return -ENOMEM;
	bool ok = HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)text, len,
		       mac, &maclen) != NULL && maclen == 20;
	free(text);
	if (!ok)
		return -ENOMEM;
	base64_encode(mac, maclen, out);
	return 0;
}

bool twilio_sig_valid(const char *token, const char *url, const struct twilio_param *params,
		      size_t n, const char *header)
{
	char want[TWILIO_SIG_LEN + 1];

	if (!header || strlen(header) != TWILIO_SIG_LEN ||
	    twilio_sig_compute(token, url, params, n, want) < 0)
		return false;
	return CRYPTO_memcmp(want, header, TWILIO_SIG_LEN) == 0;
}
