/*
 * test_audiosocket.c - unit tests for common/audiosocket.h.
 *
 * Protects: the AudioSocket frame format of protocols.md section 7 (kind,
 * big-endian 16-bit length, payload), the sample rate each audio kind
 * declares, incremental parsing of frames split across TCP reads, refusal
 * of every malformed frame from its 3-byte header alone, and the UUID text
 * form used in logs.
 * Never: opens sockets or files; every input is built in memory here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/audiosocket.h"

#define MAX_MS 200	/* the [call] max_frame_ms default */

static const uint8_t uuid_bin[AS_UUID_LEN] = {
	0x4f, 0x2a, 0x9c, 0x01, 0xbe, 0xef, 0x4a, 0x11,
	0x80, 0x00, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe,
};
static const char uuid_str[] = "4f2a9c01-beef-4a11-8000-deadbeefcafe";

/* Expects buf[0..len) to be refused with -EPROTO and a reason. */
static void assert_refused(const uint8_t *buf, size_t len, int max_ms)
{
	struct as_frame f;
	const char *why = NULL;

	assert_int_equal(as_parse(buf, len, max_ms, &f, &why), -EPROTO);
	assert_non_null(why);
	assert_true(why[0] != '\0');
}

static void test_uuid_frame_parses_with_binary_payload(void **state)
{
	(void)state;
	uint8_t buf[3 + AS_UUID_LEN] = { 0x01, 0x00, 0x10 };
	struct as_frame f;
	const char *why = NULL;

	memcpy(buf + 3, uuid_bin, AS_UUID_LEN);
	assert_int_equal(as_parse(buf, sizeof(buf), MAX_MS, &f, &why), (int)sizeof(buf));
	assert_int_equal(f.kind, AS_UUID);
	assert_int_equal(f.len, AS_UUID_LEN);
	assert_ptr_equal(f.payload, buf + 3);
	assert_memory_equal(f.payload, uuid_bin, AS_UUID_LEN);
}

static void test_dtmf_frame_parses_every_valid_digit(void **state)
{
	(void)state;
	const char *digits = "0123456789*#ABCD";

	for (const char *d = digits; *d; d++) {
		uint8_t buf[4] = { 0x03, 0x00, 0x01, (uint8_t)*d };
		struct as_frame f;
		const char *why = NULL;

		assert_int_equal(as_parse(buf, sizeof(buf), MAX_MS, &f, &why), 4);
		assert_int_equal(f.kind, AS_DTMF);
		assert_int_equal(f.len, 1);
		assert_int_equal(f.payload[0], (uint8_t)*d);
	}
}

static void test_hangup_frame_parses_as_three_bytes(void **state)
{
	(void)state;
	/* Trailing bytes belong to the next frame, not to this one. */
	const uint8_t buf[5] = { 0x00, 0x00, 0x00, 0x10, 0x00 };
	struct as_frame f = { .kind = 0x77, .len = 99 };
	const char *why = NULL;

	assert_int_equal(as_parse(buf, sizeof(buf), MAX_MS, &f, &why), 3);
	assert_int_equal(f.kind, AS_HANGUP);
	assert_int_equal(f.len, 0);
}

static void test_audio_kinds_declare_their_rates(void **state)
{
	(void)state;
	static const int rates[] = {
		8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000,
	};

	for (int i = 0; i < 9; i++)
		assert_int_equal(as_kind_rate((uint8_t)(0x10 + i)), rates[i]);
	assert_int_equal(as_kind_rate(AS_HANGUP), 0);
	assert_int_equal(as_kind_rate(AS_UUID), 0);
	assert_int_equal(as_kind_rate(AS_DTMF), 0);
	assert_int_equal(as_kind_rate(0x0f), 0);
	assert_int_equal(as_kind_rate(0x19), 0);
	assert_int_equal(as_kind_rate(AS_ERROR), 0);
}

