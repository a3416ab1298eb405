/*
 * ws_frame.c - websocket frame encoding and parsing. See ws_frame.h.
 */
#include "ws_frame.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void ws_frame_mask(uint8_t *p, size_t n, const uint8_t key[4])
{
	uint32_t k;
	size_t i = 0;

	/* Four bytes at a time: a 20 ms frame of audio is 320 to 1,600 bytes. */
	memcpy(&k, key, 4);
	for (; i + 4 <= n; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, 4);
		w ^= k;
		memcpy(p + i, &w, 4);
	}
	for (; i < n; i++)
		p[i] ^= key[i & 3];
}

int ws_frame_encode(struct buf *out, int opcode, const void *payload, size_t len,
		    const uint8_t key[4])
{
	uint8_t *p;
	size_t h = 2;
	int rc = buf_reserve(out, WS_FRAME_HDR_MAX + len, &p);

	if (rc < 0)
		return rc;
	p[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	uint8_t masked = key ? 0x80 : 0;

	if (len < 126) {
		p[1] = (uint8_t)(masked | len);
	} else if (len <= 0xffff) {
		p[1] = masked | 126;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		h = 4;
	} else {
		p[1] = masked | 127;
		for (int i = 0; i < 8; i++)
			p[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		h = 10;
	}
	if (key) {
		memcpy(p + h, key, 4);
		h += 4;
	}
	if (len)
		memcpy(p + h, payload, len);
	if (key)
		ws_frame_mask(p + h, len, key);
	buf_commit(out, h + len);
	return 0;
}

static bool is_control(int op)
{
	return op & 0x8;
}

static bool known(int op)
{
	return op == WS_OP_CONT || op == WS_OP_TEXT || op == WS_OP_BINARY ||
	       op == WS_OP_CLOSE || op == WS_OP_PING || op == WS_OP_PONG;
}

/* One frame's header and payload; masked: the mask bit the peer's side must set. */
static long parse(const uint8_t *p, size_t n, size_t max, bool masked, struct ws_frame *f,
		  const uint8_t **key)
{
	size_t h = 2;
	uint64_t len;

	if (n < 2)
		return 0;
	f->fin = p[0] & 0x80;
	f->opcode = p[0] & 0x0f;
	/* No extensions; servers never mask, clients always do. */
	if (p[0] & 0x70 || !known(f->opcode) || !(p[1] & 0x80) != !masked)
		return -WS_CLOSE_PROTOCOL;
	len = p[1] & 0x7f;
	if (is_control(f->opcode) && (len > WS_CONTROL_MAX || !f->fin))
		return -WS_CLOSE_PROTOCOL;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		if (len >> 63)
			return -WS_CLOSE_PROTOCOL;
		h = 10;
	}
	if (len > max)
		return -WS_CLOSE_TOO_BIG;
	if (masked) {
		if (n - h < 4)
			return 0;
		*key = p + h;
		h += 4;
	}
	if (n - h < len)
		return 0;
	f->payload = p + h;
	f->len = (size_t)len;
	return (long)(h + len);
}

long ws_frame_parse(const uint8_t *p, size_t n, size_t max, struct ws_frame *f)
{
	return parse(p, n, max, false, f, NULL);
}

long ws_frame_parse_client(uint8_t *p, size_t n, size_t max, struct ws_frame *f)
{
	const uint8_t *key = NULL;
	long used = parse(p, n, max, true, f, &key);

	if (used > 0)	/* payload lies inside p: ours to unmask */
		ws_frame_mask(p + (f->payload - p), f->len, key);
	return used;
}

int ws_msg_add(struct ws_msg *m, const struct ws_frame *f)
{
	if (f->opcode == WS_OP_CONT) {
		if (!m->opcode)
			return -WS_CLOSE_PROTOCOL;	/* nothing to continue */
	} else {
		if (m->opcode)
			return -WS_CLOSE_PROTOCOL;	/* a new message inside one */
		m->opcode = f->opcode;
		buf_reset(&m->data);
	}
	int rc = buf_append(&m->data, f->payload, f->len);
	if (rc < 0) {
		m->opcode = 0;
		buf_reset(&m->data);
		return rc == -EMSGSIZE ? -WS_CLOSE_TOO_BIG : -WS_CLOSE_INTERNAL;
	}
	if (!f->fin)
		return 0;
	return 1;
}

int ws_frame_close_parse(const struct ws_frame *f, int *code, char *why, size_t whylen)
{
	size_t n;

	*code = 0;
	if (whylen)
		why[0] = '\0';
	if (f->len == 0)
		return 0;
	if (f->len == 1)
		return -WS_CLOSE_PROTOCOL;
	*code = f->payload[0] << 8 | f->payload[1];
	if (*code < 1000 || *code >= 5000 || (*code >= 1004 && *code <= 1006) || *code == 1015)
		return -WS_CLOSE_PROTOCOL;
	n = f->len - 2;
	if (whylen) {
		if (n >= whylen)
			n = whylen - 1;
		memcpy(why, f->payload + 2, n);
		why[n] = '\0';
	}
	return 0;
}
