/*
 * conf.c - vagent.conf via inih, table-driven.
 *
 * One table lists every key: section, name, type, where it lands in
 * struct conf, its range, and whether it needs a restart. Parsing,
 * validation and reload comparison all walk the same table, so a new key
 * is one line here plus its field.
 */
#include "conf.h"

#include <errno.h>
#include <math.h>
#include <ini.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* K_ENGINE_OPT: an engine's name or empty (none). */
enum ktype { K_INT, K_STR, K_PATH, K_BOOL, K_LEVEL, K_ENGINE, K_ENGINE_OPT, K_LISTEN, K_DOUBLE };

struct key {
	const char *section, *name;
	enum ktype type;
	size_t off, size;	/* size: buffer size for strings */
	int min, max;
	bool restart_only;
};

#define F(field) offsetof(struct conf, field), sizeof(((struct conf *)0)->field)

static const struct key keys[] = {
	{ "vagentd", "listen", K_LISTEN, F(listen), 0, 0, true },
	{ "vagentd", "backlog", K_INT, F(backlog), 1, 65535, true },
	{ "vagentd", "user", K_STR, F(user), 0, 0, true },
	{ "vagentd", "run_dir", K_PATH, F(run_dir), 0, 0, true },
	{ "vagentd", "max_calls", K_INT, F(max_calls), 1, 4096, true },
	{ "vagentd", "extra_producers", K_INT, F(extra_producers), 1, 256, true },
	{ "vagentd", "min_spare", K_INT, F(min_spare), 0, 4096, false },
	{ "vagentd", "max_spare", K_INT, F(max_spare), 1, 4096, false },
	{ "vagentd", "worker_max_use", K_INT, F(worker_max_use), 0, 1000000, false },
	{ "vagentd", "drain_timeout", K_INT, F(drain_timeout), 0, 86400, false },
	{ "vagentd", "watchdog", K_INT, F(watchdog), 2, 3600, false },
	{ "vagentd", "realtime", K_BOOL, F(realtime), 0, 0, true },
	{ "vagentd", "log_level", K_LEVEL, F(log_level), 0, 0, false },
	{ "vagentd", "log_file", K_PATH, F(log_file), 0, 0, false },
	{ "vagentd", "syslog", K_BOOL, F(syslog), 0, 0, false },
	{ "vagentd", "resolv_conf", K_PATH, F(resolv_conf), 0, 0, false },
	{ "call", "engine", K_ENGINE, F(engine), 0, 0, false },
	{ "call", "context_dir", K_PATH, F(context_dir), 0, 0, false },
	{ "call", "idle_timeout", K_INT, F(idle_timeout), 1, 3600, false },
	{ "call", "max_duration", K_INT, F(max_duration), 1, 86400, false },
	{ "call", "max_frame_ms", K_INT, F(max_frame_ms), 20, 1000, false },
	{ "call", "record", K_BOOL, F(record), 0, 0, false },
	{ "call", "recording_dir", K_PATH, F(recording_dir), 0, 0, false },
	{ "call", "recording_days", K_INT, F(recording_days), 1, 3650, false },
	{ "call", "overflow_engine", K_ENGINE_OPT, F(overflow_engine), 0, 0, false },
	{ "breaker", "failures", K_INT, F(breaker_failures), 1, 1000, false },
	{ "breaker", "window", K_INT, F(breaker_window), 1, 3600, false },
	{ "breaker", "cooldown", K_INT, F(breaker_cooldown), 1, 3600, false },
	{ "echo", "prebuffer_ms", K_INT, F(echo_prebuffer_ms), 0, 1000, false },
	{ "playback", "file", K_PATH, F(playback_file), 0, 0, false },
	{ "db", "host", K_STR, F(db_host), 0, 0, false },
	{ "db", "port", K_INT, F(db_port), 1, 65535, false },
	{ "db", "socket", K_PATH, F(db_socket), 0, 0, false },
	{ "db", "user", K_STR, F(db_user), 0, 0, false },
	{ "db", "password_file", K_PATH, F(db_password_file), 0, 0, false },
	{ "db", "database", K_STR, F(db_name), 0, 0, false },
	{ "db", "connect_timeout", K_INT, F(db_connect_timeout), 1, 300, false },
	{ "twilio", "listen", K_STR, F(twilio_listen), 0, 0, true },
	{ "api", "enabled", K_BOOL, F(api_enabled), 0, 0, true },
	{ "api", "listen", K_STR, F(api_listen), 0, 0, true },
	{ "api", "api_key_file", K_PATH, F(api_key_file), 0, 0, false },
	{ "api", "time_zone", K_STR, F(api_time_zone), 0, 0, false },
	{ "api", "max_body", K_INT, F(api_max_body), 256, 1 << 20, false },
	{ "api", "request_timeout", K_INT, F(api_request_timeout), 1, 300, false },
	{ "api", "journal_wait_ms", K_INT, F(api_journal_wait_ms), 10, 60000, false },
	{ "api", "commit_wait_ms", K_INT, F(api_commit_wait_ms), 0, 60000, false },
	{ "api", "did_refresh", K_INT, F(api_did_refresh), 5, 86400, false },
	{ "api", "repeat_days", K_INT, F(api_repeat_days), 1, 365, false },
	{ "api", "announce_dir", K_PATH, F(api_announce_dir), 0, 0, false },
	{ "stt", "url", K_STR, F(stt_url), 0, 0, false },
	{ "stt", "model", K_STR, F(stt_model), 0, 0, false },
	{ "stt", "language", K_STR, F(stt_language), 0, 0, false },
	{ "stt", "endpointing_ms", K_INT, F(stt_endpointing_ms), 10, 5000, false },
	{ "stt", "utterance_end_ms", K_INT, F(stt_utterance_end_ms), 1000, 5000, false },
	{ "stt", "batch_ms", K_INT, F(stt_batch_ms), 20, 500, false },
	{ "stt", "keyterms", K_STR, F(stt_keyterms), 0, 0, false },
	{ "stt", "api_key_file", K_PATH, F(stt_key_file), 0, 0, false },
	{ "llm", "url", K_STR, F(llm_url), 0, 0, false },
	{ "llm", "model", K_STR, F(llm_model), 0, 0, false },
	{ "llm", "temperature", K_DOUBLE, F(llm_temperature), 0, 2, false },
	{ "llm", "max_tokens", K_INT, F(llm_max_tokens), 16, 8192, false },
	{ "llm", "timeout_ms", K_INT, F(llm_timeout_ms), 500, 120000, false },
	{ "llm", "retries", K_INT, F(llm_retries), 0, 5, false },
	{ "llm", "api_key_file", K_PATH, F(llm_key_file), 0, 0, false },
	{ "tts", "url", K_STR, F(tts_url), 0, 0, false },
	{ "tts", "version", K_STR, F(tts_version), 0, 0, false },
	{ "tts", "model", K_STR, F(tts_model), 0, 0, false },
	{ "tts", "voice", K_STR, F(tts_voice), 0, 0, false },
	{ "tts", "language", K_STR, F(tts_language), 0, 0, false },
	{ "tts", "api_key_file", K_PATH, F(tts_key_file), 0, 0, false },
	{ "tts", "provider", K_STR, F(tts_provider), 0, 0, false },
	{ "tts", "elevenlabs_url", K_STR, F(tts_xi_url), 0, 0, false },
	{ "tts", "elevenlabs_model", K_STR, F(tts_xi_model), 0, 0, false },
	{ "tts", "elevenlabs_voice", K_STR, F(tts_xi_voice), 0, 0, false },
	{ "tts", "elevenlabs_output_format", K_STR, F(tts_xi_format), 0, 0, false },
	{ "tts", "elevenlabs_stability", K_DOUBLE, F(tts_xi_stability), 0, 1, false },
	{ "tts", "elevenlabs_similarity_boost", K_DOUBLE, F(tts_xi_similarity), 0, 1, false },
	{ "tts", "elevenlabs_speed", K_DOUBLE, F(tts_xi_speed), 0, 2, false },
	{ "tts", "elevenlabs_chunk_length_schedule", K_STR, F(tts_xi_schedule_text), 0, 0, false },
	{ "local", "prompt_file", K_PATH, F(local_prompt_file), 0, 0, false },
	{ "local", "greeting", K_STR, F(local_greeting), 0, 0, false },
	{ "local", "api_url", K_STR, F(local_api_url), 0, 0, false },
	{ "local", "apology", K_STR, F(local_apology), 0, 0, false },
	{ "local", "filler", K_STR, F(local_filler), 0, 0, false },
	{ "local", "goodbye", K_STR, F(local_goodbye), 0, 0, false },
	{ "local", "nudge", K_STR, F(local_nudge), 0, 0, false },
	{ "local", "say_again", K_STR, F(local_say_again), 0, 0, false },
	{ "local", "bargein_rms", K_INT, F(local_bargein_rms), 50, 32767, false },
	{ "local", "bargein_ms", K_INT, F(local_bargein_ms), 20, 3000, false },
	{ "local", "silence_timeout", K_INT, F(local_silence_timeout), 3, 600, false },
	{ "handoff", "dir", K_PATH, F(handoff_dir), 0, 0, false },
	{ "handoff", "lifetime", K_INT, F(handoff_lifetime), 1, 3600, false },
	{ "handoff", "goodbye", K_STR, F(handoff_goodbye), 0, 0, false },
	{ "local", "fallback_voice", K_STR, F(local_fallback_voice), 0, 0, false },
	{ "local", "stt_down", K_STR, F(local_stt_down), 0, 0, false },
	{ "elevenlabs", "url", K_STR, F(xi_url), 0, 0, false },
	{ "elevenlabs", "api_key_file", K_PATH, F(xi_key_file), 0, 0, false },
	{ "elevenlabs", "agent_name", K_STR, F(xi_agent_name), 0, 0, false },
	{ "elevenlabs", "voice", K_STR, F(xi_voice), 0, 0, false },
	{ "elevenlabs", "model", K_STR, F(xi_model), 0, 0, false },
	{ "elevenlabs", "llm", K_STR, F(xi_llm), 0, 0, false },
	{ "elevenlabs", "prompt_file", K_PATH, F(xi_prompt_file), 0, 0, false },
	{ "elevenlabs", "public_url", K_STR, F(xi_public_url), 0, 0, false },
	{ "elevenlabs", "ids_file", K_PATH, F(xi_ids_file), 0, 0, false },
	{ "elevenlabs", "agent_id", K_STR, F(xi_agent_id), 0, 0, false },
	{ "elevenlabs", "booking_tool", K_STR, F(xi_booking_tool), 0, 0, false },
	{ "twilio", "account_sid", K_STR, F(tw_account_sid), 0, 0, false },
	{ "twilio", "auth_token_file", K_PATH, F(tw_token_file), 0, 0, false },
	{ "twilio", "public_url", K_STR, F(tw_public_url), 0, 0, false },
	{ "twilio", "mode", K_STR, F(tw_mode), 0, 0, false },
	{ "twilio", "rest_url", K_STR, F(tw_rest_url), 0, 0, false },
	{ "twilio", "from", K_STR, F(tw_from), 0, 0, false },
	{ "twilio", "elevenlabs_phone_number_id", K_STR, F(tw_xi_phone_id), 0, 0, false },
	{ "twilio", "relay_language", K_STR, F(tw_relay_language), 0, 0, false },
	{ "twilio", "relay_tts_provider", K_STR, F(tw_relay_tts), 0, 0, false },
	{ "twilio", "relay_voice", K_STR, F(tw_relay_voice), 0, 0, false },
	{ "twilio", "relay_transcription_provider", K_STR, F(tw_relay_stt), 0, 0, false },
	{ "twilio", "handoff_number", K_STR, F(tw_handoff_number), 0, 0, false },
	{ "writer", "journal_dir", K_PATH, F(journal_dir), 0, 0, true },
	{ "writer", "batch_max", K_INT, F(writer_batch_max), 1, 100000, false },
	{ "writer", "retry_max_ms", K_INT, F(writer_retry_max_ms), 100, 600000, false },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct parse_state {
	struct conf *c;
	conf_engine_known_fn engine_known;
	char err[512];		/* first error, without the line number */
};

static void defaults(struct conf *c)
{
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:9099");
	c->backlog = 511;
	snprintf(c->run_dir, sizeof(c->run_dir), "/run/vagent");
	c->max_calls = 50;
	c->extra_producers = 4;
	c->min_spare = 4;
	c->max_spare = 16;
	c->worker_max_use = 1000;
	c->drain_timeout = 300;
	c->watchdog = 30;
	c->realtime = false;
	c->log_level = LOG_LVL_INFO;
	snprintf(c->resolv_conf, sizeof(c->resolv_conf), "/etc/resolv.conf");
	snprintf(c->engine, sizeof(c->engine), "echo");
	/*
	 * Shared with Asterisk only (vagent:asterisk 0770, made by make
	 * install): a world-writable /tmp lets anyone pick a caller's file,
	 * and Asterisk's own unit has a private /tmp anyway.
	 */
	snprintf(c->context_dir, sizeof(c->context_dir), "/var/spool/vagent");
	c->idle_timeout = 10;
	c->max_duration = 3600;
	c->max_frame_ms = 200;
	c->breaker_failures = 3;
	c->breaker_window = 30;
	c->breaker_cooldown = 30;
	c->echo_prebuffer_ms = 40;
	c->record = false;
	snprintf(c->recording_dir, sizeof(c->recording_dir), "/var/lib/vagent/recordings");
	c->recording_days = 30;
	snprintf(c->db_host, sizeof(c->db_host), "127.0.0.1");
	c->db_port = 3306;
	snprintf(c->db_user, sizeof(c->db_user), "vagent");
	snprintf(c->db_name, sizeof(c->db_name), "vagent");
	c->db_connect_timeout = 5;
	snprintf(c->journal_dir, sizeof(c->journal_dir), "/var/lib/vagent");
	c->writer_batch_max = 1000;
	c->writer_retry_max_ms = 5000;
	c->api_enabled = true;
	snprintf(c->api_listen, sizeof(c->api_listen), "127.0.0.1:8089");
	snprintf(c->api_time_zone, sizeof(c->api_time_zone), "Europe/London");
	c->api_max_body = 16384;
	c->api_request_timeout = 5;
	c->api_journal_wait_ms = 2000;
	c->api_commit_wait_ms = 300;
	c->api_did_refresh = 60;
	c->api_repeat_days = 7;
	snprintf(c->stt_url, sizeof(c->stt_url), "wss://api.deepgram.com/v1/listen");
	snprintf(c->stt_model, sizeof(c->stt_model), "nova-3");
	snprintf(c->stt_language, sizeof(c->stt_language), "en-GB");
	c->stt_endpointing_ms = 300;
	c->stt_utterance_end_ms = 1000;
	c->stt_batch_ms = 100;
	snprintf(c->stt_keyterms, sizeof(c->stt_keyterms), "postcode,plumber,electrician,callout");
	snprintf(c->llm_url, sizeof(c->llm_url), "https://api.groq.com/openai/v1");
	snprintf(c->llm_model, sizeof(c->llm_model), "llama-3.3-70b-versatile");
	c->llm_temperature = 0.4;
	c->llm_max_tokens = 300;
	c->llm_timeout_ms = 15000;
	c->llm_retries = 2;
	snprintf(c->tts_url, sizeof(c->tts_url), "wss://api.cartesia.ai/tts/websocket");
	snprintf(c->tts_version, sizeof(c->tts_version), "2025-04-16");
	snprintf(c->tts_model, sizeof(c->tts_model), "sonic-3");
	snprintf(c->tts_language, sizeof(c->tts_language), "en");
	snprintf(c->tts_provider, sizeof(c->tts_provider), "cartesia");
	snprintf(c->tts_xi_url, sizeof(c->tts_xi_url), "wss://api.elevenlabs.io");
	snprintf(c->tts_xi_model, sizeof(c->tts_xi_model), "eleven_flash_v2");
	snprintf(c->tts_xi_format, sizeof(c->tts_xi_format), "ulaw_8000");
	c->tts_xi_stability = 0.4;
	c->tts_xi_similarity = 0.85;
	c->tts_xi_speed = 1.0;
	snprintf(c->local_prompt_file, sizeof(c->local_prompt_file), "/etc/vagent/prompts/local.md");
	snprintf(c->local_greeting, sizeof(c->local_greeting),
		 "Hello, {{company_name}}, {{time_greeting}}. How can I help?");
	snprintf(c->local_api_url, sizeof(c->local_api_url), "http://127.0.0.1:8089");
	snprintf(c->local_apology, sizeof(c->local_apology), "Sorry, bear with me one moment.");
	snprintf(c->local_filler, sizeof(c->local_filler), "One moment.");
	snprintf(c->local_goodbye, sizeof(c->local_goodbye), "Thanks for calling. Goodbye.");
	snprintf(c->local_nudge, sizeof(c->local_nudge), "Are you still there?");
	snprintf(c->local_say_again, sizeof(c->local_say_again), "Sorry, could you say that again?");
	c->local_bargein_rms = 800;
	c->local_bargein_ms = 300;
	c->local_silence_timeout = 15;
	c->handoff_lifetime = 60;
	snprintf(c->handoff_goodbye, sizeof(c->handoff_goodbye),
		 "Putting you through to someone now.");
	snprintf(c->local_fallback_voice, sizeof(c->local_fallback_voice), "en-gb");
	snprintf(c->local_stt_down, sizeof(c->local_stt_down), "I'm sorry, I can't hear you "
		 "properly right now, so I'm passing your call back.");
	snprintf(c->xi_url, sizeof(c->xi_url), "https://api.elevenlabs.io");
	snprintf(c->xi_agent_name, sizeof(c->xi_agent_name), "vagent");
	snprintf(c->xi_voice, sizeof(c->xi_voice), "JBFqnCBsd6RMkjVDRZzb");
	snprintf(c->xi_model, sizeof(c->xi_model), "eleven_flash_v2_5");
	snprintf(c->xi_llm, sizeof(c->xi_llm), "gpt-4o");
	snprintf(c->xi_prompt_file, sizeof(c->xi_prompt_file), "/etc/vagent/prompts/cloud.md");
	snprintf(c->xi_ids_file, sizeof(c->xi_ids_file), "/var/lib/vagent/elevenlabs.ids");
	snprintf(c->api_announce_dir, sizeof(c->api_announce_dir), "/var/lib/vagent/announce");
	snprintf(c->tw_mode, sizeof(c->tw_mode), "stream");
	snprintf(c->tw_rest_url, sizeof(c->tw_rest_url), "https://api.twilio.com");
	snprintf(c->tw_relay_language, sizeof(c->tw_relay_language), "en-GB");
	snprintf(c->tw_relay_tts, sizeof(c->tw_relay_tts), "ElevenLabs");
	snprintf(c->tw_relay_stt, sizeof(c->tw_relay_stt), "Deepgram");
}

/* Splits "host:port", "[v6]:port" or ":port"/"port" (all addresses). */
static int split_listen(const char *v, char *host, size_t hostlen, int *port_out)
{
	const char *colon;
	char *end;

	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - v - 1) >= hostlen)
			return -EINVAL;
		snprintf(host, hostlen, "%.*s", (int)(rb - v - 1), v + 1);
		colon = rb + 1;
	} else if ((colon = strrchr(v, ':'))) {
		if ((size_t)(colon - v) >= hostlen)
			return -EINVAL;
		snprintf(host, hostlen, "%.*s", (int)(colon - v), v);
	} else {
		host[0] = '\0';
		colon = v - 1;
	}
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	*port_out = (int)port;
	return 0;
}

