/*
 * emu_util.c - small helpers of vagent-emu (a provider TEST DOUBLE):
 * clock, ids, base64, G.711, the record of received requests.
 *
 * Owns: nothing global; every helper works on caller-owned state.
 * Never: blocks, or keeps state between calls outside its arguments.
 * Fails: allocation failures return NULL; nothing else can fail.
 */
#include "emu.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t emu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void emu_rng_seed(struct emu_rng *r, uint64_t salt)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	r->s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
	       ((uint64_t)getpid() << 40) ^ (salt * 0x9e3779b97f4a7c15ULL);
	if (!r->s)
		r->s = 0x2545f4914f6cdd1dULL;
}

/* xorshift64* */
uint64_t emu_rng_next(struct emu_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

void emu_uuid(struct emu_rng *r, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];

	for (int i = 0; i < 16; i += 8) {
		uint64_t v = emu_rng_next(r);
		memcpy(b + i, &v, 8);
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	for (int i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[36] = '\0';
}

void emu_rand_id(struct emu_rng *r, const char *prefix, size_t n, char *out, size_t outlen)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t p = strlen(prefix);

	if (!outlen)
		return;
	if (p >= outlen)
		p = outlen - 1;
	memcpy(out, prefix, p);
	for (size_t i = 0; i < n && p + 1 < outlen; i++)
		out[p++] = al[emu_rng_next(r) % (sizeof(al) - 1)];
	out[p] = '\0';
}

size_t emu_base64_into(const uint8_t *p, size_t n, char *out)
{
	static const char tb[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = out;
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tb[v >> 18];
		*o++ = tb[(v >> 12) & 63];
		*o++ = tb[(v >> 6) & 63];
		*o++ = tb[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = tb[v >> 18];
		*o++ = tb[(v >> 12) & 63];
		*o++ = i + 1 < n ? tb[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	return (size_t)(o - out);
}

char *emu_base64(const uint8_t *p, size_t n)
{
	char *out = malloc(EMU_BASE64_LEN(n) + 1);

	if (!out)
		return NULL;
	out[emu_base64_into(p, n, out)] = '\0';
	return out;
}

/* G.711 as in ITU-T G.711 / the Sun reference implementation. */
int16_t emu_ulaw_decode(uint8_t u)
{
	int t;

	u = (uint8_t)~u;
	t = ((u & 0x0f) << 3) + 0x84;
	t <<= (u & 0x70) >> 4;
	return (int16_t)((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

uint8_t emu_ulaw_encode(int16_t s)
{
	int v = s, mask, seg = 0;

	if (v < 0) {
		v = 0x84 - v;
		mask = 0x7f;
	} else {
		v += 0x84;
		mask = 0xff;
	}
	if (v > 0x7fff)
		v = 0x7fff;
	for (int x = v >> 8; x; x >>= 1)
		seg++;
	if (seg > 7)
		seg = 7;
	return (uint8_t)(((seg << 4) | ((v >> (seg + 3)) & 0x0f)) ^ mask);
}

int16_t emu_alaw_decode(uint8_t a)
{
	int t, seg;

	a ^= 0x55;
	t = (a & 0x0f) << 4;
	seg = (a & 0x70) >> 4;
	if (seg == 0)
		t += 8;
	else if (seg == 1)
		t += 0x108;
	else
		t = (t + 0x108) << (seg - 1);
	return (int16_t)((a & 0x80) ? t : -t);
}

uint8_t emu_alaw_encode(int16_t s)
{
	int v = s >> 3, mask, seg = 0;
	uint8_t aval;

	if (v >= 0) {
		mask = 0xd5;
	} else {
		mask = 0x55;
		v = -v - 1;
	}
	for (int x = v >> 5; x; x >>= 1)
		seg++;
	if (seg > 7)
		return (uint8_t)(0x7f ^ mask);
	aval = (uint8_t)(seg << 4);
	aval |= (uint8_t)(seg < 2 ? ((v >> 1) & 0x0f) : ((v >> seg) & 0x0f));
	return (uint8_t)(aval ^ mask);
}

void emu_rec_add(struct emu_rec *r, json_t *item)
{
	size_t slot;

	if (!item)
		return;
	if (r->count == EMU_REC_MAX) {
		json_decref(r->items[r->head]);
		r->items[r->head] = item;
		r->head = (r->head + 1) % EMU_REC_MAX;
		return;
	}
	slot = (r->head + r->count) % EMU_REC_MAX;
	r->items[slot] = item;
	r->count++;
}

char *emu_rec_dump(const struct emu_rec *r)
{
	json_t *a = json_array();
	char *s;

	if (!a)
		return NULL;
	for (size_t i = 0; i < r->count; i++)
		json_array_append(a, r->items[(r->head + i) % EMU_REC_MAX]);
	s = json_dumps(a, EMU_JSON_FLAGS);
	json_decref(a);
	return s;
}

void emu_rec_clear(struct emu_rec *r)
{
	for (size_t i = 0; i < r->count; i++)
		json_decref(r->items[(r->head + i) % EMU_REC_MAX]);
	r->head = r->count = 0;
}

json_t *emu_json_secs(double s)
{
	return json_real((double)(int64_t)(s * 1000.0 + 0.5) / 1000.0);
}
