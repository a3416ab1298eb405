/*
 * twilio_sig.c - Twilio's request signature (see twilio_sig.h).
 *
 * The signed text is built in one growable buffer and handed to OpenSSL's
 * one-shot HMAC; the pairs are sorted through an index array so the
 * caller's arrays stay as they were. Sorting is by bytes (strcmp), as
 * Twilio sorts: "To" before "caller", "From" before "To".
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
#include "buf.h"

#define SIGNED_MAX (1u << 20)	/* a webhook's URL and form, with room to spare */

struct pair {
	const char *name, *value;
};

static int cmp_pair(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->value, b->value);
}

/* url + sorted name/value pairs into b. 0 or -ENOMEM / -EMSGSIZE. */
static int signed_text(struct buf *b, const char *url, const char *const *names,
		       const char *const *values, size_t n)
{
	struct pair *p = n ? calloc(n, sizeof(*p)) : NULL;
	int rc;

	if (n && !p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p[i].name = names[i] ? names[i] : "";
		p[i].value = values[i] ? values[i] : "";
	}
	if (n > 1)
		qsort(p, n, sizeof(*p), cmp_pair);
	rc = buf_append(b, url, strlen(url));
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = buf_append(b, p[i].name, strlen(p[i].name))) == 0)
			rc = buf_append(b, p[i].value, strlen(p[i].value));
	free(p);
	return rc;
}

int twilio_sig_compute(const char *token, const char *url, const char *const *names,
		       const char *const *values, size_t n, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct buf b;
	int rc;

	if (!token || !*token || !url || !*url || (n && (!names || !values)))
		return -EINVAL;
	if (outlen < TWILIO_SIG_LEN)
		return -ENOSPC;
	buf_init(&b, SIGNED_MAX);
	rc = signed_text(&b, url, names, values, n);
	if (rc == 0 && !HMAC(EVP_sha1(), token, (int)strlen(token), b.data, b.len, md, &mdlen))
		rc = -ENOMEM;
	buf_free(&b);
	if (rc < 0)
		return rc;
	base64_encode(md, mdlen, out);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

bool twilio_sig_valid(const char *token, const char *url, const char *const *names,
		      const char *const *values, size_t n, const char *header)
{
	char want[TWILIO_SIG_LEN];

	if (!header || strlen(header) != TWILIO_SIG_LEN - 1 ||
	    twilio_sig_compute(token, url, names, values, n, want, sizeof(want)) < 0)
		return false;
	return CRYPTO_memcmp(want, header, TWILIO_SIG_LEN - 1) == 0;
}
