/*
 * test_cart_wire.c - unit tests for worker/tts_cart_wire.h (Cartesia's
 * messages and the bytes of their audio).
 *
 * Protects: a message's kind and reply number; only our own context ids
 * count, read strictly ("<tag>-4294967297" is not reply 1); an error
 * always has a text; word timings only when words and times pair up;
 * audio decodes to its bytes, odd counts included (the split sample's
 * byte is kept by the playout: tests/unit/test_playout.c, issue item 4).
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

#include "../../worker/tts_cart_wire.h"
#include "../../worker/tts_wire.h"

static int parse(struct cart_msg *m, const char *json)
{
	return cart_msg_parse(m, json, strlen(json), "5e1f0a2b");
}

static void context_ids_are_ours_or_nothing(void **state)
{
	(void)state;
	assert_int_equal(tts_ctx_of("tag", "tag-1"), 1);
	assert_int_equal(tts_ctx_of("tag", "tag-4294967295"), 4294967295u);
	assert_int_equal(tts_ctx_of("tag", "tag-4294967296"), 0);
	assert_int_equal(tts_ctx_of("tag", "tag-4294967297"), 0);
	assert_int_equal(tts_ctx_of("tag", "tag-99999999999999999999999"), 0);
	assert_int_equal(tts_ctx_of("tag", "tag-"), 0);
	assert_int_equal(tts_ctx_of("tag", "tag-1x"), 0);
	assert_int_equal(tts_ctx_of("tag", "tag-+1"), 0);
	assert_int_equal(tts_ctx_of("tag", "tag- 1"), 0);
	assert_int_equal(tts_ctx_of("tag", "tag1"), 0);
	assert_int_equal(tts_ctx_of("tag", "other-1"), 0);
	assert_int_equal(tts_ctx_of("tag", "tagx-1"), 0);
	assert_int_equal(tts_ctx_of("tag", NULL), 0);
	char id[32];
	tts_ctx_id("tag", 4294967295u, id, sizeof(id));	/* what we send reads back */
	assert_int_equal(tts_ctx_of("tag", id), 4294967295u);
}

static void messages_have_a_kind_and_a_reply(void **state)
{
	struct cart_msg m;
	(void)state;

	assert_int_equal(parse(&m, "{\"type\":\"chunk\",\"context_id\":\"5e1f0a2b-3\","
			       "\"data\":\"AAEC\"}"), 0);
	assert_int_equal(m.kind, CART_CHUNK);
	assert_int_equal(m.ctx, 3);
	assert_int_equal(m.audio_len, 4);
	assert_memory_equal(m.audio, "AAEC", 4);
	cart_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"type\":\"done\",\"context_id\":\"5e1f0a2b-4\"}"), 0);
	assert_int_equal(m.kind, CART_DONE);
	assert_int_equal(m.ctx, 4);
	cart_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"type\":\"error\",\"error\":\"bad voice\"}"), 0);
	assert_int_equal(m.kind, CART_ERROR);
	assert_int_equal(m.ctx, 0);
	assert_string_equal(m.error, "bad voice");
	cart_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"type\":\"error\",\"error\":{\"x\":1}}"), 0);
	assert_string_equal(m.error, "error");
	cart_msg_clear(&m);
	/* A chunk without string data, or an unknown type: nothing to do. */
	assert_int_equal(parse(&m, "{\"type\":\"chunk\",\"context_id\":\"5e1f0a2b-3\","
			       "\"data\":null}"), 0);
	assert_int_equal(m.kind, CART_IGNORED);
	cart_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"type\":\"flush_done\"}"), 0);
	assert_int_equal(m.kind, CART_IGNORED);
	cart_msg_clear(&m);
	for (const char *bad = "", *list[] = { "", "x", "[]", "\"chunk\"", "{", NULL }, **p = list;
	     (bad = *p); p++) {
		assert_int_equal(parse(&m, bad), -EBADMSG);
		assert_int_equal(m.kind, CART_IGNORED);
		assert_null(m.root);
		cart_msg_clear(&m);
	}
}

static void word_timings_only_when_they_pair_up(void **state)
{
	const char *w[4];
	double e[4];
	struct cart_msg m;
	(void)state;

	parse(&m, "{\"type\":\"timestamps\",\"context_id\":\"5e1f0a2b-1\",\"word_timestamps\":"
		  "{\"words\":[\"Hello\",\"there\"],\"start\":[0,0.4],\"end\":[0.35,0.8]}}");
	assert_int_equal(m.kind, CART_TIMESTAMPS);
	assert_int_equal(cart_msg_words(&m, w, e, 4), 2);
	assert_string_equal(w[1], "there");
	assert_true(e[1] > 0.79 && e[1] < 0.81);
	assert_int_equal(cart_msg_words(&m, w, e, 1), 0);	/* more than max */
	cart_msg_clear(&m);
	static const char *const bad[] = {
		"{\"type\":\"timestamps\",\"word_timestamps\":{\"words\":[\"a\"],\"end\":[]}}",
		"{\"type\":\"timestamps\",\"word_timestamps\":{\"words\":[1],\"end\":[1]}}",
		"{\"type\":\"timestamps\",\"word_timestamps\":{\"words\":[\"a\"],\"end\":[\"1\"]}}",
		"{\"type\":\"timestamps\",\"word_timestamps\":[]}",
		"{\"type\":\"chunk\",\"data\":\"\",\"word_timestamps\":{\"words\":[\"a\"],"
		"\"end\":[1]}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(&m, bad[i]);
		assert_int_equal(cart_msg_words(&m, w, e, 4), 0);
		cart_msg_clear(&m);
	}
}

static void audio_decodes_to_bytes(void **state)
{
	uint8_t out[16];
	(void)state;

	assert_int_equal(cart_audio_decode("AAEC", 4, out, sizeof(out)), 3);
	assert_int_equal(cart_audio_decode("AA==", 4, out, sizeof(out)), 1);
	assert_int_equal(cart_audio_decode("A!EC", 4, out, sizeof(out)), -1);
	assert_int_equal(cart_audio_decode("AAECAAECAAECAAECAAEC", 20, out, 17), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(context_ids_are_ours_or_nothing),
		cmocka_unit_test(messages_have_a_kind_and_a_reply),
		cmocka_unit_test(word_timings_only_when_they_pair_up),
		cmocka_unit_test(audio_decodes_to_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
