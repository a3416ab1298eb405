/*
 * test_ws_frame.c - unit tests for worker/ws_frame.h and ws_handshake.h,
 * the websocket client's wire format without any socket.
 *
 * Protects (issue 10, the native client): every frame we send is masked
 * and carries its length in the form RFC 6455 asks for (7-bit, 16-bit,
 * 64-bit); a server frame is taken only whole, and one no server may send
 * (masked, reserved bits, unknown opcode, a control frame over 125 bytes
 * or fragmented, a continuation out of place) is refused with 1002; a
 * message over the cap with 1009, from the header, before its bytes come;
 * fragments join into one message; close codes and reasons are read and
 * bad ones refused. The upgrade: the request carries what a server checks,
 * the response is taken only with 101 and the right Sec-WebSocket-Accept,
 * a refusal gives its HTTP status, an endless head is refused.
 *
 * The server side (ws_server.c, Twilio's sockets): our frames go out
 * unmasked; a client frame is taken only masked (an unmasked one is 1002)
 * and is unmasked once, in place; the request head gives its path and the
 * signature header, and one without a key, with another version (426) or
 * over 8 KiB is refused; the 101 carries the accept of the client's key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/ws_frame.h"
#include "../../worker/ws_handshake.h"

static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };

/* Encodes a client frame of len bytes and checks its header and masking. */
static void check_encoded(size_t len, size_t hdr, uint8_t len7)
{
	struct buf b;
	uint8_t *payload = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(i * 7);
	buf_init(&b, 0);
	assert_int_equal(ws_frame_encode(&b, WS_OP_BINARY, payload, len, key), 0);
	assert_int_equal(b.len, hdr + len);
	assert_int_equal(b.data[0], 0x82);		/* FIN, binary */
	assert_int_equal(b.data[1], 0x80 | len7);	/* masked */
	size_t got = len7 < 126 ? len7 : 0;
	for (size_t i = 2; i < hdr - 4; i++)
		got = got << 8 | b.data[i];
	assert_int_equal(got, len);
	assert_memory_equal(b.data + hdr - 4, key, 4);
	ws_frame_mask(b.data + hdr, len, key);		/* unmasks */
	if (len)
		assert_memory_equal(b.data + hdr, payload, len);
	buf_free(&b);
	free(payload);
}

static void client_frames_are_masked_with_each_length_form(void **state)
{
	(void)state;
	check_encoded(0, 6, 0);
	check_encoded(125, 6, 125);
	check_encoded(126, 8, 126);
	check_encoded(65535, 8, 126);
	check_encoded(65536, 14, 127);
}

