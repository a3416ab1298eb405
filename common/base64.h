/*
 * base64.h - standard base64 (RFC 4648), for provider audio in JSON.
 */
#ifndef VG_BASE64_H
#define VG_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decodes src (whitespace not allowed) into out (>= len * 3 / 4 bytes).
 * Returns the bytes written, or -1 for bytes that are not base64. */
long base64_decode(const char *src, size_t len, uint8_t *out);

/* Encodes n bytes into out (>= 4 * ((n + 2) / 3) + 1 bytes, NUL-terminated). */
size_t base64_encode(const uint8_t *src, size_t n, char *out);

#endif
