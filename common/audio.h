/*
 * audio.h - sample-level helpers: resampling and energy.
 *
 * Owns: conversions between the rates AudioSocket declares and the rates
 * our sources have. Pure functions over caller-owned buffers.
 */
#ifndef VG_AUDIO_H
#define VG_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/*
 * Linear-interpolation resampler for a whole buffer. Returns the number of
 * samples the output holds (n * out_rate / in_rate, rounded down) and writes
 * at most out_cap of them. Adequate for prompts and diagnostics; not a
 * band-limited converter.
 */
size_t audio_resample(const int16_t *in, size_t n, int in_rate,
		      int16_t *out, size_t out_cap, int out_rate);

/*
 * Mean square of n little-endian samples at any alignment (a frame straight
 * off the wire): compare it with a level squared, no sqrt needed.
 */
double audio_mean_square_le(const uint8_t *pcm, size_t n);

/* Root-mean-square level of n samples (0 for n == 0). */
double audio_rms(const int16_t *s, size_t n);

#endif
