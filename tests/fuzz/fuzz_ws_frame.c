/*
 * fuzz_ws_frame.c - what a websocket peer sends, as the worker reads it
 * (worker/ws_frame.c, worker/ws_handshake.c), the real code, both sides.
 *
 * The client's side: the input is the response head judged against a
 * fixed key, then the bytes after it taken as server frames and gathered
 * into messages under a small cap, the way ws.c does. The server's side
 * (ws_server.c): the same input as a request head, then client frames,
 * unmasked in place in a copy. A frame never reaches past the bytes
 * given, a message never past the cap, a verdict is a close code we send,
 * a refused request names a status we answer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/ws_frame.h"
#include "../../worker/ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096

static void frames(uint8_t *p, size_t n, bool client)
{
	struct ws_msg m = { .opcode = 0 };
	size_t off = 0;

	buf_init(&m.data, CAP);
	while (off < n) {
		struct ws_frame f;
		long used = client ? ws_frame_parse_client(p + off, n - off, CAP, &f) :
				     ws_frame_parse(p + off, n - off, CAP, &f);
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

static void server_side(const uint8_t *data, size_t size)
{
	char why[160];
	struct ws_hs_req r;
	size_t used;
	uint8_t *copy = malloc(size + 1);	/* client frames are unmasked in place */
	int rc = ws_hs_request_parse((const char *)data, size, "X-Twilio-Signature", &r, &used,
				     why, sizeof(why));

	if (!copy)
		return;
	if (used > size || (rc == WS_HS_BAD && r.status != 400 && r.status != 426) ||
	    (rc == WS_HS_OK && (r.path[0] != '/' || strlen(r.key) != WS_HS_KEY_LEN - 1 ||
				strlen(r.path) >= sizeof(r.path))))
		abort();
	memcpy(copy, data, size);
	frames(rc == WS_HS_OK ? copy + used : copy, rc == WS_HS_OK ? size - used : size, true);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160];
	int status;
	size_t used;
	uint8_t *copy = malloc(size + 1);
	int rc = ws_hs_response((const char *)data, size, "dGhlIHNhbXBsZSBub25jZQ==", &status,
				&used, why, sizeof(why));

	if (!copy)
		return 0;
	if (used > size)
		abort();
	memcpy(copy, data, size);
	frames(rc == WS_HS_OK ? copy + used : copy, rc == WS_HS_OK ? size - used : size, false);
	free(copy);
	server_side(data, size);
	return 0;
}