static void test_audio_frame_of_each_kind_parses_20ms(void **state)
{
	(void)state;
	static uint8_t buf[3 + 192000 * 2 / 50];

	for (uint8_t kind = 0x10; kind <= 0x18; kind++) {
		size_t plen = (size_t)as_kind_rate(kind) * 2 / 50;	/* 20 ms */
		struct as_frame f;
		const char *why = NULL;

		for (size_t i = 0; i < plen; i++)
			buf[3 + i] = (uint8_t)(i * 7 + kind);
		buf[0] = kind;
		buf[1] = (uint8_t)(plen >> 8);
		buf[2] = (uint8_t)plen;
		assert_int_equal(as_parse(buf, 3 + plen, MAX_MS, &f, &why), (int)(3 + plen));
		assert_int_equal(f.kind, kind);
		assert_int_equal(f.len, plen);
		assert_ptr_equal(f.payload, buf + 3);
	}
}

static void test_audio_length_is_big_endian(void **state)
{
	(void)state;
	/* 0x0140 = 320 bytes; little-endian reading would ask for 0x4001. */
	static uint8_t buf[3 + 320] = { 0x10, 0x01, 0x40 };
	struct as_frame f;
	const char *why = NULL;

	assert_int_equal(as_parse(buf, sizeof(buf), MAX_MS, &f, &why), 323);
	assert_int_equal(f.len, 320);
}

static void test_incomplete_header_needs_more(void **state)
{
	(void)state;
	const uint8_t buf[2] = { 0x10, 0x01 };
	struct as_frame f;
	const char *why = NULL;

	assert_int_equal(as_parse(buf, 0, MAX_MS, &f, &why), 0);
	assert_int_equal(as_parse(buf, 1, MAX_MS, &f, &why), 0);
	assert_int_equal(as_parse(buf, 2, MAX_MS, &f, &why), 0);
}

static void test_incomplete_body_needs_more(void **state)
{
	(void)state;
	static uint8_t buf[3 + 320] = { 0x10, 0x01, 0x40 };
	uint8_t uuid[3 + AS_UUID_LEN] = { 0x01, 0x00, 0x10 };
	struct as_frame f;
	const char *why = NULL;

	assert_int_equal(as_parse(buf, 3, MAX_MS, &f, &why), 0);
	assert_int_equal(as_parse(buf, 322, MAX_MS, &f, &why), 0);
	assert_int_equal(as_parse(uuid, sizeof(uuid) - 1, MAX_MS, &f, &why), 0);
}

/*
 * A stream of frames, cut at every byte boundary and fed through a
 * reassembly buffer as a reader of a TCP socket would, gives the same
 * frames as parsing the whole stream at once.
 */
static size_t build_stream(uint8_t *out)
{
	uint8_t audio[320], audio16[640];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(audio); i++)
		audio[i] = (uint8_t)(i ^ 0x5a);
	for (size_t i = 0; i < sizeof(audio16); i++)
		audio16[i] = (uint8_t)(i * 3);
	n += as_encode(out + n, AS_UUID, uuid_bin, AS_UUID_LEN);
	n += as_encode(out + n, AS_AUDIO, audio, sizeof(audio));
	n += as_encode(out + n, AS_DTMF, "#", 1);
	n += as_encode(out + n, AS_AUDIO_16K, audio16, sizeof(audio16));
	n += as_encode(out + n, AS_HANGUP, NULL, 0);
	return n;
}

struct seen {
	uint8_t kind;
	uint16_t len;
	uint8_t payload[640];
};

