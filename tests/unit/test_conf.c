/*
 * test_conf.c - unit tests for common/conf.h.
 *
 * Protects: vagent.conf as operators write it: the defaults of an empty
 * file, one of each type; one error line naming the key and its line for
 * every bad value (unknown key, out-of-range or non-numeric number, bad bool, unknown
 * engine, bad listen address); IPv6 listen addresses; cross-key rules;
 * per-DID engines and the playback file they require; and what a reload
 * keeps from the running configuration.
 * Never: touches /etc; every file is a mkstemp() file under $TMPDIR or /tmp,
 * removed after each test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/conf.h"
#include "../../common/log.h"
#include "../../common/wav.h"

#define MAX_TMP 16

static char tmp_paths[MAX_TMP][PATH_MAX];
static int ntmp;

static bool engine_known(const char *name)
{
	return !strcmp(name, "echo") || !strcmp(name, "playback");
}

static const char *tmpdir(void)
{
	const char *d = getenv("TMPDIR");
	return d && d[0] == '/' ? d : "/tmp";	/* absolute: one test changes cwd */
}

/* A new empty temporary file, removed by cleanup(). */
static const char *tmp_file(void)
{
	assert_true(ntmp < MAX_TMP);
	char *p = tmp_paths[ntmp++];
	snprintf(p, PATH_MAX, "%s/vagent-test-conf-XXXXXX", tmpdir());
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	close(fd);
	return p;
}

static const char *write_conf(const char *text)
{
	const char *p = tmp_file();
	FILE *fp = fopen(p, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return p;
}

/* A mono 16-bit WAV of 100 ms at rate. */
static const char *write_mono_wav(int rate)
{
	const char *p = tmp_file();
	int16_t s[19200];
	size_t n = (size_t)rate / 10;

	assert_true(n <= 19200);
	for (size_t i = 0; i < n; i++)
		s[i] = (int16_t)(i * 100);
	assert_int_equal(wav_save(p, rate, s, n), 0);
	return p;
}

/* A stereo 16-bit PCM WAV, header written by hand. */
static const char *write_stereo_wav(void)
{
	const char *p = tmp_file();
	static const uint8_t h[44 + 8] = {
		'R', 'I', 'F', 'F', 44, 0, 0, 0, 'W', 'A', 'V', 'E',
		'f', 'm', 't', ' ', 16, 0, 0, 0,
		1, 0,			/* PCM */
		2, 0,			/* two channels */
		0x40, 0x1f, 0, 0,	/* 8000 Hz */
		0x00, 0x7d, 0, 0,	/* 32000 bytes/s */
		4, 0, 16, 0,		/* block align 4, 16-bit */
		'd', 'a', 't', 'a', 8, 0, 0, 0,
		1, 0, 2, 0, 3, 0, 4, 0,
	};
	FILE *fp = fopen(p, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(h, 1, sizeof(h), fp), sizeof(h));
	assert_int_equal(fclose(fp), 0);
	return p;
}

static int cleanup(void **state)
{
	(void)state;
	for (int i = 0; i < ntmp; i++)
		unlink(tmp_paths[i]);
	ntmp = 0;
	return 0;
}

static struct conf *load_ok(const char *text)
{
	struct conf *c = NULL;
	char err[1024] = "";
	const char *p = write_conf(text);
	int rc = conf_load(p, engine_known, &c, err, sizeof(err));

	if (rc != 0)
		fail_msg("conf_load failed (%d): %s\n--- file:\n%s", rc, err, text);
	assert_non_null(c);
	return c;
}

/*
 * Loads text, which must be refused; the error must contain each of the
 * given fragments (NULL-terminated list).
 */
static void load_bad(const char *text, ...)
{
	struct conf *c = (struct conf *)(uintptr_t)1;
	char err[1024] = "";
	const char *p = write_conf(text);
	int rc = conf_load(p, engine_known, &c, err, sizeof(err));
	va_list ap;

	if (rc == 0) {
		conf_free(c);
		fail_msg("accepted:\n%s", text);
	}
	assert_true(rc < 0);
	assert_null(c);
	va_start(ap, text);
	for (const char *frag; (frag = va_arg(ap, const char *));)
		if (!strstr(err, frag)) {
			va_end(ap);
			fail_msg("error \"%s\" does not contain \"%s\"", err, frag);
		}
	va_end(ap);
}

static void test_empty_file_gives_defaults(void **state)
{
	(void)state;
	struct conf *c = load_ok("");

	assert_string_equal(c->listen, "127.0.0.1:9099");
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 9099);
	assert_int_equal(c->max_calls, 50);
	assert_string_equal(c->engine, "echo");
	assert_true(c->min_spare <= c->max_calls);
	assert_true(c->max_spare >= c->min_spare);
	assert_true(c->run_dir[0] != '\0');
	assert_int_equal(c->ndids, 0);
	assert_string_equal(conf_engine_for(c, "442039962952"), "echo");
	conf_free(c);
}