static int parse_listen(struct conf *c, const char *v)
{
	return split_listen(v, c->listen_host, sizeof(c->listen_host), &c->listen_port);
}

static bool valid_did(const char *s)
{
	if (!*s || strlen(s) >= CONF_DID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '+'))
			return false;
	return true;
}

/*
 * Relative paths are taken from the configuration file's directory, so
 * vagentd and vagentctl agree whatever directory each was started in, and
 * a daemon that chdir'd to / still finds its log file when it reopens it.
 */
static int set_path(struct parse_state *ps, const struct key *k, char *field, const char *v)
{
	char base[PATH_MAX];
	const char *slash = strrchr(ps->c->path, '/');
	int n;

	memset(field, 0, k->size);
	if (!*v || v[0] == '/') {
		n = snprintf(field, k->size, "%s", v);
	} else {
		if (ps->c->path[0] == '/')
			snprintf(base, sizeof(base), "%.*s", (int)(slash - ps->c->path), ps->c->path);
		else if (!getcwd(base, sizeof(base)))
			base[0] = '\0';
		else if (slash)
			snprintf(base + strlen(base), sizeof(base) - strlen(base), "/%.*s",
				 (int)(slash - ps->c->path), ps->c->path);
		n = snprintf(field, k->size, "%s/%s", base, v);
	}
	if (n < 0 || (size_t)n >= k->size) {
		snprintf(ps->err, sizeof(ps->err), "path too long");
		return -EINVAL;
	}
	return 0;
}

