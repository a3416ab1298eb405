/*
 * fuzz_audiosocket.c - AudioSocket framing as a worker reads it from Asterisk.
 *
 * The first two input bytes choose the frame-size limit and a split seed;
 * the rest is the byte stream, delivered in pieces cut at arbitrary points
 * (as TCP may), reassembled the way worker/wrk_call.c on_readable does. Every
 * parsed frame must lie inside the stream and respect the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/audiosocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUF 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int max_ms = 20 + data[0] % 200;
	uint32_t seed = data[1];
	data += 2;
	size -= 2;

	uint8_t buf[BUF];
	size_t have = 0, pos = 0;
	while (pos < size) {
		seed = seed * 1103515245u + 12345u;
		size_t piece = 1 + (seed >> 16) % 700;
		if (piece > size - pos)
			piece = size - pos;
		if (piece > BUF - have)
			piece = BUF - have;
		memcpy(buf + have, data + pos, piece);
		have += piece;
		pos += piece;

		size_t off = 0;
		int n;
		struct as_frame f;
		const char *why = NULL;
		while ((n = as_parse(buf + off, have - off, max_ms, &f, &why)) > 0) {
			if ((size_t)n != (size_t)AS_HDR_LEN + f.len || (size_t)n > have - off)
				abort();
			if (f.len && (f.payload < buf + off || f.payload + f.len > buf + have))
				abort();
			off += (size_t)n;
		}
		if (n < 0) {
			if (why == NULL)
				abort();
			return 0;	/* the worker ends the call here */
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		if (have == BUF)
			return 0;	/* a frame larger than the buffer was refused above */
	}
	return 0;
}
