/*
 * fuzz_deepgram.c - what the Deepgram client does with a peer's bytes and
 * a config's values: worker/stt_dg_wire.c, the real code.
 *
 * First byte even: the rest is one text message from Deepgram, handed to
 * dg_message; every hook must get a real NUL-terminated string, on_error
 * must never be called, an Error must come with a reason. First byte odd:
 * the rest fills the [stt] strings (URL, model, language, keyterms) as a
 * config could, and the listen URL must hold every non-empty term, each
 * encoded with no byte outside the URL-safe set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/conf.h"
#include "../../worker/stt_dg_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t total;

static void text(const char *t)
{
	if (!t)
		abort();
	total += strlen(t);
}

static void on_started(void *arg) { (void)arg; }
static void on_partial(void *arg, const char *t) { (void)arg; text(t); if (!*t) abort(); }
static void on_final(void *arg, const char *t, bool sf) { (void)arg; (void)sf; text(t); }
static void on_end(void *arg) { (void)arg; }
static void on_error(void *arg, const char *why, bool fatal)
{
	(void)arg; (void)why; (void)fatal;
	abort();
}

static const struct stt_events ev = { on_started, on_partial, on_final, on_end, on_error };

/* Copies up to cap-1 bytes of the input into a config string. */
static void take(char *dst, size_t cap, const uint8_t **p, size_t *n)
{
	size_t k = *n < cap - 1 ? *n : cap - 1;
	if (k && **p < cap - 1 && **p < k)
		k = **p;		/* the first byte may ask for less */
	memcpy(dst, *p, k);
	dst[k] = '\0';
	*p += k;
	*n -= k;
}

static bool url_safe(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-_.~%", c);
}

static void url(const uint8_t *p, size_t n)
{
	static struct conf c;

	memset(&c, 0, sizeof(c));
	take(c.stt_url, sizeof(c.stt_url), &p, &n);
	take(c.stt_model, sizeof(c.stt_model), &p, &n);
	take(c.stt_language, sizeof(c.stt_language), &p, &n);
	take(c.stt_keyterms, sizeof(c.stt_keyterms), &p, &n);
	c.stt_endpointing_ms = -2147483647 - 1;
	c.stt_utterance_end_ms = 2147483647;
	char *u = dg_listen_url(&c, -2147483647 - 1);
	if (!u)
		abort();
	const char *param = strncmp(c.stt_model, "nova-3", 6) ? "&keywords=" : "&keyterm=";
	size_t terms = 0, want = 0;
	const char *q = strstr(u + strlen(c.stt_url), "&utterance_end_ms=2147483647");
	if (!q)
		abort();
	for (q = strstr(q + 1, param); q; q = strstr(q + 1, param))
		terms++;
	/* Non-empty terms once spaces are trimmed. */
	for (const char *t = c.stt_keyterms; *t;) {
		size_t len = strcspn(t, ",");
		bool blank = true;
		for (size_t i = 0; i < len; i++)
			blank &= t[i] == ' ';
		want += !blank;
		t += len + (t[len] == ',');
	}
	if (terms != want)
		abort();
	q = strstr(u + strlen(c.stt_url), "&utterance_end_ms=2147483647");
	for (q += 28; *q; q++)
		if (!url_safe(*q) && *q != '&' && *q != '=')
			abort();
	free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[64];

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		url(data + 1, size - 1);
		return 0;
	}
	why[0] = 'x';
	why[1] = '\0';
	enum dg_kind k = dg_message((const char *)data + 1, size - 1, &ev, NULL, why,
				    data[0] & 2 ? sizeof(why) : 1);
	if (k == DG_ERROR && strlen(why) >= sizeof(why))
		abort();
	return 0;
}