static int set_key(struct parse_state *ps, const struct key *k, const char *v)
{
	char *field = (char *)ps->c + k->off, *end;

	switch (k->type) {
	case K_INT: {
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < k->min || n > k->max) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not a whole number from %d to %d",
				 v, k->min, k->max);
			return -EINVAL;
		}
		*(int *)field = (int)n;
		return 0;
	}
	case K_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
			*(bool *)field = true;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
			*(bool *)field = false;
		else {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not yes or no", v);
			return -EINVAL;
		}
		return 0;
	case K_LEVEL: {
		int lvl = log_level_parse(v);
		if (lvl < 0) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not error, warn, info or debug", v);
			return -EINVAL;
		}
		*(int *)field = lvl;
		return 0;
	}
	case K_ENGINE_OPT:
		if (!*v)
			break;
		/* fall through */
	case K_ENGINE:
		if (!ps->engine_known(v)) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not a known engine", v);
			return -EINVAL;
		}
		break;
	case K_LISTEN:
		if (parse_listen(ps->c, v) < 0) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not host:port", v);
			return -EINVAL;
		}
		break;
	case K_DOUBLE: {
		double d = strtod(v, &end);
		/* NaN would pass both comparisons; inf is no setting either. */
		if (!*v || *end || !isfinite(d) || d < k->min || d > k->max) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not a number from %d to %d",
				 v, k->min, k->max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	}
	case K_STR:
		break;
	case K_PATH:
		return set_path(ps, k, field, v);
	}
	if (strlen(v) >= k->size) {
		snprintf(ps->err, sizeof(ps->err), "value longer than %zu characters", k->size - 1);
		return -EINVAL;
	}
	/* Zero the whole buffer: reload compares fields byte for byte. */
	memset(field, 0, k->size);
	memcpy(field, v, strlen(v) + 1);
	return 0;
}

