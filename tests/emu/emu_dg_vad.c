/*
 * emu_dg_vad.c - the "ears" of vagent-emu's Deepgram TEST DOUBLE: audio
 * bytes in, one verdict (voiced or not) per 20 ms window out.
 *
 * A window is voiced when its RMS (all samples, mixed to mono) reaches
 * --vad-rms, compared as a sum of squares against vad_rms^2 * samples,
 * so no division or square root. The work is one tight loop per message
 * over the samples it carries (mono linear16 and G.711, what vagent
 * sends); only a sample frame split across messages, or multi-channel
 * audio, goes frame by frame through a small carry buffer.
 *
 * Owns: struct dg_vad (the window being filled, the carried bytes).
 * Never: allocates, or looks at anything but the bytes it is fed.
 * Fails: cannot fail.
 */
#include "emu_dg.h"
#include "emu.h"

#include <string.h>

void dg_vad_init(struct dg_vad *v, enum dg_enc enc, int channels, int rate, int vad_rms)
{
	memset(v, 0, sizeof(*v));
	v->enc = enc;
	v->channels = channels < 1 ? 1 : channels;
	v->frame_bytes = (size_t)v->channels * (enc == DG_ENC_MULAW || enc == DG_ENC_ALAW ? 1 : 2);
	v->win_len = (size_t)rate * DG_WIN_MS / 1000;
	if (!v->win_len)
		v->win_len = 1;
	v->thresh_sq = (uint64_t)vad_rms * (uint64_t)vad_rms;
}

static int32_t sample_at(enum dg_enc enc, const uint8_t *p, int ch)
{
	switch (enc) {
	case DG_ENC_MULAW:
		return emu_ulaw_decode(p[ch]);
	case DG_ENC_ALAW:
		return emu_alaw_decode(p[ch]);
	default:
		return (int16_t)(p[2 * ch] | (p[2 * ch + 1] << 8));
	}
}

/* One sample frame (all channels), mixed to mono as the real one hears it. */
static int64_t frame_square(const struct dg_vad *v, const uint8_t *p)
{
	int32_t acc = 0, s;

	for (int ch = 0; ch < v->channels; ch++)
		acc += sample_at(v->enc, p, ch);
	s = acc / v->channels;
	return (int64_t)s * s;
}

/* Sum of squares of n mono frames at p. */
static uint64_t block_squares(enum dg_enc enc, const uint8_t *p, size_t n)
{
	uint64_t sum = 0;

	if (enc == DG_ENC_LINEAR16) {
		for (size_t i = 0; i < n; i++) {
			int32_t s = (int16_t)(p[2 * i] | (p[2 * i + 1] << 8));

			sum += (uint64_t)((int64_t)s * s);
		}
		return sum;
	}
	for (size_t i = 0; i < n; i++) {
		int32_t s = enc == DG_ENC_MULAW ? emu_ulaw_decode(p[i]) : emu_alaw_decode(p[i]);

		sum += (uint64_t)((int64_t)s * s);
	}
	return sum;
}

/* Adds n frames' energy; each full window goes to window(). */
static void add(struct dg_vad *v, uint64_t squares, size_t n,
		void (*window)(void *arg, size_t frames, bool voiced), void *arg)
{
	v->energy += squares;
	v->win_n += n;
	if (v->win_n == v->win_len) {
		bool voiced = v->energy >= v->thresh_sq * v->win_len;

		v->energy = 0;
		v->win_n = 0;
		window(arg, v->win_len, voiced);
	}
}

void dg_vad_feed(struct dg_vad *v, const uint8_t *p, size_t len,
		 void (*window)(void *arg, size_t frames, bool voiced), void *arg)
{
	size_t fb = v->frame_bytes;

	while (len) {
		if (v->ncarry || v->channels > 1 || len < fb) {	/* frame by frame */
			size_t take = fb - v->ncarry < len ? fb - v->ncarry : len;

			memcpy(v->carry + v->ncarry, p, take);
			v->ncarry += take;
			p += take;
			len -= take;
			if (v->ncarry == fb) {
				v->ncarry = 0;
				add(v, (uint64_t)frame_square(v, v->carry), 1, window, arg);
			}
			continue;
		}
		size_t n = len / fb, room = v->win_len - v->win_n;

		if (n > room)
			n = room;
		add(v, block_squares(v->enc, p, n), n, window, arg);
		p += n * fb;
		len -= n * fb;
	}
}
