/*
 * audio.c - sample-level helpers.
 */
#include "audio.h"

#include <math.h>

size_t audio_resample(const int16_t *in, size_t n, int in_rate,
		      int16_t *out, size_t out_cap, int out_rate)
{
	size_t m = (size_t)((uint64_t)n * (uint64_t)out_rate / (uint64_t)in_rate);

	if (m > out_cap)
		m = out_cap;
	for (size_t i = 0; i < m; i++) {
		/* Position in the input, in 1/65536 sample steps. */
		uint64_t pos = ((uint64_t)i * (uint64_t)in_rate << 16) / (uint64_t)out_rate;
		size_t k = (size_t)(pos >> 16);
		int64_t frac = (int64_t)(pos & 0xffff);
		int64_t a = in[k];
		int64_t b = k + 1 < n ? in[k + 1] : a;
		/* 64-bit: a full-scale step times frac overflows 32 bits. */
		out[i] = (int16_t)(a + (((b - a) * frac) >> 16));
	}
	return m;
}

double audio_rms(const int16_t *s, size_t n)
{
	double acc = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		acc += (double)s[i] * s[i];
	return sqrt(acc / (double)n);
}

double audio_mean_square_le(const uint8_t *pcm, size_t n)
{
	double acc = 0;

	for (size_t i = 0; i < n; i++) {
		int16_t v = (int16_t)(pcm[2 * i] | pcm[2 * i + 1] << 8);
		acc += (double)v * v;
	}
	return n ? acc / (double)n : 0;
}
