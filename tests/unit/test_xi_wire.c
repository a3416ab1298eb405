/*
 * test_xi_wire.c - unit tests for worker/tts_xi_wire.h (ElevenLabs'
 * multi-context websocket: URL, messages, audio, reply chunks).
 *
 * Protects: the output format always matches the call's rate (no
 * resampling anywhere); the messages have the shapes of protocols.md 4.4;
 * only our context ids count, in either spelling; mu-law decodes to the
 * G.711 values, in place, at one sample per byte; chunks start early (a
 * clause or four words), end in exactly one space, and the reply's end
 * flushes everything.
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

#include "../../common/base64.h"
#include "../../worker/tts_xi_wire.h"

static void the_format_follows_the_call_rate(void **state)
{
	struct xi_format f;
	(void)state;

	assert_int_equal(xi_format_for("ulaw_8000", 8000, &f), 0);
	assert_string_equal(f.name, "ulaw_8000");
	assert_true(f.ulaw);
	assert_int_equal(f.rate, 8000);
	assert_int_equal(xi_format_for("ulaw_8000", 16000, &f), 0);
	assert_string_equal(f.name, "pcm_16000");
	assert_false(f.ulaw);
	assert_int_equal(f.rate, 16000);
	assert_int_equal(xi_format_for("pcm_16000", 8000, &f), 0);
	assert_string_equal(f.name, "pcm_8000");
	assert_int_equal(xi_format_for("pcm_8000", 8000, &f), 0);
	assert_string_equal(f.name, "pcm_8000");
	assert_false(f.ulaw);
	assert_int_equal(xi_format_for("mp3_44100_128", 8000, &f), -EINVAL);
	assert_int_equal(xi_format_for("pcm_8000x", 8000, &f), -EINVAL);
	assert_int_equal(xi_format_for("ulaw_16000", 16000, &f), -EINVAL);
	assert_int_equal(xi_format_for("pcm_16000", 12000, &f), -EINVAL);
}

static void the_url_names_voice_model_and_format(void **state)
{
	struct xi_format f = { "ulaw_8000", 8000, true };
	char url[300], tiny[20];
	(void)state;

	assert_int_equal(xi_url(url, sizeof(url), "wss://api.elevenlabs.io/", "VOICE",
				"eleven_flash_v2", &f), 0);
	assert_string_equal(url, "wss://api.elevenlabs.io/v1/text-to-speech/VOICE/"
			    "multi-stream-input?model_id=eleven_flash_v2&output_format=ulaw_8000"
			    "&inactivity_timeout=180");
	assert_int_equal(xi_url(tiny, sizeof(tiny), "wss://x", "v", "m", &f), -ENAMETOOLONG);
}

static void messages_have_the_documented_shapes(void **state)
{
	struct xi_voice v = { 0.4, 0.85, 1.0, { 120, 160, 250, 290 } };
	char *s;
	(void)state;

	s = xi_msg_init("ab-1", &v);
	assert_string_equal(s, "{\"text\":\" \",\"context_id\":\"ab-1\",\"voice_settings\":"
			    "{\"stability\":0.4,\"similarity_boost\":0.85,\"speed\":1.0},\"generation_config\":"
			    "{\"chunk_length_schedule\":[120,160,250,290]}}");
	free(s);
	v.schedule[0] = 0;
	s = xi_msg_init("ab-1", &v);
	assert_null(strstr(s, "generation_config"));
	free(s);
	s = xi_msg_text("ab-2", "Hello, \"you\". ", 14, false);
	assert_string_equal(s, "{\"text\":\"Hello, \\\"you\\\". \",\"context_id\":\"ab-2\"}");
	free(s);
	s = xi_msg_text("ab-2", "", 0, true);
	assert_string_equal(s, "{\"text\":\"\",\"context_id\":\"ab-2\",\"flush\":true}");
	free(s);
	s = xi_msg_close("ab-2");
	assert_string_equal(s, "{\"context_id\":\"ab-2\",\"close_context\":true}");
	free(s);
}

static int parse(struct xi_msg *m, const char *json)
{
	return xi_msg_parse(m, json, strlen(json), "5e1f0a2b");
}

static void messages_are_audio_final_or_error(void **state)
{
	struct xi_msg m;
	(void)state;

	assert_int_equal(parse(&m, "{\"audio\":\"AAEC\",\"isFinal\":false,\"contextId\":"
			       "\"5e1f0a2b-3\",\"normalizedAlignment\":null}"), 0);
	assert_int_equal(m.ctx, 3);
	assert_int_equal(m.audio_len, 4);
	assert_memory_equal(m.audio, "AAEC", 4);
	assert_false(m.final);
	assert_null(m.error);
	xi_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"isFinal\":true,\"contextId\":\"5e1f0a2b-4\"}"), 0);
	assert_int_equal(m.ctx, 4);
	assert_true(m.final);
	assert_null(m.audio);
	xi_msg_clear(&m);
	/* The other spelling, and audio null on the final. */
	assert_int_equal(parse(&m, "{\"audio\":null,\"is_final\":true,\"context_id\":"
			       "\"5e1f0a2b-5\"}"), 0);
	assert_int_equal(m.ctx, 5);
	assert_true(m.final);
	xi_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"isFinal\":true,\"contextId\":\"5e1f0a2c-5\"}"), 0);
	assert_int_equal(m.ctx, 0);	/* another call's */
	xi_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"message\":\"Have not received a new text input within "
			       "the timeout\",\"error\":\"input_timeout_exceeded\",\"code\":1008}"), 0);
	assert_string_equal(m.error, "Have not received a new text input within the timeout");
	xi_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"error\":\"quota_exceeded\",\"code\":1008}"), 0);
	assert_string_equal(m.error, "quota_exceeded");
	assert_true(xi_error_permanent(m.code));
	xi_msg_clear(&m);
	assert_false(xi_error_permanent("input_timeout_exceeded"));
	assert_false(xi_error_permanent(NULL));
	assert_int_equal(parse(&m, "{\"audio\":\"\",\"contextId\":\"5e1f0a2b-1\"}"), 0);
	assert_null(m.audio);
	assert_null(m.error);
	xi_msg_clear(&m);
	assert_int_equal(parse(&m, "[1]"), -EBADMSG);
	assert_null(m.root);
	assert_int_equal(parse(&m, "{\"audio\":"), -EBADMSG);
	xi_msg_clear(&m);
}

