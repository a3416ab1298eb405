/*
 * ws_frame.h - websocket frames (RFC 6455 section 5), both sides.
 *
 * Owns: nothing but pure functions. Encoding a frame into a connection's
 * output buffer: a client's (ws.c) always masked, the key given by the
 * caller, a server's (ws_server.c) never; parsing one whole frame from the
 * front of received bytes: a server's, which is never masked, or a
 * client's, which always is (unmasked in place once whole); and gathering
 * data frames into one message under a size cap. No I/O, no allocation
 * but the buffers the caller owns, so it is unit-tested and fuzzed on its
 * own (tests/unit/test_ws_frame.c).
 *
 * Why not libwebsockets: see ws.c (the syscalls it spent per message).
 *
 * Fails with a close code (negated) the connection then sends: 1002 for a
 * frame the peer's side may not send (masked from a server, unmasked from
 * a client, reserved bits or opcodes, a control frame over 125 bytes or
 * fragmented, a continuation out of place), 1009 for a message over the
 * cap. Never trusts a length the peer wrote.
 */
#ifndef VG_WS_FRAME_H
#define VG_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

enum {
	WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA,
};

enum {
	WS_CLOSE_NORMAL = 1000, WS_CLOSE_PROTOCOL = 1002, WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011,
};

/* The most a client frame's header takes: 2, 8 bytes of length, 4 of key. */
#define WS_FRAME_HDR_MAX 14
/* The most a control frame may carry. */
#define WS_CONTROL_MAX 125

struct ws_frame {
	int opcode;
	bool fin;
	const uint8_t *payload;	/* inside the bytes given to ws_frame_parse */
	size_t len;
};

/*
 * Appends one final frame of opcode with payload masked by key, or
 * unmasked when key is NULL (a server's frame). 0, -EMSGSIZE (out's
 * ceiling) or -ENOMEM; out is unchanged on failure.
 */
int ws_frame_encode(struct buf *out, int opcode, const void *payload, size_t len,
		    const uint8_t key[4]);

/* XORs n bytes with key, starting at key offset 0 (encode and tests). */
void ws_frame_mask(uint8_t *p, size_t n, const uint8_t key[4]);

/*
 * One server frame from the front of p[0..n): > 0, the bytes it takes
 * (header and payload) with f filled; 0, not all of it is here yet; < 0,
 * minus the close code. A frame whose payload is over max fails at once
 * from its header (-WS_CLOSE_TOO_BIG), without waiting for its bytes.
 */
long ws_frame_parse(const uint8_t *p, size_t n, size_t max, struct ws_frame *f);

/*
 * The same for a client's frame, which must be masked: once it is whole
 * its payload is unmasked in place (so a frame is unmasked exactly once:
 * the caller drops the bytes it took).
 */
long ws_frame_parse_client(uint8_t *p, size_t n, size_t max, struct ws_frame *f);

/* A message being gathered from data frames; msg's ceiling is the cap. */
struct ws_msg {
	struct buf data;
	int opcode;		/* WS_OP_TEXT or WS_OP_BINARY while one is open */
};

/*
 * Adds a data frame (text, binary, continuation) to m. 1: m->data holds
 * a whole message of m->opcode (the caller then calls ws_msg_reset); 0:
 * more to come; < 0: minus the close code (m is reset).
 */
int ws_msg_add(struct ws_msg *m, const struct ws_frame *f);

/* Ready for the next message; keeps the memory. */
static inline void ws_msg_reset(struct ws_msg *m)
{
	m->opcode = 0;
	buf_reset(&m->data);
}

/*
 * A close frame's payload: *code (0 when it has none) and the reason,
 * cut to fit why (NUL-terminated). 0, or -WS_CLOSE_PROTOCOL for a one-byte
 * payload or a code no peer may send.
 */
int ws_frame_close_parse(const struct ws_frame *f, int *code, char *why, size_t whylen);

#endif