/*
 * The defaults live in the key table as text and go through the file's
 * parser: one per type (and the long phrases, whose rows wrap) pins that
 * a default is read as the number, yes/no, level or string it says.
 */
static void test_defaults_of_each_type_are_the_documented_ones(void **state)
{
	(void)state;
	struct conf *c = load_ok("");

	/* whole numbers, durations among them (seconds and ms) */
	assert_int_equal(c->backlog, 511);
	assert_int_equal(c->min_spare, 4);
	assert_int_equal(c->max_spare, 16);
	assert_int_equal(c->extra_producers, 4);
	assert_int_equal(c->drain_timeout, 300);
	assert_int_equal(c->idle_timeout, 10);
	assert_int_equal(c->max_duration, 3600);
	assert_int_equal(c->api_max_body, 16384);
	assert_int_equal(c->llm_timeout_ms, 15000);
	assert_int_equal(c->writer_retry_max_ms, 5000);
	assert_int_equal(c->handoff_lifetime, 60);
	/* yes/no, both ways */
	assert_true(c->api_enabled);
	assert_false(c->realtime);
	assert_false(c->record);
	assert_false(c->syslog);
	assert_false(conf_record_for(c, "442039962952"));
	/* enumerations: a log level, and names checked at load */
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_string_equal(c->tts_provider, "cartesia");
	assert_string_equal(c->tw_mode, "stream");
	assert_false(c->tw_relay);
	assert_false(c->xi_booking_client);
	/* fractions */
	assert_true(c->llm_temperature == 0.4);
	assert_true(c->tts_xi_similarity == 0.85);
	assert_true(c->tts_xi_speed == 1.0);
	/* paths (absolute, not taken from the file's directory) and strings */
	assert_string_equal(c->run_dir, "/run/vagent");
	assert_string_equal(c->context_dir, "/var/spool/vagent");
	assert_string_equal(c->xi_ids_file, "/var/lib/vagent/elevenlabs.ids");
	assert_string_equal(c->db_user, "vagent");
	assert_string_equal(c->stt_keyterms, "postcode,plumber,electrician,callout");
	assert_string_equal(c->local_greeting,
			    "Hello, {{company_name}}, {{time_greeting}}. How can I help?");
	assert_string_equal(c->local_stt_down, "I'm sorry, I can't hear you properly right "
			    "now, so I'm passing your call back.");
	/* no default: empty, and what falls back to another key */
	assert_string_equal(c->user, "");
	assert_string_equal(c->tts_voice, "");
	assert_string_equal(c->overflow_engine, "");
	assert_string_equal(conf_handoff_dir(c), "/var/spool/vagent");
	/* a listen address's parsed halves */
	assert_string_equal(c->api_host, "127.0.0.1");
	assert_int_equal(c->api_port, 8089);
	conf_free(c);
}