/* Feeds stream in pieces of the given cuts; returns frames parsed. */
static int feed(const uint8_t *stream, size_t total, const size_t *cuts, size_t ncuts,
		struct seen *out, int max_out)
{
	static uint8_t rbuf[2048];
	size_t have = 0, pos = 0;
	int nf = 0;

	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : total;
		memcpy(rbuf + have, stream + pos, end - pos);
		have += end - pos;
		pos = end;
		for (;;) {
			struct as_frame f;
			const char *why = NULL;
			int n = as_parse(rbuf, have, MAX_MS, &f, &why);
			assert_true(n >= 0);
			if (n == 0)
				break;
			assert_true(nf < max_out);
			out[nf].kind = f.kind;
			out[nf].len = f.len;
			memcpy(out[nf].payload, f.payload, f.len);
			nf++;
			memmove(rbuf, rbuf + n, have - (size_t)n);
			have -= (size_t)n;
		}
	}
	assert_int_equal(have, 0);
	return nf;
}

static void test_frames_split_at_every_byte_parse_identically(void **state)
{
	(void)state;
	uint8_t stream[2048];
	size_t total = build_stream(stream);
	static struct seen whole[8], split[8];
	int nwhole = feed(stream, total, NULL, 0, whole, 8);

	assert_int_equal(nwhole, 5);
	/* One cut at every boundary... */
	for (size_t cut = 1; cut < total; cut++) {
		memset(split, 0, sizeof(split));
		assert_int_equal(feed(stream, total, &cut, 1, split, 8), nwhole);
		for (int i = 0; i < nwhole; i++) {
			assert_int_equal(split[i].kind, whole[i].kind);
			assert_int_equal(split[i].len, whole[i].len);
			assert_memory_equal(split[i].payload, whole[i].payload, whole[i].len);
		}
	}
	/* ...and one byte at a time. */
	static size_t cuts[2048];
	for (size_t i = 0; i + 1 < total; i++)
		cuts[i] = i + 1;
	memset(split, 0, sizeof(split));
	assert_int_equal(feed(stream, total, cuts, total - 1, split, 8), nwhole);
	for (int i = 0; i < nwhole; i++) {
		assert_int_equal(split[i].kind, whole[i].kind);
		assert_int_equal(split[i].len, whole[i].len);
		assert_memory_equal(split[i].payload, whole[i].payload, whole[i].len);
	}
}

static void test_several_frames_in_one_buffer_parse_in_order(void **state)
{
	(void)state;
	uint8_t stream[2048];
	size_t total = build_stream(stream), off = 0;
	static const uint8_t kinds[] = { AS_UUID, AS_AUDIO, AS_DTMF, AS_AUDIO_16K, AS_HANGUP };
	static const uint16_t lens[] = { 16, 320, 1, 640, 0 };

	for (int i = 0; i < 5; i++) {
		struct as_frame f;
		const char *why = NULL;
		int n = as_parse(stream + off, total - off, MAX_MS, &f, &why);

		assert_int_equal(n, 3 + lens[i]);
		assert_int_equal(f.kind, kinds[i]);
		assert_int_equal(f.len, lens[i]);
		assert_ptr_equal(f.payload, stream + off + 3);
		off += (size_t)n;
	}
	assert_int_equal(off, total);
}

static void test_unknown_kinds_are_refused(void **state)
{
	(void)state;
	static const uint8_t kinds[] = { 0x02, 0x04, 0x0f, 0x19, 0x20, 0x7f, 0xfe };

	for (size_t i = 0; i < sizeof(kinds); i++) {
		/* Header only: a kind that does not exist is refused at once. */
		const uint8_t hdr[3] = { kinds[i], 0x00, 0x02 };
		assert_refused(hdr, 3, MAX_MS);
		const uint8_t empty[3] = { kinds[i], 0x00, 0x00 };
		assert_refused(empty, 3, MAX_MS);
	}
}

static void test_uuid_frame_not_16_bytes_is_refused(void **state)
{
	(void)state;
	uint8_t buf[3 + 32] = { 0 };

	buf[0] = AS_UUID;
	for (unsigned len = 0; len <= 32; len++) {
		if (len == AS_UUID_LEN)
			continue;
		buf[1] = 0;
		buf[2] = (uint8_t)len;
		assert_refused(buf, 3, MAX_MS);			/* header alone */
		assert_refused(buf, 3 + len, MAX_MS);		/* whole frame */
	}
	const uint8_t text[3] = { AS_UUID, 0x00, 36 };	/* text form, not binary */
	assert_refused(text, 3, MAX_MS);
}