static bool tts_known(const char *name)
{
	return !strcmp(name, "cartesia") || !strcmp(name, "elevenlabs");
}

/* The [did:NUMBER] entry, made on its first key. NULL without memory. */
static struct conf_did *did_entry(struct conf *c, const char *did)
{
	for (size_t i = 0; i < c->ndids; i++)
		if (!strcmp(c->dids[i].did, did))
			return &c->dids[i];
	struct conf_did *d = realloc(c->dids, (c->ndids + 1) * sizeof(*d));
	if (!d)
		return NULL;
	c->dids = d;
	d += c->ndids++;
	memset(d, 0, sizeof(*d));
	snprintf(d->did, CONF_DID_LEN, "%s", did);
	d->record = -1;
	return d;
}

static int did_key(struct parse_state *ps, const char *did, const char *name, const char *v)
{
	struct conf_did *d;

	if (!valid_did(did)) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s]: a DID is digits and '+' only", did);
		return -EINVAL;
	}
	if (strcmp(name, "engine") != 0 && strcmp(name, "tts") != 0 &&
	    strcmp(name, "record") != 0 && strcmp(name, "handoff_number") != 0) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s] %s: unknown key", did, name);
		return -EINVAL;
	}
	if (!strcmp(name, "engine") && (!ps->engine_known(v) || strlen(v) >= CONF_ENGINE_LEN)) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s] engine: '%s' is not a known engine",
			 did, v);
		return -EINVAL;
	}
	if (!strcmp(name, "handoff_number") && (!valid_did(v) || v[0] != '+')) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s] handoff_number: '%s' is not a "
			 "+E.164 number", did, v);
		return -EINVAL;
	}
	if (!strcmp(name, "tts") && !tts_known(v)) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s] tts: '%s' is not cartesia or "
			 "elevenlabs", did, v);
		return -EINVAL;
	}
	bool yes = !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on");
	bool no = !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off");
	if (!strcmp(name, "record") && !yes && !no) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s] record: '%s' is not yes or no", did, v);
		return -EINVAL;
	}
	if (!(d = did_entry(ps->c, did))) {
		snprintf(ps->err, sizeof(ps->err), "out of memory");
		return -ENOMEM;
	}
	if (!strcmp(name, "engine"))
		snprintf(d->engine, CONF_ENGINE_LEN, "%s", v);
	else if (!strcmp(name, "tts"))
		snprintf(d->tts, CONF_TTS_LEN, "%s", v);
	else if (!strcmp(name, "handoff_number"))
		snprintf(d->handoff_number, CONF_DID_LEN, "%s", v);
	else
		d->record = yes;
	return 0;
}