static void test_values_set_in_file_are_used(void **state)
{
	(void)state;
	struct conf *c = load_ok(
		"; vagent.conf\n"
		"[vagentd]\n"
		"listen = 0.0.0.0:7000\n"
		"max_calls = 12\n"
		"min_spare = 2\n"
		"max_spare = 3\n"
		"syslog = yes\n"
		"[call]\n"
		"max_frame_ms = 40\n");

	assert_string_equal(c->listen, "0.0.0.0:7000");
	assert_string_equal(c->listen_host, "0.0.0.0");
	assert_int_equal(c->listen_port, 7000);
	assert_int_equal(c->max_calls, 12);
	assert_int_equal(c->min_spare, 2);
	assert_int_equal(c->max_spare, 3);
	assert_true(c->syslog);
	assert_int_equal(c->max_frame_ms, 40);
	conf_free(c);
}

/* The local agent's nudge and say-again lines were hard-coded: unset, they
 * are the words callers heard before they became keys. */
static void test_local_phrases_default_to_the_old_words_and_can_be_set(void **state)
{
	(void)state;
	struct conf *c = load_ok("");

	assert_string_equal(c->local_nudge, "Are you still there?");
	assert_string_equal(c->local_say_again, "Sorry, could you say that again?");
	conf_free(c);
	c = load_ok("[local]\n"
		    "nudge = Hello, are you on the line?\n"
		    "say_again = Pardon me, once more please?\n");
	assert_string_equal(c->local_nudge, "Hello, are you on the line?");
	assert_string_equal(c->local_say_again, "Pardon me, once more please?");
	assert_string_equal(c->local_goodbye, "Thanks for calling. Goodbye.");
	conf_free(c);
}

static void test_unknown_key_names_key_and_line(void **state)
{
	(void)state;
	load_bad("[vagentd]\n"
		 "max_calls = 10\n"
		 "max_cals = 10\n", "max_cals", ":3:", NULL);
	load_bad("[call]\nengine = echo\n\n[nosuch]\nkey = 1\n", "key", ":5:", NULL);
}

static void test_out_of_range_number_names_key_and_line(void **state)
{
	(void)state;
	load_bad("[vagentd]\nmax_calls = 0\n", "max_calls", ":2:", NULL);
	load_bad("[vagentd]\nmax_calls = 4097\n", "max_calls", ":2:", NULL);
	load_bad("[vagentd]\nmax_calls = -5\n", "max_calls", ":2:", NULL);
	load_bad("[vagentd]\n\nmax_calls = 99999999999999999999\n", "max_calls", ":3:", NULL);
	load_bad("[call]\nmax_frame_ms = 10\n", "max_frame_ms", ":2:", NULL);
	load_bad("[vagentd]\nbacklog = 65536\n", "backlog", ":2:", NULL);
}

static void test_non_number_names_key_and_line(void **state)
{
	(void)state;
	load_bad("[vagentd]\nmax_calls = many\n", "max_calls", ":2:", NULL);
	load_bad("[vagentd]\nmax_calls = 10x\n", "max_calls", ":2:", NULL);
	load_bad("[vagentd]\nmax_calls =\n", "max_calls", ":2:", NULL);
	load_bad("[call]\nidle_timeout = 1.5\n", "idle_timeout", ":2:", NULL);
}

/* strtod takes "nan" and "inf"; NaN passes every < and > range check. */
static void test_nan_and_inf_are_not_numbers_in_range(void **state)
{
	(void)state;
	load_bad("[llm]\ntemperature = nan\n", "temperature", ":2:", NULL);
	load_bad("[llm]\ntemperature = -nan\n", "temperature", ":2:", NULL);
	load_bad("[llm]\ntemperature = inf\n", "temperature", ":2:", NULL);
}

static void test_bad_bool_names_key_and_line(void **state)
{
	(void)state;
	load_bad("[vagentd]\nsyslog = maybe\n", "syslog", ":2:", NULL);

	struct conf *c = load_ok("[vagentd]\nsyslog = on\n");
	assert_true(c->syslog);
	conf_free(c);
	c = load_ok("[vagentd]\nsyslog = no\n");
	assert_false(c->syslog);
	conf_free(c);
}

static void test_unknown_engine_names_key_and_line(void **state)
{
	(void)state;
	load_bad("[call]\nengine = nosuch\n", "engine", ":2:", "nosuch", NULL);
	load_bad("[did:123]\nengine = nosuch\n", "engine", ":2:", NULL);
}

