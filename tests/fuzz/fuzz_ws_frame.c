/*
 * fuzz_ws_frame.c - what a websocket server sends, as the worker's client
 * reads it (worker/ws_frame.c, worker/ws_handshake.c), the real code.
 *
 * The input is the response head judged against a fixed key, then the
 * bytes after it taken as frames and gathered into messages under a small
 * cap, the way ws.c does. A frame never reaches past the bytes given, a
 * message never past the cap, and a verdict is a close code we send.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/ws_frame.h"
#include "../../worker/ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096

static void frames(const uint8_t *p, size_t n)
{
	struct ws_msg m = { .opcode = 0 };
	size_t off = 0;

	buf_init(&m.data, CAP);
	while (off < n) {
		struct ws_frame f;
		long used = ws_frame_parse(p + off, n - off, CAP, &f);
		if (used == 0)
			break;
		if (used < 0) {
			if (used != -WS_CLOSE_PROTOCOL && used != -WS_CLOSE_TOO_BIG)
				abort();
			break;
		}
		if ((size_t)used > n - off || f.len > CAP || f.payload < p + off ||
		    f.payload + f.len != p + off + (size_t)used)
			abort();
		off += (size_t)used;
		if (f.opcode & 0x8) {
			char why[124];
			int code;
			if (f.opcode == WS_OP_CLOSE)
				ws_frame_close_parse(&f, &code, why, sizeof(why));
			continue;
		}
		int rc = ws_msg_add(&m, &f);
		if (rc < 0)
			break;
		if (m.data.len > CAP)
			abort();
		if (rc == 1)
			ws_msg_reset(&m);
	}
	buf_free(&m.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160];
	int status;
	size_t used;
	int rc = ws_hs_response((const char *)data, size, "dGhlIHNhbXBsZSBub25jZQ==", &status,
				&used, why, sizeof(why));

	if (used > size)
		abort();
	frames(rc == WS_HS_OK ? data + used : data, rc == WS_HS_OK ? size - used : size);
	return 0;
}