static void masking_is_the_rfc_example(void **state)
{
	/* RFC 6455 5.7: "Hello" masked with 37 fa 21 3d. */
	uint8_t k[4] = { 0x37, 0xfa, 0x21, 0x3d }, p[] = "Hello";
	const uint8_t want[] = { 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	(void)state;

	ws_frame_mask(p, 5, k);
	assert_memory_equal(p, want, 5);
}

static void server_frames_parse_only_when_whole(void **state)
{
	const uint8_t hello[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	uint8_t big[4 + 300];
	struct ws_frame f;
	(void)state;

	for (size_t n = 0; n < sizeof(hello); n++)
		assert_int_equal(ws_frame_parse(hello, n, 100, &f), 0);
	assert_int_equal(ws_frame_parse(hello, sizeof(hello), 100, &f), 7);
	assert_int_equal(f.opcode, WS_OP_TEXT);
	assert_true(f.fin);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "Hello", 5);

	big[0] = 0x82;
	big[1] = 126;
	big[2] = 300 >> 8;
	big[3] = 300 & 0xff;
	memset(big + 4, 'x', 300);
	assert_int_equal(ws_frame_parse(big, 3, 1000, &f), 0);
	assert_int_equal(ws_frame_parse(big, sizeof(big) - 1, 1000, &f), 0);
	assert_int_equal(ws_frame_parse(big, sizeof(big), 1000, &f), (long)sizeof(big));
	assert_int_equal(f.len, 300);
}

static void a_64_bit_length_over_the_cap_fails_from_the_header(void **state)
{
	uint8_t h[10] = { 0x82, 127, 0, 0, 0, 0, 0, 0x50, 0, 0 };	/* 5 MiB */
	uint8_t huge[10] = { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	struct ws_frame f;
	(void)state;

	assert_int_equal(ws_frame_parse(h, sizeof(h), 4u << 20, &f), -WS_CLOSE_TOO_BIG);
	assert_int_equal(ws_frame_parse(huge, sizeof(huge), 4u << 20, &f), -WS_CLOSE_PROTOCOL);
	assert_int_equal(ws_frame_parse(h, 9, 4u << 20, &f), 0);	/* not all of it yet */
}

static void frames_no_server_may_send_are_protocol_errors(void **state)
{
	const uint8_t masked[] = { 0x81, 0x81, 1, 2, 3, 4, 'x' };
	const uint8_t rsv[] = { 0xc1, 0x01, 'x' };
	const uint8_t opcode[] = { 0x83, 0x01, 'x' };
	const uint8_t long_ping[] = { 0x89, 126, 0, 126 };
	const uint8_t split_ping[] = { 0x09, 0x01, 'x' };
	struct ws_frame f;
	(void)state;

	assert_int_equal(ws_frame_parse(masked, sizeof(masked), 100, &f), -WS_CLOSE_PROTOCOL);
	assert_int_equal(ws_frame_parse(rsv, sizeof(rsv), 100, &f), -WS_CLOSE_PROTOCOL);
	assert_int_equal(ws_frame_parse(opcode, sizeof(opcode), 100, &f), -WS_CLOSE_PROTOCOL);
	assert_int_equal(ws_frame_parse(long_ping, sizeof(long_ping), 1000, &f), -WS_CLOSE_PROTOCOL);
	assert_int_equal(ws_frame_parse(split_ping, sizeof(split_ping), 100, &f), -WS_CLOSE_PROTOCOL);
}

static void fragments_join_into_one_message_under_the_cap(void **state)
{
	struct ws_msg m = { .opcode = 0 };
	struct ws_frame first = { WS_OP_TEXT, false, (const uint8_t *)"hel", 3 };
	struct ws_frame last = { WS_OP_CONT, true, (const uint8_t *)"lo", 2 };
	struct ws_frame stray = { WS_OP_CONT, true, (const uint8_t *)"x", 1 };
	struct ws_frame whole = { WS_OP_BINARY, true, (const uint8_t *)"abcdefghij", 10 };
	(void)state;

	buf_init(&m.data, 8);
	assert_int_equal(ws_msg_add(&m, &stray), -WS_CLOSE_PROTOCOL);
	assert_int_equal(ws_msg_add(&m, &first), 0);
	assert_int_equal(ws_msg_add(&m, &whole), -WS_CLOSE_PROTOCOL);	/* new one inside */
	ws_msg_reset(&m);
	assert_int_equal(ws_msg_add(&m, &first), 0);
	assert_int_equal(ws_msg_add(&m, &last), 1);
	assert_int_equal(m.opcode, WS_OP_TEXT);
	assert_string_equal(buf_str(&m.data), "hello");
	ws_msg_reset(&m);
	assert_int_equal(ws_msg_add(&m, &whole), -WS_CLOSE_TOO_BIG);	/* 10 > 8 */
	assert_int_equal(m.opcode, 0);
	assert_int_equal(ws_msg_add(&m, &first), 0);
	assert_int_equal(ws_msg_add(&m, &first), -WS_CLOSE_PROTOCOL);	/* a TEXT again */
	ws_msg_reset(&m);
	assert_int_equal(ws_msg_add(&m, &first), 0);
	assert_int_equal(ws_msg_add(&m, &(struct ws_frame){ WS_OP_CONT, false,
							    (const uint8_t *)"lo", 2 }), 0);
	assert_int_equal(ws_msg_add(&m, &(struct ws_frame){ WS_OP_CONT, true,
							    (const uint8_t *)"!!!!", 4 }),
			 -WS_CLOSE_TOO_BIG);				/* 9 > 8 in all */
	buf_free(&m.data);
}

static void close_codes_and_reasons_are_read_and_checked(void **state)
{
	struct ws_frame f = { WS_OP_CLOSE, true, (const uint8_t *)"\x0f\xa0" "bye", 5 };
	char why[3];
	int code;
	(void)state;

	assert_int_equal(ws_frame_close_parse(&f, &code, why, sizeof(why)), 0);
	assert_int_equal(code, 4000);
	assert_string_equal(why, "by");		/* cut to fit */
	f.len = 0;
	assert_int_equal(ws_frame_close_parse(&f, &code, why, sizeof(why)), 0);
	assert_int_equal(code, 0);
	f.len = 1;
	assert_int_equal(ws_frame_close_parse(&f, &code, why, sizeof(why)), -WS_CLOSE_PROTOCOL);
	f.payload = (const uint8_t *)"\x03\xed";	/* 1005: never on the wire */
	f.len = 2;
	assert_int_equal(ws_frame_close_parse(&f, &code, why, sizeof(why)), -WS_CLOSE_PROTOCOL);
	f.payload = (const uint8_t *)"\x03\xe7";	/* 999 */
	assert_int_equal(ws_frame_close_parse(&f, &code, why, sizeof(why)), -WS_CLOSE_PROTOCOL);
}

/* ---- the server's frames ---- */

static void server_frames_go_out_unmasked(void **state)
{
	struct buf b;
	uint8_t big[300];
	(void)state;

	memset(big, 'y', sizeof(big));
	buf_init(&b, 0);
	assert_int_equal(ws_frame_encode(&b, WS_OP_TEXT, "Hello", 5, NULL), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "\x81\x05Hello", 7);	/* RFC 6455 5.7 */
	buf_reset(&b);
	assert_int_equal(ws_frame_encode(&b, WS_OP_TEXT, big, sizeof(big), NULL), 0);
	assert_int_equal(b.len, 4 + sizeof(big));
	assert_int_equal(b.data[1], 126);
	assert_int_equal(b.data[2] << 8 | b.data[3], 300);
	assert_memory_equal(b.data + 4, big, sizeof(big));
	buf_free(&b);
}

static void client_frames_must_be_masked_and_are_unmasked_once(void **state)
{
	/* RFC 6455 5.7: a masked "Hello", then a masked empty ping. */
	uint8_t in[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
			 0x89, 0x80, 1, 2, 3, 4 };
	const uint8_t plain[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	uint8_t copy[sizeof(plain)];
	struct ws_frame f;
	(void)state;

	for (size_t n = 0; n < 11; n++)
		assert_int_equal(ws_frame_parse_client(in, n, 100, &f), 0);
	assert_int_equal(in[6], 0x7f);			/* still masked while partial */
	assert_int_equal(ws_frame_parse_client(in, sizeof(in), 100, &f), 11);
	assert_int_equal(f.opcode, WS_OP_TEXT);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "Hello", 5);
	assert_int_equal(ws_frame_parse_client(in + 11, sizeof(in) - 11, 100, &f), 6);
	assert_int_equal(f.opcode, WS_OP_PING);
	assert_int_equal(f.len, 0);

	memcpy(copy, plain, sizeof(plain));
	assert_int_equal(ws_frame_parse_client(copy, sizeof(copy), 100, &f), -WS_CLOSE_PROTOCOL);
	in[0] = 0xc1;					/* a reserved bit */
	assert_int_equal(ws_frame_parse_client(in, sizeof(in), 100, &f), -WS_CLOSE_PROTOCOL);
	in[0] = 0x81;
	assert_int_equal(ws_frame_parse_client(in, sizeof(in), 4, &f), -WS_CLOSE_TOO_BIG);
}

/* ---- the server's upgrade ---- */

#define GOOD_REQ "GET /twilio/relay?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" \
		 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
		 "x-twilio-signature:  c2lnbmF0dXJl \r\nSec-WebSocket-Version: 13\r\n\r\n"

static int parse_req(const char *r, size_t n, struct ws_hs_req *q, size_t *used)
{
	char why[160];

	return ws_hs_request_parse(r, n, "X-Twilio-Signature", q, used, why, sizeof(why));
}

static void a_good_request_gives_path_key_and_signature(void **state)
{
	const char *r = GOOD_REQ "\x81";
	struct ws_hs_req q;
	struct buf b;
	size_t used;
	(void)state;

	for (size_t n = 0; n < strlen(r) - 1; n++)
		assert_int_equal(parse_req(r, n, &q, &used), WS_HS_MORE);
	assert_int_equal(parse_req(r, strlen(r), &q, &used), WS_HS_OK);
	assert_int_equal(used, strlen(r) - 1);		/* the frame byte is not the head's */
	assert_string_equal(q.path, "/twilio/relay");
	assert_string_equal(q.key, "dGhlIHNhbXBsZSBub25jZQ==");
	assert_true(q.has_extra);
	assert_string_equal(q.extra, "c2lnbmF0dXJl");

	buf_init(&b, 0);
	assert_int_equal(ws_hs_accept_response(&b, q.key), 0);
	assert_string_equal(buf_str(&b), "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	buf_reset(&b);
	assert_int_equal(ws_hs_refusal(&b, 403), 0);
	assert_true(!strncmp(buf_str(&b), "HTTP/1.1 403 Forbidden\r\n", 24));
	assert_non_null(strstr(buf_str(&b), "\r\nConnection: close\r\n"));
	buf_free(&b);

	/* Without the signature: none, not an empty one. */
	r = "GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n";
	assert_int_equal(parse_req(r, strlen(r), &q, &used), WS_HS_OK);
	assert_string_equal(q.path, "/");
	assert_false(q.has_extra);
}

/* The request with one line replaced (from, to): its verdict and status. */
static void check_bad(const char *from, const char *to, int status)
{
	char r[1024], why[160];
	const char *at = strstr(GOOD_REQ, from);
	struct ws_hs_req q;
	size_t used;

	assert_non_null(at);
	snprintf(r, sizeof(r), "%.*s%s%s", (int)(at - GOOD_REQ), GOOD_REQ, to, at + strlen(from));
	assert_int_equal(ws_hs_request_parse(r, strlen(r), NULL, &q, &used, why, sizeof(why)),
			 WS_HS_BAD);
	assert_int_equal(q.status, status);
	assert_int_equal(used, 0);
}

static void bad_requests_are_refused_with_their_status(void **state)
{
	(void)state;
	check_bad("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 400);
	check_bad("dGhlIHNhbXBsZSBub25jZQ==", "short==", 400);
	check_bad("Version: 13", "Version: 8", 426);
	check_bad("Upgrade: websocket\r\n", "", 400);
	check_bad("Connection: Upgrade", "Connection: keep-alive", 400);
	check_bad("GET ", "POST ", 400);
	check_bad("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost", 400);
	check_bad("/twilio/relay?x=1", "/a b", 400);
}

static void an_endless_request_head_is_refused(void **state)
{
	char *r = malloc(WS_HS_HEAD_MAX + 10);
	struct ws_hs_req q;
	size_t used;
	(void)state;

	memcpy(r, "GET / HTTP/1.1\r\n", 16);
	memset(r + 16, 'x', WS_HS_HEAD_MAX - 6);
	assert_int_equal(parse_req(r, WS_HS_HEAD_MAX - 1, &q, &used), WS_HS_MORE);
	assert_int_equal(parse_req(r, WS_HS_HEAD_MAX, &q, &used), WS_HS_BAD);
	assert_int_equal(q.status, 400);
	free(r);
}

/* ---- the upgrade ---- */

static void urls_split_into_host_port_and_path(void **state)
{
	struct ws_url u;
	(void)state;

	assert_int_equal(ws_url_parse(&u, "wss://api.example.com/v1/listen?x=1", 100), 0);
	assert_string_equal(u.host, "api.example.com");
	assert_int_equal(u.port, 443);
	assert_true(u.tls);
	assert_string_equal(u.path, "/v1/listen?x=1");
	ws_url_free(&u);
	assert_int_equal(ws_url_parse(&u, "ws://[::1]:8080?q", 100), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8080);
	assert_false(u.tls);
	assert_string_equal(u.path, "/?q");
	ws_url_free(&u);
	assert_int_equal(ws_url_parse(&u, "ws://h:0/", 100), -EINVAL);
	assert_int_equal(ws_url_parse(&u, "ws://h:70000/", 100), -EINVAL);
	assert_int_equal(ws_url_parse(&u, "ws:///x", 100), -EINVAL);
	assert_int_equal(ws_url_parse(&u, "ws://u@h/x", 100), -EINVAL);
	assert_int_equal(ws_url_parse(&u, "ws://h/abcd", 4), -ENAMETOOLONG);
	assert_int_equal(ws_url_parse(&u, "ws://h/abc", 4), 0);
	ws_url_free(&u);
}

static void the_request_carries_what_a_server_checks(void **state)
{
	struct ws_url u;
	struct buf b;
	char *hdrs[] = { "Authorization: Token k", "Bad\r\nInjected: 1", "NoColon" };
	(void)state;

	buf_init(&b, 0);
	assert_int_equal(ws_url_parse(&u, "ws://example.com:8080/v1?a=b", 100), 0);
	assert_int_equal(ws_hs_request(&b, &u, hdrs, 3, "dGhlIHNhbXBsZSBub25jZQ=="), 0);
	const char *r = buf_str(&b);
	assert_true(!strncmp(r, "GET /v1?a=b HTTP/1.1\r\n", 22));
	assert_non_null(strstr(r, "\r\nHost: example.com:8080\r\n"));
	assert_non_null(strstr(r, "\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr(r, "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(r, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_non_null(strstr(r, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(r, "\r\nAuthorization: Token k\r\n"));
	assert_null(strstr(r, "Injected"));
	assert_null(strstr(r, "NoColon"));
	assert_string_equal(r + strlen(r) - 4, "\r\n\r\n");
	ws_url_free(&u);
	buf_reset(&b);
	assert_int_equal(ws_url_parse(&u, "wss://example.com/", 100), 0);
	assert_int_equal(ws_hs_request(&b, &u, NULL, 0, "k"), 0);
	assert_non_null(strstr(buf_str(&b), "\r\nHost: example.com\r\n"));	/* default port */
	ws_url_free(&u);
	buf_free(&b);
}

static void the_response_needs_101_and_the_right_accept(void **state)
{
	const char *k = "dGhlIHNhbXBsZSBub25jZQ==";	/* RFC 6455 1.3 */
	char accept[WS_HS_ACCEPT_LEN], why[160], r[512];
	int status;
	size_t used;
	(void)state;

	ws_hs_accept(k, accept);
	assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	snprintf(r, sizeof(r), "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
		 "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n\x81", accept);
	for (size_t n = 0; n < strlen(r) - 1; n++)
		assert_int_equal(ws_hs_response(r, n, k, &status, &used, why, sizeof(why)),
				 WS_HS_MORE);
	assert_int_equal(ws_hs_response(r, strlen(r), k, &status, &used, why, sizeof(why)),
			 WS_HS_OK);
	assert_int_equal(status, 101);
	assert_int_equal(used, strlen(r) - 1);		/* the frame byte is not the head's */

	snprintf(r, sizeof(r), "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: S3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	assert_int_equal(ws_hs_response(r, strlen(r), k, &status, &used, why, sizeof(why)),
			 WS_HS_BAD);
	assert_non_null(strstr(why, "Accept"));

	snprintf(r, sizeof(r), "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	assert_int_equal(ws_hs_response(r, strlen(r), k, &status, &used, why, sizeof(why)),
			 WS_HS_BAD);

	snprintf(r, sizeof(r), "HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}");
	assert_int_equal(ws_hs_response(r, strlen(r), k, &status, &used, why, sizeof(why)),
			 WS_HS_REFUSED);
	assert_int_equal(status, 401);
	assert_non_null(strstr(why, "401 Unauthorized"));

	assert_int_equal(ws_hs_response("SSH-2.0-x\r\n\r\n", 13, k, &status, &used, why,
					sizeof(why)), WS_HS_BAD);
}

static void an_endless_response_head_is_refused(void **state)
{
	char *r = malloc(WS_HS_HEAD_MAX + 10), why[160];
	int status;
	size_t used;
	(void)state;

	memcpy(r, "HTTP/1.1 101 OK\r\n", 17);
	memset(r + 17, 'x', WS_HS_HEAD_MAX - 7);
	assert_int_equal(ws_hs_response(r, WS_HS_HEAD_MAX - 1, "k", &status, &used, why,
					sizeof(why)), WS_HS_MORE);
	assert_int_equal(ws_hs_response(r, WS_HS_HEAD_MAX + 10, "k", &status, &used, why,
					sizeof(why)), WS_HS_BAD);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_frames_are_masked_with_each_length_form),
		cmocka_unit_test(masking_is_the_rfc_example),
		cmocka_unit_test(server_frames_parse_only_when_whole),
		cmocka_unit_test(a_64_bit_length_over_the_cap_fails_from_the_header),
		cmocka_unit_test(frames_no_server_may_send_are_protocol_errors),
		cmocka_unit_test(fragments_join_into_one_message_under_the_cap),
		cmocka_unit_test(close_codes_and_reasons_are_read_and_checked),
		cmocka_unit_test(server_frames_go_out_unmasked),
		cmocka_unit_test(client_frames_must_be_masked_and_are_unmasked_once),
		cmocka_unit_test(a_good_request_gives_path_key_and_signature),
		cmocka_unit_test(bad_requests_are_refused_with_their_status),
		cmocka_unit_test(an_endless_request_head_is_refused),
		cmocka_unit_test(urls_split_into_host_port_and_path),
		cmocka_unit_test(the_request_carries_what_a_server_checks),
		cmocka_unit_test(the_response_needs_101_and_the_right_accept),
		cmocka_unit_test(an_endless_response_head_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