/* The G.711 formula, written independently of the table. */
static int16_t g711_ulaw(uint8_t u)
{
	int t;

	u = (uint8_t)~u;
	t = ((u & 0x0f) << 3) + 0x84;
	t <<= (u & 0x70) >> 4;
	return (int16_t)((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

static void mulaw_decodes_to_g711_linear(void **state)
{
	uint8_t all[256], out[XI_AUDIO_CAP(400)];
	char b64[400];
	(void)state;

	for (int i = 0; i < 256; i++) {
		all[i] = (uint8_t)i;
		assert_int_equal(xi_ulaw_linear((uint8_t)i), g711_ulaw((uint8_t)i));
	}
	assert_int_equal(xi_ulaw_linear(0xff), 0);
	assert_int_equal(xi_ulaw_linear(0x00), -32124);
	assert_int_equal(xi_ulaw_linear(0x80), 32124);
	size_t n = base64_encode(all, 256, b64);
	assert_int_equal(xi_audio_decode(b64, n, true, out, sizeof(out)), 512);
	for (int i = 0; i < 256; i++) {
		int16_t s = (int16_t)(uint16_t)(out[2 * i] | out[2 * i + 1] << 8);
		assert_int_equal(s, g711_ulaw((uint8_t)i));
	}
	/* PCM passes as it is, odd byte counts included. */
	n = base64_encode(all, 3, b64);
	assert_int_equal(xi_audio_decode(b64, n, false, out, sizeof(out)), 3);
	assert_memory_equal(out, all, 3);
	assert_int_equal(xi_audio_decode("!!!!", 4, true, out, sizeof(out)), -1);
	assert_int_equal(xi_audio_decode(b64, n, true, out, 3), -1);	/* cap too small */
}

/* Feeds tokens, collecting chunks as the provider would; returns "|"-joined
 * chunks, each with F when flushed. */
static void feed(struct xi_chunker *c, const char *const *tok, char *got, size_t cap)
{
	char out[XI_CHUNK_MAX + 2];
	bool flush;
	size_t n;

	got[0] = '\0';
	for (size_t i = 0;; i++) {
		bool end = !tok[i];
		if (!end)
			assert_int_equal(xi_chunker_add(c, tok[i], strlen(tok[i])), strlen(tok[i]));
		while ((n = xi_chunker_take(c, end, out, &flush)) > 0) {
			assert_int_equal(out[n - 1], ' ');
			assert_true(n == 1 || out[n - 2] != ' ');
			snprintf(got + strlen(got), cap - strlen(got), "%s[%s]%s",
				 got[0] ? "|" : "", out, flush ? "F" : "");
		}
		if (end)
			break;
	}
}

static void chunks_start_early_and_end_in_one_space(void **state)
{
	struct xi_chunker c;
	char got[2048];
	(void)state;

	/* A clause first: it goes at once, flushed. Then per clause, each
	 * flushed; the reply's end flushes the rest. */
	const char *a[] = { "Sure", ",", " I", " can", " help", " with", " that", ".", " What",
			    " is", " your", " postcode", ",", " please", "?", "  ", NULL };
	xi_chunker_reset(&c);
	feed(&c, a, got, sizeof(got));
	assert_string_equal(got, "[Sure, ]F|[I can help with that. ]F|"
			    "[What is your postcode, ]F|[please? ]F");
	/* No clause: the first four words go, the rest waits for a clause. */
	const char *b[] = { "I", " can", " get", " a", " plumber", " out", " to", " you",
			    " within", " the", " hour", ".", NULL };
	xi_chunker_reset(&c);
	feed(&c, b, got, sizeof(got));
	assert_string_equal(got, "[I can get a ]F|[plumber out to you within the hour. ]F");
	/* A decimal point is not a sentence end; trailing blanks are one space. */
	const char *d[] = { "It", "'s", " 48", ".50", " pounds", "\n\n", "Bye", NULL };
	xi_chunker_reset(&c);
	feed(&c, d, got, sizeof(got));
	assert_string_equal(got, "[It's 48.50 pounds ]F|[Bye ]F");
	/* A whole text at once (a greeting): the first clause alone, then the
	 * rest by clauses. */
	const char *g[] = { "Hello, George The Plumber, good afternoon. How can I help?", NULL };
	xi_chunker_reset(&c);
	feed(&c, g, got, sizeof(got));
	assert_string_equal(got, "[Hello, ]F|[George The Plumber, good afternoon. ]F|"
			    "[How can I help? ]F");
	const char *h[] = { "I can get a plumber out to you within the hour.", NULL };
	xi_chunker_reset(&c);
	feed(&c, h, got, sizeof(got));
	assert_string_equal(got, "[I can get a ]F|[plumber out to you within the hour. ]F");
	/* Only blanks: nothing to say. */
	const char *e[] = { " ", "\n", NULL };
	xi_chunker_reset(&c);
	feed(&c, e, got, sizeof(got));
	assert_string_equal(got, "");
}

static void a_run_without_a_clause_is_not_held_for_ever(void **state)
{
	static struct xi_chunker c;
	char out[XI_CHUNK_MAX + 2], word[] = "word ";
	bool flush;
	size_t taken = 0, n;
	(void)state;

	xi_chunker_reset(&c);
	c.started = true;
	while (xi_chunker_add(&c, word, 5) == 5)
		taken += 5;
	assert_int_equal(c.len, XI_CHUNK_MAX);
	n = xi_chunker_take(&c, false, out, &flush);
	assert_true(n > XI_CHUNK_MAX / 2);
	assert_int_equal(out[n - 1], ' ');
	assert_false(flush);
	assert_true(c.len < 5);
	assert_true(taken > 0);
}

/* A reply with no space (Japanese, Chinese) is cut between characters. */
static void a_run_without_spaces_is_cut_between_characters(void **state)
{
	static struct xi_chunker c;
	char out[XI_CHUNK_MAX + 2];
	const char day[] = "\xe6\x97\xa5";	/* one 3-byte character */
	bool flush;
	(void)state;

	xi_chunker_reset(&c);
	c.started = true;
	while (xi_chunker_add(&c, day, 3) == 3)
		;
	assert_int_equal(c.len, XI_CHUNK_MAX);	/* 341 characters and a byte */
	size_t n = xi_chunker_take(&c, false, out, &flush);
	assert_int_equal(n, 341 * 3 + 1);	/* and the space */
	assert_int_equal(c.len, 1);		/* the next chunk starts the character */
	char *msg = xi_msg_text("r-1", out, n, false);
	assert_non_null(msg);			/* a half character would be no JSON string */
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_format_follows_the_call_rate),
		cmocka_unit_test(the_url_names_voice_model_and_format),
		cmocka_unit_test(messages_have_the_documented_shapes),
		cmocka_unit_test(messages_are_audio_final_or_error),
		cmocka_unit_test(mulaw_decodes_to_g711_linear),
		cmocka_unit_test(chunks_start_early_and_end_in_one_space),
		cmocka_unit_test(a_run_without_a_clause_is_not_held_for_ever),
		cmocka_unit_test(a_run_without_spaces_is_cut_between_characters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
