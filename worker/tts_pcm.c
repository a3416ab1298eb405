/*
 * tts_pcm.c - a reply's waiting audio. See tts_pcm.h.
 *
 * Why a zero-length append returns before touching the buffer: an empty
 * buffer's pointer is NULL, and NULL + 0 or memcpy from/to NULL is
 * undefined (UBSan caught it on a 1-byte Cartesia chunk).
 */
#include "tts_pcm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int reserve(struct tts_pcm *b, size_t more)
{
	if (more > TTS_PCM_MAX - b->len)
		return -EMSGSIZE;
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more)
		cap *= 2;
	int16_t *p = realloc(b->s, cap * sizeof(int16_t));
	if (!p)
		return -ENOMEM;
	b->s = p;
	b->cap = cap;
	return 0;
}

int tts_pcm_add(struct tts_pcm *b, const uint8_t *bytes, size_t n)
{
	size_t total = n + b->has_odd, samples = total / 2;
	int rc;

	if (!samples) {		/* 0 or 1 byte in all: nothing to copy yet */
		if (n) {
			b->odd = bytes[0];
			b->has_odd = true;
		}
		return 0;
	}
	if ((rc = reserve(b, samples)))
		return rc;
	uint8_t *out = (uint8_t *)(b->s + b->len);	/* samples are little-endian */
	if (b->has_odd) {
		out[0] = b->odd;
		memcpy(out + 1, bytes, samples * 2 - 1);
	} else {
		memcpy(out, bytes, samples * 2);
	}
	b->len += samples;
	b->has_odd = total & 1;
	if (b->has_odd)
		b->odd = bytes[n - 1];
	return 0;
}

void tts_pcm_consume(struct tts_pcm *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	if (n) {
		memmove(b->s, b->s + n, (b->len - n) * sizeof(int16_t));
		b->len -= n;
	}
}

void tts_pcm_reset(struct tts_pcm *b)
{
	b->len = 0;
	b->has_odd = false;
}

void tts_pcm_free(struct tts_pcm *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}
