/*
 * fuzz_cartesia.c - what the Cartesia client does with one message from
 * the peer, on the websocket thread and the main loop: worker/
 * tts_cart_wire.c and worker/playout.c, the real code.
 *
 * The first input byte cuts the decoded audio into two pieces (an odd
 * split included); the rest is the message. A chunk's audio is decoded
 * into a struct buf's reserved tail as tts_cartesia.c does, never past
 * CART_AUDIO_CAP, and handed to a playout in two pieces; the samples the
 * pacer reads must equal the bytes whatever the cut. Word timings come in
 * pairs within the bound; an error always has a text; context numbers
 * only from "<tag>-<digits>". A chunk read in place is read as jansson
 * reads it (cart_msg_parse_full): the same kind, context and audio.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../ipc/ring.h"
#include "../../worker/playout.h"
#include "../../worker/tts_cart_wire.h"

#define RING_CAP (1u << 20)	/* samples: more than any message holds */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The pieces through a playout, as the websocket thread hands them over;
 * the samples the pacer reads must be the bytes. */
static void play(const uint8_t *pcm, size_t n, size_t cut)
{
	struct event_base *base = event_base_new();
	struct ring *ring = aligned_alloc(64, ring_bytes(RING_CAP));
	int16_t *out = malloc(n / 2 * sizeof(int16_t) + 1);
	struct playout *p;

	if (!base || !ring || !out)
		abort();
	ring_init(ring, RING_CAP);
	if (playout_new(&p, base, ring) < 0)
		abort();
	uint32_t ctx = playout_begin(p);
	size_t first = cut < n ? cut : n;
	if (playout_audio(p, ctx, pcm, first) || playout_audio(p, ctx, pcm + first, n - first))
		abort();
	if (playout_read(p, out, n / 2) != n / 2 || memcmp(out, pcm, n / 2 * 2))
		abort();
	playout_close(p);
	event_base_free(base);
	free(ring);
	free(out);
}

static void audio(const struct cart_msg *m, size_t cut)
{
	size_t cap = CART_AUDIO_CAP(m->audio_len);
	struct buf dec;
	uint8_t *pcm;

	buf_init(&dec, 0);
	if (buf_reserve(&dec, cap, &pcm) < 0)
		abort();
	long n = cart_audio_decode(m->audio, m->audio_len, pcm, cap);
	if (n > (long)cap)
		abort();
	if (n > 0 && (size_t)n / 2 <= RING_CAP)
		play(pcm, (size_t)n, cut);
	buf_free(&dec);
}

static bool same_str(const char *a, size_t an, const char *b, size_t bn)
{
	return a ? b && an == bn && !memcmp(a, b, an) : !b;
}

/* cart_msg_parse's reading of a message is jansson's. */
static void same_as_full(const char *json, size_t len, const char *tag, int rc,
			 const struct cart_msg *m)
{
	struct cart_msg f;

	if (cart_msg_parse_full(&f, json, len, tag) != rc || f.kind != m->kind ||
	    f.ctx != m->ctx || !same_str(f.audio, f.audio_len, m->audio, m->audio_len) ||
	    !same_str(f.error, f.error ? strlen(f.error) : 0, m->error,
		      m->error ? strlen(m->error) : 0))
		abort();
	cart_msg_clear(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char tag[] = "5e1f0a2b";
	struct cart_msg m;
	const char *w[CART_WORDS_MAX];
	double e[CART_WORDS_MAX];

	if (size < 1)
		return 0;
	int rc = cart_msg_parse(&m, (const char *)data + 1, size - 1, tag);
	same_as_full((const char *)data + 1, size - 1, tag, rc, &m);
	if (rc < 0) {
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
