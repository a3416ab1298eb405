/*
 * audiosocket.h - Asterisk AudioSocket framing (protocols.md section 7).
 *
 * Owns: the frame format (kind, 16-bit big-endian length, payload), which
 * kinds exist, what each kind's payload may be, and the sample rate each
 * audio kind declares. Pure functions: no I/O, no allocation.
 * Never: trusts a length before checking it against the kind and the limit;
 * every check happens on the 3-byte header, so a frame announcing 65535
 * bytes is refused before its body is awaited.
 */
#ifndef VG_AUDIOSOCKET_H
#define VG_AUDIOSOCKET_H

#include <stddef.h>
#include <stdint.h>

enum as_kind {
	AS_HANGUP = 0x00,
	AS_UUID = 0x01,
	AS_DTMF = 0x03,
	AS_AUDIO = 0x10,	/* slin 8 kHz */
	AS_AUDIO_12K = 0x11,
	AS_AUDIO_16K = 0x12,
	AS_AUDIO_24K = 0x13,
	AS_AUDIO_32K = 0x14,
	AS_AUDIO_44K = 0x15,
	AS_AUDIO_48K = 0x16,
	AS_AUDIO_96K = 0x17,
	AS_AUDIO_192K = 0x18,
	AS_ERROR = 0xff,
};

#define AS_HDR_LEN 3
#define AS_MAX_PAYLOAD 65535
#define AS_UUID_LEN 16
#define AS_UUID_STR_LEN 36	/* 8-4-4-4-12, without the NUL */

struct as_frame {
	uint8_t kind;
	uint16_t len;
	const uint8_t *payload;	/* points into the caller's buffer */
};

/* Sample rate of an audio kind, 0 if the kind is not audio. */
int as_kind_rate(uint8_t kind);

/* Audio kind for a sample rate, -1 if AudioSocket has none. */
int as_rate_kind(int rate);

/*
 * Parses one frame from buf[0..len).
 * max_audio_ms: longest audio frame accepted, in ms at the kind's rate.
 * Returns the bytes the frame occupies (> 0) with *f filled, 0 if more bytes
 * are needed, or -EPROTO with *why naming the problem (a static string).
 */
int as_parse(const uint8_t *buf, size_t len, int max_audio_ms,
	     struct as_frame *f, const char **why);

/*
 * Writes a frame (header + payload) to out, which must hold
 * AS_HDR_LEN + len bytes. Returns the frame's total length.
 */
size_t as_encode(uint8_t *out, uint8_t kind, const void *payload, uint16_t len);

/* Formats a 16-byte binary UUID as 36 lowercase characters plus NUL. */
void as_uuid_format(const uint8_t uuid[AS_UUID_LEN], char out[AS_UUID_STR_LEN + 1]);

/* Parses the 36-character form; 0 or -EINVAL. */
int as_uuid_parse(const char *s, uint8_t uuid[AS_UUID_LEN]);

#endif