static void test_dtmf_frame_not_1_byte_is_refused(void **state)
{
	(void)state;
	const uint8_t none[3] = { AS_DTMF, 0x00, 0x00 };
	const uint8_t two[5] = { AS_DTMF, 0x00, 0x02, '1', '2' };

	assert_refused(none, 3, MAX_MS);
	assert_refused(two, 3, MAX_MS);
	assert_refused(two, 5, MAX_MS);
}

static void test_dtmf_digit_outside_0_9_star_hash_a_d_is_refused(void **state)
{
	(void)state;
	const char *valid = "0123456789*#ABCD";
	char accepted[256 * 5 + 1] = "";
	size_t used = 0;

	/* Every byte but the 16 digits, NUL included, must be refused. */
	for (int c = 0; c < 256; c++) {
		if (c && strchr(valid, c))
			continue;
		const uint8_t buf[4] = { AS_DTMF, 0x00, 0x01, (uint8_t)c };
		struct as_frame f;
		const char *why = NULL;
		int rc = as_parse(buf, 4, MAX_MS, &f, &why);
		if (rc != -EPROTO || !why)
			used += (size_t)snprintf(accepted + used, sizeof(accepted) - used,
						 " 0x%02x", c);
	}
	if (used)
		fail_msg("DTMF digits accepted:%s", accepted);
}

static void test_zero_length_audio_is_refused(void **state)
{
	(void)state;
	for (uint8_t kind = 0x10; kind <= 0x18; kind++) {
		const uint8_t buf[3] = { kind, 0x00, 0x00 };
		assert_refused(buf, 3, MAX_MS);
	}
}

static void test_odd_length_audio_is_refused(void **state)
{
	(void)state;
	static const uint16_t lens[] = { 1, 3, 319, 321 };

	for (uint8_t kind = 0x10; kind <= 0x18; kind++)
		for (size_t i = 0; i < 4; i++) {
			const uint8_t buf[3] = { kind, (uint8_t)(lens[i] >> 8), (uint8_t)lens[i] };
			assert_refused(buf, 3, MAX_MS);
		}
}

static void test_audio_longer_than_limit_is_refused_from_header_alone(void **state)
{
	(void)state;
	/* 65535 bytes announced, only the header present: no waiting for it. */
	const uint8_t huge[3] = { 0x10, 0xff, 0xff };
	assert_refused(huge, 3, MAX_MS);
	const uint8_t huge_even[3] = { 0x10, 0xff, 0xfe };
	assert_refused(huge_even, 3, MAX_MS);
}

static void test_audio_limit_is_exact_at_each_kind_rate(void **state)
{
	(void)state;
	static uint8_t buf[3 + 65535];

	for (uint8_t kind = 0x10; kind <= 0x18; kind++) {
		int ms = kind >= 0x17 ? 100 : MAX_MS;	/* keep under 65535 bytes */
		size_t limit = (size_t)as_kind_rate(kind) * 2 * (size_t)ms / 1000;
		struct as_frame f;
		const char *why = NULL;

		assert_true(limit + 2 <= AS_MAX_PAYLOAD);
		buf[0] = kind;
		buf[1] = (uint8_t)(limit >> 8);
		buf[2] = (uint8_t)limit;
		assert_int_equal(as_parse(buf, 3 + limit, ms, &f, &why), (int)(3 + limit));
		assert_int_equal(f.len, limit);
		buf[1] = (uint8_t)((limit + 2) >> 8);
		buf[2] = (uint8_t)(limit + 2);
		assert_refused(buf, 3, ms);
	}
	/* 320 bytes is 20 ms at 8 kHz but 10 ms at 16 kHz: a 10 ms limit splits them. */
	const uint8_t a8[3] = { 0x10, 0x01, 0x40 }, a16[3] = { 0x12, 0x01, 0x40 };
	struct as_frame f;
	const char *why = NULL;
	assert_refused(a8, 3, 10);
	assert_int_equal(as_parse(a16, 3, 10, &f, &why), 0);	/* valid, body awaited */
}