static int tool_key(struct parse_state *ps, const char *name, const char *key, const char *v)
{
	struct conf *c = ps->c;
	struct conf_tool *t = NULL;

	for (size_t i = 0; i < c->ntools; i++)
		if (!strcmp(c->tools[i].name, name))
			t = &c->tools[i];
	if (!t) {
		size_t n = strlen(name);
		bool ok = n >= 1 && n <= 64;
		for (const char *p = name; *p && ok; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
		if (!ok || !strcmp(name, "create_booking") || !strcmp(name, "end_call")) {
			snprintf(ps->err, sizeof(ps->err), "[tool:%s]: a tool name is 1-64 of "
				 "[A-Za-z0-9_-], and not a built-in tool", name);
			return -EINVAL;
		}
		struct conf_tool *p = realloc(c->tools, (c->ntools + 1) * sizeof(*p));
		if (!p) {
			snprintf(ps->err, sizeof(ps->err), "out of memory");
			return -ENOMEM;
		}
		c->tools = p;
		t = &c->tools[c->ntools++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", name);
		snprintf(t->method, sizeof(t->method), "POST");
		snprintf(t->parameters, sizeof(t->parameters), "{\"type\":\"object\",\"properties\":{}}");
		t->timeout_ms = 3000;
	}
	struct { const char *k; char *dst; size_t len; } f[] = {
		{ "description", t->description, sizeof(t->description) },
		{ "parameters", t->parameters, sizeof(t->parameters) },
		{ "url", t->url, sizeof(t->url) },
		{ "method", t->method, sizeof(t->method) },
		{ "headers", t->headers, sizeof(t->headers) },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(key, f[i].k))
			continue;
		if (strlen(v) >= f[i].len) {
			snprintf(ps->err, sizeof(ps->err), "[tool:%s] %s: longer than %zu characters",
				 name, key, f[i].len - 1);
			return -EINVAL;
		}
		snprintf(f[i].dst, f[i].len, "%s", v);
		return 0;
	}
	if (!strcmp(key, "timeout_ms")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 50 || n > 60000) {
			snprintf(ps->err, sizeof(ps->err), "[tool:%s] timeout_ms: 50 to 60000", name);
			return -EINVAL;
		}
		t->timeout_ms = (int)n;
		return 0;
	}
	snprintf(ps->err, sizeof(ps->err), "[tool:%s] %s: unknown key", name, key);
	return -EINVAL;
}

/* inih handler: nonzero to go on. The first error is kept; inih gives its line. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *ps = user;

	if (ps->err[0])
		return 0;
	if (!strncmp(section, "did:", 4))
		return did_key(ps, section + 4, name, value) == 0;
	if (!strncmp(section, "tool:", 5))
		return tool_key(ps, section + 5, name, value) == 0;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) || strcmp(keys[i].name, name))
			continue;
		if (set_key(ps, &keys[i], value) < 0) {
			char why[sizeof(ps->err)];
			snprintf(why, sizeof(why), "%s", ps->err);
			snprintf(ps->err, sizeof(ps->err), "[%.64s] %.64s: %.300s", section, name, why);
			return 0;
		}
		return 1;
	}
	snprintf(ps->err, sizeof(ps->err), "[%s] %s: unknown key", section, name);
	return 0;
}

static bool engine_used(const struct conf *c, const char *engine)
{
	if (!strcmp(c->engine, engine) || !strcmp(c->overflow_engine, engine))
		return true;
	for (size_t i = 0; i < c->ndids; i++)
		if (!strcmp(c->dids[i].engine, engine))
			return true;
	return false;
}

const char *conf_handoff_dir(const struct conf *c)
{
	return c->handoff_dir[0] ? c->handoff_dir : c->context_dir;
}

int conf_check(const struct conf *c, char *err, size_t errlen)
{
	if (c->min_spare > c->max_calls) {
		snprintf(err, errlen, "%s: [vagentd] min_spare: %d is more than max_calls %d",
			 c->path, c->min_spare, c->max_calls);
		return -EINVAL;
	}
	if (c->max_spare < c->min_spare) {
		snprintf(err, errlen, "%s: [vagentd] max_spare: %d is less than min_spare %d",
			 c->path, c->max_spare, c->min_spare);
		return -EINVAL;
	}
	if (!c->run_dir[0]) {
		snprintf(err, errlen, "%s: [vagentd] run_dir: must not be empty", c->path);
		return -EINVAL;
	}
	return 0;
}

/*
 * Secrets live on their own pages, marked MADV_DONTDUMP, so a worker's core
 * dump never carries an API key; they are wiped before the pages go back.
 */