static void test_bad_listen_is_refused(void **state)
{
	(void)state;
	load_bad("[vagentd]\nlisten = nohost\n", "listen", ":2:", NULL);
	load_bad("[vagentd]\nlisten = 1.2.3.4:0\n", "listen", ":2:", NULL);
	load_bad("[vagentd]\nlisten = 1.2.3.4:99999\n", "listen", ":2:", NULL);
	load_bad("[vagentd]\nlisten = 1.2.3.4:\n", "listen", ":2:", NULL);
	load_bad("[vagentd]\nlisten = 1.2.3.4:80x\n", "listen", ":2:", NULL);
	load_bad("[vagentd]\nlisten = [::1\n", "listen", ":2:", NULL);
	load_bad("[vagentd]\nlisten = [::1]9099\n", "listen", ":2:", NULL);
}

static void test_ipv6_listen_parses_host_and_port(void **state)
{
	(void)state;
	struct conf *c = load_ok("[vagentd]\nlisten = [::1]:9099\n");

	assert_string_equal(c->listen_host, "::1");
	assert_int_equal(c->listen_port, 9099);
	assert_string_equal(c->listen, "[::1]:9099");
	conf_free(c);
}

static void test_min_spare_above_max_calls_is_refused(void **state)
{
	(void)state;
	load_bad("[vagentd]\nmax_calls = 2\nmin_spare = 3\nmax_spare = 4\n", "min_spare", NULL);

	struct conf *c = load_ok("[vagentd]\nmax_calls = 3\nmin_spare = 3\nmax_spare = 4\n");
	assert_int_equal(c->min_spare, 3);
	conf_free(c);
}

static void test_did_engine_overrides_default(void **state)
{
	(void)state;
	const char *wav = write_mono_wav(8000);
	char text[2 * PATH_MAX];

	snprintf(text, sizeof(text),
		 "[call]\nengine = echo\n"
		 "[playback]\nfile = %s\n"
		 "[did:442039962952]\nengine = playback\n", wav);
	struct conf *c = load_ok(text);

	assert_string_equal(conf_engine_for(c, "442039962952"), "playback");
	assert_string_equal(conf_engine_for(c, "442039962953"), "echo");
	assert_string_equal(conf_engine_for(c, "44203996295"), "echo");
	assert_string_equal(conf_engine_for(c, ""), "echo");
	assert_string_equal(conf_engine_for(c, NULL), "echo");
	/* The file the engine needs is loaded with the configuration. */
	assert_int_equal(c->playback.rate, 8000);
	assert_int_equal(c->playback.nsamples, 800);
	conf_free(c);
}

static void test_did_tts_overrides_the_provider(void **state)
{
	(void)state;
	struct conf *c = load_ok("[call]\nengine = echo\n[tts]\nprovider = elevenlabs\n"
				 "elevenlabs_chunk_length_schedule = 50, 120,160,250\n"
				 "[did:442071234567]\ntts = cartesia\nengine = echo\n"
				 "[did:443001234567]\nengine = echo\n"
				 "[did:441211234567]\ntts = cartesia\n");

	assert_int_equal(c->ndids, 3);	/* one entry per number, whatever its keys */
	assert_string_equal(conf_tts_for(c, "442071234567"), "cartesia");
	assert_string_equal(conf_tts_for(c, "443001234567"), "elevenlabs");
	assert_string_equal(conf_tts_for(c, NULL), "elevenlabs");
	assert_string_equal(conf_engine_for(c, "441211234567"), "echo");	/* [call]'s */
	assert_int_equal(c->tts_xi_schedule[0], 50);
	assert_int_equal(c->tts_xi_schedule[3], 250);
	conf_free(c);
	c = load_ok("");
	assert_string_equal(conf_tts_for(c, "442071234567"), "cartesia");
	assert_string_equal(c->tts_xi_format, "ulaw_8000");
	assert_int_equal(c->tts_xi_schedule[0], 0);		/* ElevenLabs' own default */
	conf_free(c);
	load_bad("[tts]\nprovider = polly\n", "[tts] provider", "polly", NULL);
	load_bad("[did:123]\ntts = polly\n", "[did:123] tts", ":2:", NULL);
	load_bad("[tts]\nelevenlabs_chunk_length_schedule = 10,20,30,40\n",
		 "elevenlabs_chunk_length_schedule", NULL);
	load_bad("[tts]\nelevenlabs_chunk_length_schedule = 120,160\n",
		 "elevenlabs_chunk_length_schedule", NULL);
	load_bad("[tts]\nelevenlabs_speed = 1.5\n", "elevenlabs_speed", NULL);
	load_bad("[tts]\nelevenlabs_output_format = mp3_44100_128\n",
		 "elevenlabs_output_format", NULL);
}

