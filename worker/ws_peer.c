/* ws_peer.c - one open websocket's message layer. See ws_peer.h. */
#include "ws_peer.h"

#include <errno.h>
#include <stdio.h>

void ws_peer_init(struct ws_peer *p, struct buf *in, struct buf *out,
		  int (*keys)(void *arg, uint8_t *key, size_t n), void *keys_arg)
{
	*p = (struct ws_peer){ .in = in, .out = out, .keys = keys, .keys_arg = keys_arg };
	buf_init(&p->msg.data, WS_PEER_MSG_MAX);
}

void ws_peer_free(struct ws_peer *p)
{
	buf_free(&p->msg.data);
}

int ws_peer_send(struct ws_peer *p, int opcode, const void *data, size_t len)
{
	uint8_t key[4];

	if (p->keys && p->keys(p->keys_arg, key, sizeof(key)) < 0)
		return -EIO;
	return ws_frame_encode(p->out, opcode, data, len, p->keys ? key : NULL);
}

void ws_peer_close(struct ws_peer *p, int code)
{
	uint8_t b[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	if (!p->closing)
		ws_peer_send(p, WS_OP_CLOSE, b, code ? sizeof(b) : 0);
	p->closing = true;
}

bool ws_peer_end(struct ws_peer *p, int code, const char *why)
{
	ws_peer_close(p, code);
	p->code = code;
	snprintf(p->why, sizeof(p->why), "%s", why);
	return true;
}

static bool refuse(struct ws_peer *p, int code)
{
	return ws_peer_end(p, code, code == WS_CLOSE_TOO_BIG ? "message too large" : "protocol error");
}

bool ws_peer_take(struct ws_peer *p, ws_peer_msg_fn *msg, void *arg)
{
	char why[sizeof(p->why)];
	struct ws_frame f;
	size_t off = 0;
	long n;
	int rc, code;

	for (;;) {
		uint8_t *at = p->in->data + off;
		size_t have = p->in->len - off;

		/* A client takes only unmasked frames, a server only masked ones. */
		n = p->keys ? ws_frame_parse(at, have, WS_PEER_MSG_MAX, &f) :
				  ws_frame_parse_client(at, have, WS_PEER_MSG_MAX, &f);
		if (n == 0)
			break;
		if (n < 0)
			return refuse(p, (int)-n);
		off += (size_t)n;
		switch (f.opcode) {
		case WS_OP_PING:
			if (!p->closing)
				ws_peer_send(p, WS_OP_PONG, f.payload, f.len);
			break;
		case WS_OP_PONG:
			break;
		case WS_OP_CLOSE:	/* answered with its code (RFC 6455) unless ours went first */
			if (ws_frame_close_parse(&f, &code, why, sizeof(why)) < 0)
				return ws_peer_end(p, WS_CLOSE_PROTOCOL, "bad close frame");
			return ws_peer_end(p, code, why[0] ? why : "closed");
		default:
			if ((rc = ws_msg_add(&p->msg, &f)) < 0)
				return refuse(p, -rc);
			if (rc == 0)
				break;
			rc = msg(arg, buf_str(&p->msg.data), p->msg.data.len,
				 p->msg.opcode == WS_OP_BINARY);
			ws_msg_reset(&p->msg);
			if (!rc)
				return false;	/* the owner is gone: in is of no more use */
		}
	}
	buf_consume(p->in, off);
	return false;
}
