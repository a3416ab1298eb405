/*
 * base64.c - RFC 4648 base64.
 */
#include "base64.h"

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int dec(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

long base64_decode(const char *src, size_t len, uint8_t *out)
{
	long n = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (len && src[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = dec(src[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n;
}

size_t base64_encode(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		out[o++] = enc[v >> 18 & 63];
		out[o++] = enc[v >> 12 & 63];
		out[o++] = i + 1 < n ? enc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? enc[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}
