/*
 * ulaw.h - G.711 mu-law, the telephone network's 8-bit sample encoding
 * (Twilio Media Streams, ElevenLabs' ulaw_8000).
 *
 * Owns: the one mu-law table of the tree. Pure functions; cannot fail.
 */
#ifndef VG_ULAW_H
#define VG_ULAW_H

#include <stddef.h>
#include <stdint.h>

int16_t ulaw_decode(uint8_t u);
uint8_t ulaw_encode(int16_t s);

/* n bytes to n samples, and back. */
void ulaw_to_pcm(const uint8_t *u, size_t n, int16_t *out);
void pcm_to_ulaw(const int16_t *s, size_t n, uint8_t *out);

#endif