static void test_hangup_with_payload_is_refused(void **state)
{
	(void)state;
	const uint8_t one[4] = { AS_HANGUP, 0x00, 0x01, 0x00 };
	const uint8_t big[3] = { AS_HANGUP, 0x01, 0x00 };

	assert_refused(one, 3, MAX_MS);
	assert_refused(one, 4, MAX_MS);
	assert_refused(big, 3, MAX_MS);
}

static void test_encode_then_parse_round_trips(void **state)
{
	(void)state;
	static uint8_t payload[640], out[3 + 640];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(255 - i);
	size_t n = as_encode(out, AS_AUDIO_16K, payload, 640);
	assert_int_equal(n, 643);
	assert_int_equal(out[0], 0x12);
	assert_int_equal(out[1], 0x02);		/* 640 = 0x0280, big-endian */
	assert_int_equal(out[2], 0x80);
	assert_memory_equal(out + 3, payload, 640);

	struct as_frame f;
	const char *why = NULL;
	assert_int_equal(as_parse(out, n, MAX_MS, &f, &why), 643);
	assert_int_equal(f.kind, AS_AUDIO_16K);
	assert_int_equal(f.len, 640);
	assert_memory_equal(f.payload, payload, 640);

	uint8_t hang[3] = { 0xaa, 0xaa, 0xaa };
	assert_int_equal(as_encode(hang, AS_HANGUP, NULL, 0), 3);
	assert_int_equal(hang[0], 0);
	assert_int_equal(hang[1], 0);
	assert_int_equal(hang[2], 0);
	assert_int_equal(as_parse(hang, 3, MAX_MS, &f, &why), 3);
	assert_int_equal(f.kind, AS_HANGUP);
}

static void test_uuid_format_then_parse_round_trips(void **state)
{
	(void)state;
	char s[AS_UUID_STR_LEN + 1];
	uint8_t back[AS_UUID_LEN];

	memset(s, 'x', sizeof(s));
	as_uuid_format(uuid_bin, s);
	assert_string_equal(s, uuid_str);
	assert_int_equal(strlen(s), AS_UUID_STR_LEN);
	assert_int_equal(as_uuid_parse(s, back), 0);
	assert_memory_equal(back, uuid_bin, AS_UUID_LEN);

	/* Upper case is the same UUID. */
	memset(back, 0, sizeof(back));
	assert_int_equal(as_uuid_parse("4F2A9C01-BEEF-4A11-8000-DEADBEEFCAFE", back), 0);
	assert_memory_equal(back, uuid_bin, AS_UUID_LEN);

	/* Every byte value survives. */
	uint8_t all[AS_UUID_LEN];
	for (int base = 0; base < 256; base += AS_UUID_LEN) {
		for (int i = 0; i < AS_UUID_LEN; i++)
			all[i] = (uint8_t)(base + i);
		as_uuid_format(all, s);
		assert_int_equal(as_uuid_parse(s, back), 0);
		assert_memory_equal(back, all, AS_UUID_LEN);
	}
}

