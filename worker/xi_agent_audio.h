/*
 * xi_agent_audio.h - the bridge's audio conversions: the call's 16-bit
 * PCM to and from an ElevenLabs agent's format (pcm_<rate> or ulaw_8000).
 *
 * Owns: one direction's converter: G.711 u-law by table, the rate by
 * speexdsp's resampler (band-limited, its filter state kept between
 * chunks so the joins are clean). A converter is used by one thread.
 */
#ifndef VG_XI_AGENT_AUDIO_H
#define VG_XI_AGENT_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xi_agent_wire.h"

struct buf;
struct xi_conv;

/* from -> to; 0 or -ENOMEM / -EINVAL. */
int xi_conv_new(struct xi_conv **out, struct xi_fmt from, struct xi_fmt to);
void xi_conv_free(struct xi_conv *c);		/* NULL is fine */

/* Appends n bytes of `from` audio, converted, to out. 0 or -errno. */
int xi_conv_run(struct xi_conv *c, const uint8_t *in, size_t n, struct buf *out);

uint8_t xi_ulaw_encode(int16_t s);
int16_t xi_ulaw_decode(uint8_t u);

#endif