static void test_did_playback_without_file_is_refused(void **state)
{
	(void)state;
	load_bad("[did:442039962952]\nengine = playback\n", "[playback] file", NULL);
	load_bad("[call]\nengine = playback\n", "[playback] file", NULL);
}

static void test_playback_wav_stereo_or_missing_is_refused(void **state)
{
	(void)state;
	char text[2 * PATH_MAX];
	const char *stereo = write_stereo_wav();

	snprintf(text, sizeof(text),
		 "[playback]\nfile = %s\n[did:442039962952]\nengine = playback\n", stereo);
	load_bad(text, "[playback] file", "mono", NULL);

	char missing[PATH_MAX + 32];
	snprintf(missing, sizeof(missing), "%s/vagent-test-no-such-file.wav", tmpdir());
	unlink(missing);
	snprintf(text, sizeof(text), "[call]\nengine = playback\n[playback]\nfile = %s\n", missing);
	load_bad(text, "[playback] file", missing, NULL);
}

static void test_relative_playback_file_is_taken_from_conf_directory(void **state)
{
	(void)state;
	const char *wav = write_mono_wav(8000);
	const char *base = strrchr(wav, '/') + 1;
	char text[2 * PATH_MAX], want[PATH_MAX];

	/* The conf file is written beside the WAV; the test's cwd is elsewhere. */
	snprintf(text, sizeof(text), "[call]\nengine = playback\n[playback]\nfile = %s\n", base);
	snprintf(want, sizeof(want), "%s", wav);
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	struct conf *c = load_ok(text);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(c->playback_file, want);
	assert_int_equal(c->playback.nsamples, 800);
	conf_free(c);
}

static void test_playback_file_not_loaded_when_unused(void **state)
{
	(void)state;
	/* No engine plays it: a missing file is not an error yet. */
	struct conf *c = load_ok("[playback]\nfile = /nonexistent/vagent.wav\n");

	assert_null(c->playback.samples);
	conf_free(c);
}

static void test_missing_file_is_refused(void **state)
{
	(void)state;
	struct conf *c = NULL;
	char err[512] = "", path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/vagent-test-no-such.conf", tmpdir());
	unlink(path);
	assert_true(conf_load(path, engine_known, &c, err, sizeof(err)) < 0);
	assert_null(c);
	assert_non_null(strstr(err, path));
}

static void test_reload_keeps_restart_only_keys(void **state)
{
	(void)state;
	const char *wav = write_mono_wav(16000);
	char text[2 * PATH_MAX];
	char warn[1024];

	struct conf *old = load_ok("[vagentd]\nmax_calls = 50\nmin_spare = 4\n");
	snprintf(text, sizeof(text),
		 "[vagentd]\n"
		 "listen = [::1]:7000\n"
		 "run_dir = /tmp/vagent-elsewhere\n"
		 "max_calls = 20\n"
		 "min_spare = 2\n"
		 "[call]\nengine = playback\n"
		 "[playback]\nfile = %s\n", wav);
	struct conf *next = load_ok(text);

	memset(warn, 'x', sizeof(warn));
	assert_int_equal(conf_keep_restart_only(next, old, warn, sizeof(warn)), 3);
	assert_non_null(memchr(warn, '\0', sizeof(warn)));
	assert_non_null(strstr(warn, "listen"));
	assert_non_null(strstr(warn, "run_dir"));
	assert_non_null(strstr(warn, "max_calls"));

	/* Restart-only: as before the reload, parsed halves included. */
	assert_string_equal(next->listen, old->listen);
	assert_string_equal(next->listen_host, "127.0.0.1");
	assert_int_equal(next->listen_port, 9099);
	assert_string_equal(next->run_dir, old->run_dir);
	assert_int_equal(next->max_calls, 50);
	/* Reloadable: as in the new file. */
	assert_string_equal(next->engine, "playback");
	assert_int_equal(next->min_spare, 2);
	assert_int_equal(next->playback.rate, 16000);
	/* The old conf is not touched. */
	assert_int_equal(old->max_calls, 50);
	assert_string_equal(old->engine, "echo");
	conf_free(next);
	conf_free(old);
}