static void test_uuid_parse_refuses_malformed_strings(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",
		"4f2a9c01",
		"4f2a9c01-beef-4a11-8000-deadbeefcaf",		/* 35 characters */
		"4f2a9c01-beef-4a11-8000-deadbeefca",
		"4f2a9c01-beef-4a11-8000-",
		"4f2a9c01-beef-4a11-8000-deadbeefcafe0",	/* trailing junk */
		"4f2a9c01-beef-4a11-8000-deadbeefcafe ",
		"4f2a9c01-beef-4a11-8000-deadbeefcafe\n",
		"4f2a9c01-beef-4a11-8000-deadbeefcafg",		/* bad hex */
		"zf2a9c01-beef-4a11-8000-deadbeefcafe",
		"4f2a9c01-beef-4a11-8000-dead beefcaf",
		"4f2a9c01-be+f-4a11-8000-deadbeefcafe",
		"4f2a9c0-1beef-4a11-8000-deadbeefcafe",		/* misplaced dashes */
		"4f2a9c01b-eef-4a11-8000-deadbeefcafe",
		"4f2a9c01-beef4-a11-8000-deadbeefcafe",
		"4f2a9c01-beef-4a118-000-deadbeefcafe",
		"4f2a9c01-beef-4a11-80000deadbeefcafe-",
		"4f2a9c01beef4a118000deadbeefcafe",		/* no dashes */
		"4f2a9c01_beef_4a11_8000_deadbeefcafe",
		"{4f2a9c01-beef-4a11-8000-deadbeefcafe}",
		"\xc3\xa9" "f2a9c01-beef-4a11-8000-deadbeefcafe",	/* non-ASCII */
	};
	uint8_t out[AS_UUID_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (as_uuid_parse(bad[i], out) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_rate_kind_maps_rates_to_kinds(void **state)
{
	(void)state;
	assert_int_equal(as_rate_kind(8000), 0x10);
	assert_int_equal(as_rate_kind(16000), 0x12);
	assert_int_equal(as_rate_kind(44100), 0x15);
	assert_int_equal(as_rate_kind(192000), 0x18);
	assert_int_equal(as_rate_kind(11025), -1);
	assert_int_equal(as_rate_kind(0), -1);
	assert_int_equal(as_rate_kind(-8000), -1);
	for (uint8_t kind = 0x10; kind <= 0x18; kind++)
		assert_int_equal(as_rate_kind(as_kind_rate(kind)), kind);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_frame_parses_with_binary_payload),
		cmocka_unit_test(test_dtmf_frame_parses_every_valid_digit),
		cmocka_unit_test(test_hangup_frame_parses_as_three_bytes),
		cmocka_unit_test(test_audio_kinds_declare_their_rates),
		cmocka_unit_test(test_audio_frame_of_each_kind_parses_20ms),
		cmocka_unit_test(test_audio_length_is_big_endian),
		cmocka_unit_test(test_incomplete_header_needs_more),
		cmocka_unit_test(test_incomplete_body_needs_more),
		cmocka_unit_test(test_frames_split_at_every_byte_parse_identically),
		cmocka_unit_test(test_several_frames_in_one_buffer_parse_in_order),
		cmocka_unit_test(test_unknown_kinds_are_refused),
		cmocka_unit_test(test_uuid_frame_not_16_bytes_is_refused),
		cmocka_unit_test(test_dtmf_frame_not_1_byte_is_refused),
		cmocka_unit_test(test_dtmf_digit_outside_0_9_star_hash_a_d_is_refused),
		cmocka_unit_test(test_zero_length_audio_is_refused),
		cmocka_unit_test(test_odd_length_audio_is_refused),
		cmocka_unit_test(test_audio_longer_than_limit_is_refused_from_header_alone),
		cmocka_unit_test(test_audio_limit_is_exact_at_each_kind_rate),
		cmocka_unit_test(test_hangup_with_payload_is_refused),
		cmocka_unit_test(test_encode_then_parse_round_trips),
		cmocka_unit_test(test_uuid_format_then_parse_round_trips),
		cmocka_unit_test(test_uuid_parse_refuses_malformed_strings),
		cmocka_unit_test(test_rate_kind_maps_rates_to_kinds),
	};

	return cmocka_run_group_tests_name("audiosocket", tests, NULL, NULL);
}