static struct conf_secrets *secrets_new(void)
{
	size_t len = (sizeof(struct conf_secrets) + 4095) & ~(size_t)4095;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_DONTDUMP);
	return p;
}

static void secrets_free(struct conf_secrets *s)
{
	size_t len = (sizeof(struct conf_secrets) + 4095) & ~(size_t)4095;

	if (!s)
		return;
	explicit_bzero(s, sizeof(*s));
	munmap(s, len);
}

/* First line of a key file (not readable by others), else the environment. */
static int load_secret(const char *file, const char *env, char *out, size_t len,
		       const char *what, char *err, size_t errlen)
{
	struct stat st;

	out[0] = '\0';
	if (!file[0]) {
		const char *v = getenv(env);
		if (v && strlen(v) < len)
			memcpy(out, v, strlen(v) + 1);
		return 0;
	}
	FILE *fp = fopen(file, "r");
	if (!fp || fstat(fileno(fp), &st) < 0) {
		snprintf(err, errlen, "%s: %s: %s", what, file, strerror(errno));
		if (fp)
			fclose(fp);
		return -EACCES;
	}
	if (st.st_mode & 007) {
		fclose(fp);
		snprintf(err, errlen, "%s: %s is readable by others (chmod 0640)", what, file);
		return -EACCES;
	}
	if (!fgets(out, (int)len, fp))
		out[0] = '\0';
	fclose(fp);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

int conf_read_secret(const char *file, const char *env, char *out, size_t len,
		     const char *what, char *err, size_t errlen)
{
	return load_secret(file, env, out, len, what, err, errlen);
}

static int validate_api(struct conf *c, char *err, size_t errlen)
{
	char zone[PATH_MAX];

	if (split_listen(c->api_listen, c->api_host, sizeof(c->api_host), &c->api_port) < 0) {
		snprintf(err, errlen, "%s: [api] listen: '%s' is not host:port", c->path,
			 c->api_listen);
		return -EINVAL;
	}
	snprintf(zone, sizeof(zone), "/usr/share/zoneinfo/%s", c->api_time_zone);
	if (strstr(c->api_time_zone, "..") || access(zone, R_OK) < 0) {
		snprintf(err, errlen, "%s: [api] time_zone: '%s' is not a known time zone",
			 c->path, c->api_time_zone);
		return -EINVAL;
	}
	char why[PATH_MAX + 128];
	if (load_secret(c->api_key_file, "VAGENT_API_KEY", c->secrets->api_key,
			sizeof(c->secrets->api_key), "[api] api_key_file", why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", c->path, why);
		return -EACCES;
	}
	if (c->api_enabled && strlen(c->secrets->api_key) < 16) {
		snprintf(err, errlen, "%s: [api] api_key_file: an API key of at least 16 "
			 "characters is required (or VAGENT_API_KEY, or enabled = no)", c->path);
		return -EINVAL;
	}
	return 0;
}

/* [twilio]: the listener's address, and the token that signs upgrades. */

static bool tts_used(const struct conf *c, const char *provider)
{
	if (!strcmp(c->tts_provider, provider))
		return true;
	for (size_t i = 0; i < c->ndids; i++)
		if (!strcmp(c->dids[i].tts, provider))
			return true;
	return false;
}

/* [tts] provider and ElevenLabs' settings that one key's range cannot say. */
static int validate_tts(struct conf *c, char *err, size_t errlen)
{
	static const char *const formats[] = { "ulaw_8000", "pcm_8000", "pcm_16000",
					       "pcm_22050", "pcm_24000", "pcm_44100" };
	int *s = c->tts_xi_schedule;
	bool format_ok = false;
	char tail;

	if (!tts_known(c->tts_provider)) {
		snprintf(err, errlen, "%s: [tts] provider: '%s' is not cartesia or elevenlabs",
			 c->path, c->tts_provider);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		format_ok |= !strcmp(c->tts_xi_format, formats[i]);
	if (!format_ok || c->tts_xi_speed < 0.7 || c->tts_xi_speed > 1.2) {
		snprintf(err, errlen, "%s: [tts] %s", c->path, !format_ok ?
			 "elevenlabs_output_format: ulaw_8000 or pcm_RATE (8000, 16000, 22050, "
			 "24000, 44100)" : "elevenlabs_speed: from 0.7 to 1.2");
		return -EINVAL;
	}
	memset(c->tts_xi_schedule, 0, sizeof(c->tts_xi_schedule));
	if (c->tts_xi_schedule_text[0] &&
	    (sscanf(c->tts_xi_schedule_text, "%d , %d , %d , %d %c", &s[0], &s[1], &s[2], &s[3],
		    &tail) != 4 || s[0] < 50 || s[0] > 500 || s[1] < 50 || s[1] > 500 ||
	     s[2] < 50 || s[2] > 500 || s[3] < 50 || s[3] > 500)) {
		snprintf(err, errlen, "%s: [tts] elevenlabs_chunk_length_schedule: four numbers "
			 "from 50 to 500, e.g. 120,160,250,290", c->path);
		return -EINVAL;
	}
	return 0;
}

/* The local engine's files and keys, when some call may use it. */
static int validate_local(struct conf *c, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	struct { const char *file, *env; char *out; const char *what; } secret[] = {
		{ c->stt_key_file, "VAGENT_STT_API_KEY", c->secrets->stt_key, "[stt] api_key_file" },
		{ c->llm_key_file, "VAGENT_LLM_API_KEY", c->secrets->llm_key, "[llm] api_key_file" },
		{ c->tts_key_file, "VAGENT_TTS_API_KEY", c->secrets->tts_key, "[tts] api_key_file" },
		{ c->xi_key_file, "VAGENT_ELEVENLABS_API_KEY", c->secrets->xi_key,
		  "[elevenlabs] api_key_file" },
	};

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		if (load_secret(secret[i].file, secret[i].env, secret[i].out, 256, secret[i].what,
				why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", c->path, why);
			return -EACCES;
		}
	if (!engine_used(c, "local"))
		return 0;
	if (tts_used(c, "cartesia") && !c->tts_voice[0]) {
		snprintf(err, errlen, "%s: [tts] voice: required by the local engine", c->path);
		return -EINVAL;
	}
	if (tts_used(c, "elevenlabs") && !c->tts_xi_voice[0]) {
		snprintf(err, errlen, "%s: [tts] elevenlabs_voice: required when a call may use "
			 "ElevenLabs", c->path);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->ntools; i++) {
		json_error_t je;
		json_t *j = json_loads(c->tools[i].parameters, 0, &je);
		bool ok = json_is_object(j) && c->tools[i].url[0];
		json_decref(j);
		if (!ok) {
			snprintf(err, errlen, "%s: [tool:%s]: needs a url and parameters as a JSON "
				 "object on one line", c->path, c->tools[i].name);
			return -EINVAL;
		}
	}
	FILE *fp = fopen(c->local_prompt_file, "r");
	if (!fp) {
		snprintf(err, errlen, "%s: [local] prompt_file: %s: %s", c->path,
			 c->local_prompt_file, strerror(errno));
		return -ENOENT;
	}
	c->prompt = calloc(1, 65536);
	size_t n = c->prompt ? fread(c->prompt, 1, 65535, fp) : 0;
	fclose(fp);
	if (!c->prompt || !n) {
		snprintf(err, errlen, "%s: [local] prompt_file: %s is empty", c->path,
			 c->local_prompt_file);
		return -EINVAL;
	}
	return 0;
}

/* XI_AGENT_ID=... of the ids file provision wrote, into out. */
static int read_agent_id(const char *ids_file, char *out, size_t len)
{
	char line[256];
	FILE *fp = fopen(ids_file, "r");

	if (!fp)
		return -errno;
	out[0] = '\0';
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, "XI_AGENT_ID=", 12)) {
			line[strcspn(line, "\r\n")] = '\0';
			snprintf(out, len, "%.63s", line + 12);
		}
	fclose(fp);
	return out[0] ? 0 : -ENOENT;
}

int conf_xi_agent_id(const struct conf *c, char *out, size_t len)
{
	if (c->xi_agent_id[0]) {
		snprintf(out, len, "%s", c->xi_agent_id);
		return 0;
	}
	return read_agent_id(c->xi_ids_file, out, len);
}

/*
 * How createBooking reaches us. A bridged agent (some DID or the overflow
 * on the elevenlabs engine) gets it as a client tool the bridge answers;
 * one that answers SIP calls itself has no bridge, so a webhook. One agent
 * serves both only with an explicit choice.
 */
static int resolve_booking_tool(struct conf *c, char *err, size_t errlen)
{
	if (!c->xi_booking_tool[0]) {
		c->xi_booking_client = engine_used(c, "elevenlabs");
		return 0;
	}
	if (strcmp(c->xi_booking_tool, "webhook") && strcmp(c->xi_booking_tool, "client")) {
		snprintf(err, errlen, "%s: [elevenlabs] booking_tool: '%s' is not webhook or client",
			 c->path, c->xi_booking_tool);
		return -EINVAL;
	}
	c->xi_booking_client = !strcmp(c->xi_booking_tool, "client");
	return 0;
}

/* The elevenlabs engine's agent and key, when some call may use it. */
static int validate_elevenlabs(struct conf *c, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	int rc;

	if (!engine_used(c, "elevenlabs"))
		return 0;
	if (load_secret(c->xi_key_file, "VAGENT_ELEVENLABS_API_KEY", c->secrets->xi_key,
			sizeof(c->secrets->xi_key), "[elevenlabs] api_key_file", why,
			sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", c->path, why);
		return -EACCES;
	}
	if (!c->xi_agent_id[0] &&
	    (rc = read_agent_id(c->xi_ids_file, c->xi_agent_id, sizeof(c->xi_agent_id))) < 0) {
		snprintf(err, errlen, "%s: [elevenlabs] agent_id: required by the elevenlabs "
			 "engine (or ids_file %s from `vagentctl provision elevenlabs`: %s)",
			 c->path, c->xi_ids_file, strerror(-rc));
		return -EINVAL;
	}
	return 0;
}

/*
 * [twilio]: the mode, the public URL's scheme (Twilio only calls https, and
 * the stream URL is made from it), and the auth token, which the api needs
 * to check every request Twilio signs.
 */
/* The Media Streams listener, and the wss:// URL its upgrades are signed for. */
static int validate_twilio_listen(struct conf *c, char *err, size_t errlen)
{
	c->twilio_host[0] = '\0';
	c->twilio_port = 0;
	c->twilio_stream_url[0] = '\0';
	if (!c->twilio_listen[0])
		return 0;
	if (split_listen(c->twilio_listen, c->twilio_host, sizeof(c->twilio_host),
			 &c->twilio_port) < 0) {
		snprintf(err, errlen, "%s: [twilio] listen: '%s' is not host:port", c->path,
			 c->twilio_listen);
		return -EINVAL;
	}
	/* Twilio signs the URL it was given: without it no signature can be checked. */
	if (!c->secrets->twilio_token[0])
		return 0;
	/* The stream URL the api's TwiML gives Twilio (common/twiml.c). */
	size_t n = strlen(c->tw_public_url);
	while (n > 8 && c->tw_public_url[n - 1] == '/')
		n--;
	if (strncmp(c->tw_public_url, "https://", 8) || n <= 8 ||
	    snprintf(c->twilio_stream_url, sizeof(c->twilio_stream_url), "wss://%.*s/twilio",
		     (int)(n - 8), c->tw_public_url + 8) >= (int)sizeof(c->twilio_stream_url)) {
		snprintf(err, errlen, "%s: [twilio] public_url: an https:// URL is required with "
			 "an auth token (Twilio signs the stream's wss:// form of it)", c->path);
		return -EINVAL;
	}
	return 0;
}

static int validate_twilio(struct conf *c, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];

	if (strcmp(c->tw_mode, "stream") && strcmp(c->tw_mode, "relay")) {
		snprintf(err, errlen, "%s: [twilio] mode: '%s' is not stream or relay", c->path,
			 c->tw_mode);
		return -EINVAL;
	}
	c->tw_relay = !strcmp(c->tw_mode, "relay");
	if (c->tw_handoff_number[0] &&
	    (!valid_did(c->tw_handoff_number) || c->tw_handoff_number[0] != '+')) {
		snprintf(err, errlen, "%s: [twilio] handoff_number: '%s' is not a +E.164 number",
			 c->path, c->tw_handoff_number);
		return -EINVAL;
	}
	if (c->tw_public_url[0] && (strncmp(c->tw_public_url, "https://", 8) ||
				    !c->tw_public_url[8] || strchr(c->tw_public_url, '?'))) {
		snprintf(err, errlen, "%s: [twilio] public_url: an https:// URL without a query, "
			 "as Twilio reaches the api", c->path);
		return -EINVAL;
	}
	if (load_secret(c->tw_token_file, "VAGENT_TWILIO_AUTH_TOKEN", c->secrets->twilio_token,
			sizeof(c->secrets->twilio_token), "[twilio] auth_token_file", why,
			sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", c->path, why);
		return -EACCES;
	}
	return validate_twilio_listen(c, err, errlen);
}

/* Checks that need the whole file: cross-key rules and files to load. */
static int validate(struct conf *c, char *err, size_t errlen)
{
	int rc = conf_check(c, err, errlen);

	if (rc < 0)
		return rc;
	if ((rc = validate_api(c, err, errlen)) < 0 || (rc = validate_tts(c, err, errlen)) < 0 ||
	    (rc = validate_twilio(c, err, errlen)) < 0 ||
	    (rc = validate_local(c, err, errlen)) < 0 ||
	    (rc = validate_elevenlabs(c, err, errlen)) < 0)
		return rc;
	if (engine_used(c, "playback")) {
		char why[512];
		if (!c->playback_file[0]) {
			snprintf(err, errlen, "%s: [playback] file: required by the playback engine",
				 c->path);
			return -EINVAL;
		}
		if (wav_load(c->playback_file, &c->playback, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: [playback] file: %s", c->path, why);
			return -EINVAL;
		}
	}
	return 0;
}

static int load(const char *path, conf_engine_known_fn engine_known, bool load_files,
		struct conf **out, char *err, size_t errlen)
{
	struct parse_state ps = { .engine_known = engine_known };
	struct conf *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (!(c->secrets = secrets_new())) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(c);
		return -ENOMEM;
	}
	ps.c = c;
	if (parse_listen(c, c->listen) < 0)
		panic("conf: default listen address does not parse");

	int line = ini_parse(path, on_key, &ps);
	if (line == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		conf_free(c);
		return -ENOENT;
	}
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
			 ps.err[0] ? ps.err : "syntax error");
		conf_free(c);
		return -EINVAL;
	}
	int rc = load_files ? validate(c, err, errlen) : conf_check(c, err, errlen);
	if (rc == 0)	/* vagentctl provision needs it; no file to load */
		rc = resolve_booking_tool(c, err, errlen);
	if (rc < 0) {
		conf_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int conf_load(const char *path, conf_engine_known_fn engine_known,
	      struct conf **out, char *err, size_t errlen)
{
	return load(path, engine_known, true, out, err, errlen);
}

int conf_load_settings(const char *path, conf_engine_known_fn engine_known,
		       struct conf **out, char *err, size_t errlen)
{
	return load(path, engine_known, false, out, err, errlen);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	wav_free(&c->playback);
	secrets_free(c->secrets);
	free(c->prompt);
	free(c->tools);
	free(c->dids);
	free(c);
}

static const struct conf_did *did_find(const struct conf *c, const char *did)
{
	if (did && *did)
		for (size_t i = 0; i < c->ndids; i++)
			if (!strcmp(c->dids[i].did, did))
				return &c->dids[i];
	return NULL;
}

const char *conf_engine_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->engine[0] ? d->engine : c->engine;
}

const char *conf_tts_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->tts[0] ? d->tts : c->tts_provider;
}

bool conf_record_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->record >= 0 ? d->record : c->record;
}

const char *conf_handoff_number_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->handoff_number[0] ? d->handoff_number : c->tw_handoff_number;
}

int conf_keep_restart_only(struct conf *next, const struct conf *old,
			   char *warn, size_t warnlen)
{
	int changed = 0;
	size_t used = 0;

	warn[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (!k->restart_only)
			continue;
		char *dst = (char *)next + k->off;
		const char *src = (const char *)old + k->off;
		if (!memcmp(dst, src, k->size))
			continue;
		if (used < warnlen)
			used += (size_t)snprintf(warn + used, warnlen - used,
				"%s[%s] %s changed: takes effect at restart",
				changed ? "\n" : "", k->section, k->name);
		memcpy(dst, src, k->size);
		changed++;
	}
	/* Parsed halves follow their keys. */
	memcpy(next->listen_host, old->listen_host, sizeof(next->listen_host));
	next->listen_port = old->listen_port;
	memcpy(next->api_host, old->api_host, sizeof(next->api_host));
	next->api_port = old->api_port;
	memcpy(next->twilio_host, old->twilio_host, sizeof(next->twilio_host));
	next->twilio_port = old->twilio_port;
	return changed;
}