static void test_reload_of_same_file_changes_nothing(void **state)
{
	(void)state;
	static const char text[] = "[vagentd]\nlisten = 10.0.0.1:9100\nmax_calls = 7\n"
				   "min_spare = 1\nmax_spare = 2\n";
	struct conf *old = load_ok(text), *next = load_ok(text);
	char warn[256];

	memset(warn, 'x', sizeof(warn));
	assert_int_equal(conf_keep_restart_only(next, old, warn, sizeof(warn)), 0);
	assert_string_equal(warn, "");
	assert_string_equal(next->listen_host, "10.0.0.1");
	assert_int_equal(next->listen_port, 9100);
	assert_int_equal(next->max_calls, 7);
	conf_free(next);
	conf_free(old);
}

/* The api needs a key; these tests are about everything else. */
static int group_setup(void **state)
{
	(void)state;
	return setenv("VAGENT_API_KEY", "unit-test-key-0123456789", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_empty_file_gives_defaults, cleanup),
		cmocka_unit_test_teardown(test_defaults_of_each_type_are_the_documented_ones,
					  cleanup),
		cmocka_unit_test_teardown(test_values_set_in_file_are_used, cleanup),
		cmocka_unit_test_teardown(test_local_phrases_default_to_the_old_words_and_can_be_set,
					  cleanup),
		cmocka_unit_test_teardown(test_unknown_key_names_key_and_line, cleanup),
		cmocka_unit_test_teardown(test_out_of_range_number_names_key_and_line, cleanup),
		cmocka_unit_test_teardown(test_non_number_names_key_and_line, cleanup),
		cmocka_unit_test_teardown(test_nan_and_inf_are_not_numbers_in_range, cleanup),
		cmocka_unit_test_teardown(test_bad_bool_names_key_and_line, cleanup),
		cmocka_unit_test_teardown(test_unknown_engine_names_key_and_line, cleanup),
		cmocka_unit_test_teardown(test_bad_listen_is_refused, cleanup),
		cmocka_unit_test_teardown(test_ipv6_listen_parses_host_and_port, cleanup),
		cmocka_unit_test_teardown(test_min_spare_above_max_calls_is_refused, cleanup),
		cmocka_unit_test_teardown(test_did_engine_overrides_default, cleanup),
		cmocka_unit_test_teardown(test_did_tts_overrides_the_provider, cleanup),
		cmocka_unit_test_teardown(test_did_playback_without_file_is_refused, cleanup),
		cmocka_unit_test_teardown(test_playback_wav_stereo_or_missing_is_refused, cleanup),
		cmocka_unit_test_teardown(test_relative_playback_file_is_taken_from_conf_directory,
					  cleanup),
		cmocka_unit_test_teardown(test_playback_file_not_loaded_when_unused, cleanup),
		cmocka_unit_test_teardown(test_missing_file_is_refused, cleanup),
		cmocka_unit_test_teardown(test_reload_keeps_restart_only_keys, cleanup),
		cmocka_unit_test_teardown(test_reload_of_same_file_changes_nothing, cleanup),
	};

	return cmocka_run_group_tests_name("conf", tests, group_setup, NULL);
}
