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
struct xa_conv;

/* from -> to; 0 or -ENOMEM / -EINVAL. */
int xa_conv_new(struct xa_conv **out, struct xa_fmt from, struct xa_fmt to);
void xa_conv_free(struct xa_conv *c);		/* NULL is fine */

/* Appends n bytes of `from` audio, converted, to out. 0 or -errno. */
int xa_conv_run(struct xa_conv *c, const uint8_t *in, size_t n, struct buf *out);

uint8_t xa_ulaw_encode(int16_t s);
int16_t xa_ulaw_decode(uint8_t u);

#endif
