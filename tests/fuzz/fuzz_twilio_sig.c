/*
 * fuzz_twilio_sig.c - what the Twilio webhook does with a request's form
 * body and X-Twilio-Signature: the form parsed as api_twilio.c parses it
 * (no NUL, libevent's query parser, at most 128 pairs) and checked by
 * common/twilio_sig.c, the real code.
 *
 * Input: a length byte and that many bytes of auth token, then the URL
 * up to a newline, the form body up to the next, and the header. The
 * signature computed is 28 base64 characters; the header is valid
 * exactly when it is that signature (a byte changed never is); the
 * pairs' order does not matter; with one pair or none it is the HMAC-SHA1
 * of url + name + value, computed here by OpenSSL directly.
 */
#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "../../common/base64.h"
#include "../../common/twilio_sig.h"

#define FORM_PAIRS_MAX 128	/* api_twilio.c's */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next field: up to a newline (or the end), NUL-terminated copy. */
static char *field(const uint8_t **p, size_t *n, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	memcpy(s, *p, len);
	s[len] = '\0';
	len += len < *n;	/* the newline */
	*p += len;
	*n -= len;
	return s;
}

static size_t line(const uint8_t *p, size_t n)
{
	const uint8_t *nl = memchr(p, '\n', n);

	return nl ? (size_t)(nl - p) : n;
}

/* With at most one pair: the signature as Twilio documents it. */
static void direct(const char *token, const char *url, const char *const *names,
		   const char *const *values, size_t n, const char *sig)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t ul = strlen(url), nl = n ? strlen(names[0]) : 0, vl = n ? strlen(values[0]) : 0;
	char *text = malloc(ul + nl + vl + 1), b64[TWILIO_SIG_LEN];

	if (!text)
		abort();
	memcpy(text, url, ul);
	memcpy(text + ul, n ? names[0] : "", nl);
	memcpy(text + ul + nl, n ? values[0] : "", vl);
	if (!HMAC(EVP_sha1(), token, (int)strlen(token), (unsigned char *)text, ul + nl + vl, md,
		  &mdlen))
		abort();
	base64_encode(md, mdlen, b64);
	if (strcmp(b64, sig))
		abort();
	free(text);
}

static void check(const char *token, const char *url, const char **names,
		  const char **values, size_t n, const char *header)
{
	char sig[TWILIO_SIG_LEN], again[TWILIO_SIG_LEN];
	int rc = twilio_sig_compute(token, url, names, values, n, sig, sizeof(sig));

	if (!*token || !*url) {
		if (rc != -EINVAL && rc != 0)
			abort();
		if (rc == 0 || twilio_sig_valid(token, url, names, values, n, header))
			abort();
		return;
	}
	if (rc != 0 || strlen(sig) != TWILIO_SIG_LEN - 1 || sig[TWILIO_SIG_LEN - 2] != '=')
		abort();
	if (twilio_sig_valid(token, url, names, values, n, header) != !strcmp(header, sig) ||
	    !twilio_sig_valid(token, url, names, values, n, sig))
		abort();
	again[0] = sig[0] == 'A' ? 'B' : 'A';
	memcpy(again + 1, sig + 1, TWILIO_SIG_LEN - 1);
	if (twilio_sig_valid(token, url, names, values, n, again))
		abort();
	/* The same pairs the other way round. */
	for (size_t i = 0; i < n / 2; i++) {
		const char *k = names[i], *v = values[i];
		names[i] = names[n - 1 - i];
		values[i] = values[n - 1 - i];
		names[n - 1 - i] = k;
		values[n - 1 - i] = v;
	}
	if (twilio_sig_compute(token, url, names, values, n, again, sizeof(again)) ||
	    strcmp(again, sig))
		abort();
	if (n <= 1)
		direct(token, url, names, values, n, sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *names[FORM_PAIRS_MAX], *values[FORM_PAIRS_MAX];
	struct evkeyvalq q;
	struct evkeyval *kv;
	size_t n = 0;

	if (size < 1)
		return 0;
	size_t tl = data[0] % 48 < size - 1 ? data[0] % 48 : size - 1;
	const uint8_t *p = data + 1;
	size = size - 1;
	char *token = malloc(tl + 1);
	if (!token)
		abort();
	memcpy(token, p, tl);
	token[tl] = '\0';
	p += tl;
	size -= tl;
	char *url = field(&p, &size, line(p, size));
	size_t bl = line(p, size);
	int bad = memchr(p, '\0', bl) != NULL;
	char *body = field(&p, &size, bl);
	char *header = field(&p, &size, size);

	TAILQ_INIT(&q);
	bad = bad || evhttp_parse_query_str(body, &q) < 0;
	TAILQ_FOREACH(kv, &q, next) {
		if (n == FORM_PAIRS_MAX) {
			bad = 1;
			break;
		}
		names[n] = kv->key;
		values[n++] = kv->value;
	}
	if (!bad)
		check(token, url, names, values, n, header);
	evhttp_clear_headers(&q);
	free(token);
	free(url);
	free(body);
	free(header);
	return 0;
}
