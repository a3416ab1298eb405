/*
 * tts_pcm.h - a reply's audio waiting to enter the agent ring: 16-bit
 * samples from a provider's bytes, as they come.
 *
 * Owns: one growable sample buffer. Whole samples only: a provider's chunk
 * of odd size leaves a byte here until the next chunk, so the rest of the
 * reply is never shifted by a byte (loud noise). Pure: no I/O, no locks;
 * one thread at a time (the websocket thread in tts_cartesia.c).
 */
#ifndef VG_TTS_PCM_H
#define VG_TTS_PCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTS_PCM_MAX (8u << 20)	/* samples: minutes of audio, far past any reply */

struct tts_pcm {
	int16_t *s;		/* NULL until the first sample */
	size_t len, cap;	/* samples */
	bool has_odd;		/* a sample's first byte, its second to come */
	uint8_t odd;
};

/*
 * Appends n little-endian bytes (any alignment, any n, 0 too). 0, or
 * -ENOMEM / -EMSGSIZE (over TTS_PCM_MAX) with the buffer unchanged.
 */
int tts_pcm_add(struct tts_pcm *b, const uint8_t *bytes, size_t n);

/* Drops the first n samples (n <= len), e.g. those the ring took. */
void tts_pcm_consume(struct tts_pcm *b, size_t n);

/* Empties it (a new reply), keeping the memory. */
void tts_pcm_reset(struct tts_pcm *b);

void tts_pcm_free(struct tts_pcm *b);	/* zeroed is fine */

#endif
