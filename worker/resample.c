/*
 * resample.c - windowed-sinc resampling (resample.h).
 *
 * Each output sample is the input around its instant weighted by a sinc
 * low-pass at 95% of the lower Nyquist frequency, Blackman-windowed over
 * eight zero crossings a side. The weights are divided by their sum, so
 * the gain at DC is exactly one, at the buffer's edges too. The kernel is
 * tabulated once per buffer (TABLE_STEPS points per input sample, linear
 * between them): a sentence is tens of thousands of samples times ~50
 * taps, too many to take a sine for each.
 */
#include "resample.h"

#include <math.h>
#include <stdlib.h>

#define ZERO_CROSSINGS 8
#define TABLE_STEPS 256

size_t resample_len(size_t n, int in_rate, int out_rate)
{
	return (size_t)((uint64_t)n * (uint64_t)out_rate / (uint64_t)in_rate);
}

static double kernel(double x, double fc, double half)
{
	double w = 0.42 + 0.5 * cos(M_PI * x / half) + 0.08 * cos(2 * M_PI * x / half);
	double arg = 2 * fc * x;

	return w * (fabs(arg) < 1e-9 ? 1.0 : sin(M_PI * arg) / (M_PI * arg));
}

size_t resample(const int16_t *in, size_t n, int in_rate, int16_t *out, int out_rate)
{
	size_t m = resample_len(n, in_rate, out_rate);
	double ratio = (double)out_rate / in_rate;
	double fc = 0.5 * 0.95 * (ratio < 1 ? ratio : 1);	/* cycles per input sample */
	double half = ZERO_CROSSINGS / (2 * fc);		/* input samples a side */
	size_t nt = (size_t)(half * TABLE_STEPS) + 2;
	double *tab = malloc(nt * sizeof(*tab));

	if (!tab)
		return 0;
	for (size_t j = 0; j < nt; j++)
		tab[j] = (double)j / TABLE_STEPS < half ? kernel((double)j / TABLE_STEPS, fc, half) : 0;

	for (size_t i = 0; i < m; i++) {
		double t = (double)i * in_rate / out_rate, acc = 0, wsum = 0;
		long lo = (long)ceil(t - half), hi = (long)floor(t + half);

		if (lo < 0)
			lo = 0;
		if (hi > (long)n - 1)
			hi = (long)n - 1;
		for (long k = lo; k <= hi; k++) {
			double x = fabs((double)k - t) * TABLE_STEPS;
			size_t j = (size_t)x;
			double w = j + 1 < nt ? tab[j] + (tab[j + 1] - tab[j]) * (x - (double)j) : 0;
			acc += w * in[k];
			wsum += w;
		}
		double v = wsum > 1e-9 ? acc / wsum : 0;
		out[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));
	}
	free(tab);
	return m;
}
