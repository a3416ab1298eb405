/*
 * resample.h - band-limited sample-rate conversion of a whole buffer.
 *
 * Owns: turning the local voice's 22050 Hz into the call's rate without
 * aliasing: a windowed-sinc low-pass below the lower Nyquist frequency,
 * evaluated at each output instant (common/audio.h's linear interpolator
 * folds everything above 4 kHz back into an 8 kHz call). Whole buffers
 * only: the local voice synthesises a sentence at a time, which begins
 * and ends in silence, so no state carries across calls.
 */
#ifndef VG_RESAMPLE_H
#define VG_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* Samples resample() writes for n in at in_rate: n * out_rate / in_rate. */
size_t resample_len(size_t n, int in_rate, int out_rate);

/* n samples at in_rate into out (resample_len() of them); returns that count. */
size_t resample(const int16_t *in, size_t n, int in_rate, int16_t *out, int out_rate);

#endif
