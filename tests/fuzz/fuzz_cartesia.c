/*
 * fuzz_cartesia.c - what the Cartesia client does with one message from
 * the peer, on the websocket thread and the main loop: worker/
 * tts_cart_wire.c and worker/tts_pcm.c, the real code.
 *
 * The first input byte cuts the decoded audio into two pieces (an odd
 * split included); the rest is the message. A chunk's audio goes into a
 * reply buffer as tts_cartesia.c does; the samples must equal the bytes
 * whatever the cut. Word timings come in pairs within the bound; an error
 * always has a text; context numbers only from "<tag>-<digits>".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/tts_cart_wire.h"
#include "../../worker/tts_pcm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void audio(const struct cart_msg *m, size_t cut)
{
	size_t cap = CART_AUDIO_CAP(m->audio_len);
	uint8_t *pcm = malloc(cap);
	struct tts_pcm b = { 0 };

	if (!pcm)
		abort();
	long n = cart_audio_decode(m->audio, m->audio_len, pcm, cap);
	if (n > (long)cap)
		abort();
	if (n > 0) {
		size_t first = cut < (size_t)n ? cut : (size_t)n;
		if (tts_pcm_add(&b, pcm, first) || tts_pcm_add(&b, pcm + first, (size_t)n - first))
			abort();
		if (b.len != (size_t)n / 2 || b.has_odd != (n & 1) ||
		    (b.len && memcmp(b.s, pcm, b.len * 2)))
			abort();
		tts_pcm_consume(&b, cut);
	}
	tts_pcm_free(&b);
	free(pcm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char tag[] = "5e1f0a2b";
	struct cart_msg m;
	const char *w[CART_WORDS_MAX];
	double e[CART_WORDS_MAX];

	if (size < 1)
		return 0;
	if (cart_msg_parse(&m, (const char *)data + 1, size - 1, tag) < 0) {
		if (m.root || m.kind != CART_IGNORED)
			abort();
		return 0;
	}
	if (m.kind == CART_ERROR && !m.error)
		abort();
	if (m.kind == CART_CHUNK)
		audio(&m, data[0]);
	size_t n = cart_msg_words(&m, w, e, CART_WORDS_MAX);
	if (n > CART_WORDS_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!w[i])
			abort();
	cart_msg_clear(&m);
	return 0;
}
