/*
 * ws_peer.c - one open websocket's message layer. See ws_peer.h.
 *
 * Why a verdict and not hooks: the two owners end a connection, run
 * their hooks and free their memory in different ways (ws.c sweeps once
 * the owner and the socket are both done, ws_server.c frees on leaving
 * its last event), and both let a message hook close the connection
 * while frames are being taken. Returning each message keeps every hook
 * call in the owner's file, where its lifetime rules are.
 */
#include "ws_peer.h"

#include <errno.h>
#include <stdio.h>

void ws_peer_init(struct ws_peer *p, struct buf *in, struct buf *out,
		  int (*mask_key)(void *arg, uint8_t key[4]), void *key_arg)
{
	*p = (struct ws_peer){ .in = in, .out = out, .mask_key = mask_key, .key_arg = key_arg };
	buf_init(&p->msg.data, WS_PEER_MSG_MAX);
}

void ws_peer_free(struct ws_peer *p)
{
	buf_free(&p->msg.data);
}

int ws_peer_send(struct ws_peer *p, int opcode, const void *data, size_t len)
{
	uint8_t key[4];

	if (!p->mask_key)
		return ws_frame_encode(p->out, opcode, data, len, NULL);
	if (p->mask_key(p->key_arg, key) < 0)
		return -EIO;
	return ws_frame_encode(p->out, opcode, data, len, key);
}

void ws_peer_close(struct ws_peer *p, int code)
{
	uint8_t b[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	if (p->closing)
		return;
	ws_peer_send(p, WS_OP_CLOSE, b, code ? sizeof(b) : 0);
	p->closing = true;
}

/* Our close frame with code, if we still may send one, and the end. */
int ws_peer_end(struct ws_peer *p, int code, const char *why)
{
	ws_peer_close(p, code);
	p->code = code;
	snprintf(p->why, sizeof(p->why), "%s", why);
	return WS_PEER_END;
}

static int refuse(struct ws_peer *p, int code)
{
	return ws_peer_end(p, code, code == WS_CLOSE_TOO_BIG ? "message too large" :
				       "protocol error");
}

/* The peer's close: answered with its code, as RFC 6455 asks, unless ours went first. */
static int on_close_frame(struct ws_peer *p, const struct ws_frame *f)
{
	char why[sizeof(p->why)];
	int code;

	if (ws_frame_close_parse(f, &code, why, sizeof(why)) < 0)
		return ws_peer_end(p, WS_CLOSE_PROTOCOL, "bad close frame");
	return ws_peer_end(p, code, why[0] ? why : "closed");	/* code 0: an empty close */
}

int ws_peer_next(struct ws_peer *p)
{
	struct ws_frame f;
	long n;
	int rc;

	if (p->whole)
		ws_msg_reset(&p->msg);	/* the owner is done with it */
	p->whole = false;
	for (;;) {
		uint8_t *at = p->in->data + p->off;
		size_t have = p->in->len - p->off;

		/* A client takes only unmasked frames, a server only masked ones. */
		n = p->mask_key ? ws_frame_parse(at, have, WS_PEER_MSG_MAX, &f) :
				  ws_frame_parse_client(at, have, WS_PEER_MSG_MAX, &f);
		if (n == 0) {
			buf_consume(p->in, p->off);
			p->off = 0;
			return WS_PEER_MORE;
		}
		if (n < 0)
			return refuse(p, (int)-n);
		p->off += (size_t)n;
		switch (f.opcode) {
		case WS_OP_PING:
			if (!p->closing)
				ws_peer_send(p, WS_OP_PONG, f.payload, f.len);
			break;
		case WS_OP_PONG:
			break;
		case WS_OP_CLOSE:
			return on_close_frame(p, &f);
		default:
			if ((rc = ws_msg_add(&p->msg, &f)) < 0)
				return refuse(p, -rc);
			if (rc == 1) {
				p->whole = true;
				return WS_PEER_MESSAGE;
			}
		}
	}
}
