/*
 * audiosocket.c - Asterisk AudioSocket framing.
 *
 * Checks every header before its payload is awaited; a frame is either
 * fully valid or refused with a reason the call log can name.
 */
#include "audiosocket.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const int audio_rates[] = {
	8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000,
};

int as_kind_rate(uint8_t kind)
{
	if (kind < AS_AUDIO || kind > AS_AUDIO_192K)
		return 0;
	return audio_rates[kind - AS_AUDIO];
}

int as_rate_kind(int rate)
{
	for (size_t i = 0; i < sizeof(audio_rates) / sizeof(audio_rates[0]); i++)
		if (audio_rates[i] == rate)
			return AS_AUDIO + (int)i;
	return -1;
}

static const char *check_header(uint8_t kind, size_t len, int max_audio_ms)
{
	int rate = as_kind_rate(kind);

	if (rate) {
		size_t max_audio = (size_t)rate * 2 * (size_t)max_audio_ms / 1000;
		if (len == 0)
			return "empty audio frame";
		if (len > max_audio)
			return "audio frame longer than the limit";
		if (len % 2)
			return "audio frame of odd length";
		return NULL;
	}
	switch (kind) {
	case AS_HANGUP:
		return len == 0 ? NULL : "hangup frame with a payload";
	case AS_UUID:
		return len == AS_UUID_LEN ? NULL : "UUID frame not 16 bytes";
	case AS_DTMF:
		return len == 1 ? NULL : "DTMF frame not 1 byte";
	case AS_ERROR:
		return len <= 16 ? NULL : "error frame longer than 16 bytes";
	default:
		return "unknown frame kind";
	}
}

int as_parse(const uint8_t *buf, size_t len, int max_audio_ms,
	     struct as_frame *f, const char **why)
{
	if (len < AS_HDR_LEN)
		return 0;
	uint8_t kind = buf[0];
	size_t plen = (size_t)buf[1] << 8 | buf[2];
	const char *bad = check_header(kind, plen, max_audio_ms);
	if (bad) {
		*why = bad;
		return -EPROTO;
	}
	if (len < AS_HDR_LEN + plen)
		return 0;
	/* strchr() would match the terminator: a NUL digit is refused explicitly. */
	if (kind == AS_DTMF && (!buf[3] || !strchr("0123456789*#ABCD", buf[3]))) {
		*why = "DTMF frame with an unknown digit";
		return -EPROTO;
	}
	f->kind = kind;
	f->len = (uint16_t)plen;
	f->payload = buf + AS_HDR_LEN;
	return (int)(AS_HDR_LEN + plen);
}

size_t as_encode(uint8_t *out, uint8_t kind, const void *payload, uint16_t len)
{
	out[0] = kind;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	if (len)
		memcpy(out + AS_HDR_LEN, payload, len);
	return AS_HDR_LEN + (size_t)len;
}

void as_uuid_format(const uint8_t u[AS_UUID_LEN], char out[AS_UUID_STR_LEN + 1])
{
	snprintf(out, AS_UUID_STR_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
		 u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int as_uuid_parse(const char *s, uint8_t uuid[AS_UUID_LEN])
{
	int n = 0;

	for (int i = 0; i < AS_UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		int hi = hexval(s[i]);
		int lo = hi < 0 ? -1 : hexval(s[i + 1]);	/* no read past a NUL */
		if (lo < 0)
			return -EINVAL;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[AS_UUID_STR_LEN] == '\0' ? 0 : -EINVAL;
}
