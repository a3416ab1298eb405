/*
 * conf_keys.c - every plain key of vagent.conf: one row each.
 *
 * Owns: the key table (section, name, type, default, field, range,
 * restart-only), the defaults a new conf starts from, and what a reload
 * keeps from the running conf. A new key is one row here plus its field.
 * A default is written as an operator would write it in vagent.conf and
 * goes through the same parser as the file's values, so it can never be
 * outside its own range; a default that does not parse is our bug and
 * panics at the first load.
 * Never: reads a file; [did:] and [tool:] sections are not plain keys.
 */
#include "conf_impl.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

#define F(field) offsetof(struct conf, field), sizeof(((struct conf *)0)->field)

/* section, name, type, default, field, min, max (numbers), restart only */
const struct conf_key conf_keys[] = {
	{ "vagentd", "listen", K_LISTEN, "127.0.0.1:9099", F(listen), 0, 0, true },
	{ "vagentd", "backlog", K_INT, "511", F(backlog), 1, 65535, true },
	{ "vagentd", "user", K_STR, NULL, F(user), 0, 0, true },
	{ "vagentd", "run_dir", K_PATH, "/run/vagent", F(run_dir), 0, 0, true },
	{ "vagentd", "max_calls", K_INT, "50", F(max_calls), 1, 4096, true },
	{ "vagentd", "extra_producers", K_INT, "4", F(extra_producers), 1, 256, true },
	{ "vagentd", "min_spare", K_INT, "4", F(min_spare), 0, 4096, false },
	{ "vagentd", "max_spare", K_INT, "16", F(max_spare), 1, 4096, false },
	{ "vagentd", "worker_max_use", K_INT, "1000", F(worker_max_use), 0, 1000000, false },
	{ "vagentd", "drain_timeout", K_INT, "300", F(drain_timeout), 0, 86400, false },
	{ "vagentd", "watchdog", K_INT, "30", F(watchdog), 2, 3600, false },
	{ "vagentd", "realtime", K_BOOL, "no", F(realtime), 0, 0, true },
	{ "vagentd", "log_level", K_LEVEL, "info", F(log_level), 0, 0, false },
	{ "vagentd", "log_file", K_PATH, NULL, F(log_file), 0, 0, false },
	{ "vagentd", "syslog", K_BOOL, "no", F(syslog), 0, 0, false },
	{ "vagentd", "resolv_conf", K_PATH, "/etc/resolv.conf", F(resolv_conf), 0, 0, false },
	{ "call", "engine", K_ENGINE, "echo", F(engine), 0, 0, false },
	/*
	 * Shared with Asterisk only (vagent:asterisk 0770, made by make
	 * install): a world-writable /tmp lets anyone pick a caller's file,
	 * and Asterisk's own unit has a private /tmp anyway.
	 */
	{ "call", "context_dir", K_PATH, "/var/spool/vagent", F(context_dir), 0, 0, false },
	{ "call", "idle_timeout", K_INT, "10", F(idle_timeout), 1, 3600, false },
	{ "call", "max_duration", K_INT, "3600", F(max_duration), 1, 86400, false },
	{ "call", "max_frame_ms", K_INT, "200", F(max_frame_ms), 20, 1000, false },
	{ "call", "send_silence", K_BOOL, "yes", F(send_silence), 0, 0, false },
	{ "call", "kernel_pacing", K_BOOL, "yes", F(kernel_pacing), 0, 0, false },
	{ "call", "record", K_BOOL, "no", F(record), 0, 0, false },
	{ "call", "recording_dir", K_PATH, "/var/lib/vagent/recordings",
	  F(recording_dir), 0, 0, false },
	{ "call", "recording_days", K_INT, "30", F(recording_days), 1, 3650, false },
	{ "call", "overflow_engine", K_ENGINE_OPT, NULL, F(overflow_engine), 0, 0, false },
	{ "breaker", "failures", K_INT, "3", F(breaker_failures), 1, 1000, false },
	{ "breaker", "window", K_INT, "30", F(breaker_window), 1, 3600, false },
	{ "breaker", "cooldown", K_INT, "30", F(breaker_cooldown), 1, 3600, false },
	{ "echo", "prebuffer_ms", K_INT, "40", F(echo_prebuffer_ms), 0, 1000, false },
	{ "playback", "file", K_PATH, NULL, F(playback_file), 0, 0, false },
	{ "db", "host", K_STR, "127.0.0.1", F(db_host), 0, 0, false },
	{ "db", "port", K_INT, "3306", F(db_port), 1, 65535, false },
	{ "db", "socket", K_PATH, NULL, F(db_socket), 0, 0, false },
	{ "db", "user", K_STR, "vagent", F(db_user), 0, 0, false },
	{ "db", "password_file", K_PATH, NULL, F(db_password_file), 0, 0, false },
	{ "db", "database", K_STR, "vagent", F(db_name), 0, 0, false },
	{ "db", "connect_timeout", K_INT, "5", F(db_connect_timeout), 1, 300, false },
	{ "twilio", "listen", K_STR, NULL, F(twilio_listen), 0, 0, true },
	{ "api", "enabled", K_BOOL, "yes", F(api_enabled), 0, 0, true },
	{ "api", "listen", K_STR, "127.0.0.1:8089", F(api_listen), 0, 0, true },
	{ "api", "api_key_file", K_PATH, NULL, F(api_key_file), 0, 0, false },
	{ "api", "time_zone", K_STR, "Europe/London", F(api_time_zone), 0, 0, false },
	{ "api", "max_body", K_INT, "16384", F(api_max_body), 256, 1 << 20, false },
	{ "api", "request_timeout", K_INT, "5", F(api_request_timeout), 1, 300, false },
	{ "api", "journal_wait_ms", K_INT, "2000", F(api_journal_wait_ms), 10, 60000, false },
	{ "api", "commit_wait_ms", K_INT, "300", F(api_commit_wait_ms), 0, 60000, false },
	{ "api", "did_refresh", K_INT, "60", F(api_did_refresh), 5, 86400, false },
	{ "api", "repeat_days", K_INT, "7", F(api_repeat_days), 1, 365, false },
	{ "api", "announce_dir", K_PATH, "/var/lib/vagent/announce",
	  F(api_announce_dir), 0, 0, false },
	{ "stt", "url", K_STR, "wss://api.deepgram.com/v1/listen", F(stt_url), 0, 0, false },
	{ "stt", "model", K_STR, "nova-3", F(stt_model), 0, 0, false },
	{ "stt", "language", K_STR, "en-GB", F(stt_language), 0, 0, false },
	{ "stt", "endpointing_ms", K_INT, "300", F(stt_endpointing_ms), 10, 5000, false },
	{ "stt", "utterance_end_ms", K_INT, "1000", F(stt_utterance_end_ms), 1000, 5000, false },
	{ "stt", "batch_ms", K_INT, "100", F(stt_batch_ms), 20, 500, false },
	{ "stt", "keyterms", K_STR, "postcode,plumber,electrician,callout",
	  F(stt_keyterms), 0, 0, false },
	{ "stt", "api_key_file", K_PATH, NULL, F(stt_key_file), 0, 0, false },
	{ "llm", "url", K_STR, "https://api.groq.com/openai/v1", F(llm_url), 0, 0, false },
	{ "llm", "model", K_STR, "llama-3.3-70b-versatile", F(llm_model), 0, 0, false },
	{ "llm", "temperature", K_DOUBLE, "0.4", F(llm_temperature), 0, 2, false },
	{ "llm", "max_tokens", K_INT, "300", F(llm_max_tokens), 16, 8192, false },
	{ "llm", "timeout_ms", K_INT, "15000", F(llm_timeout_ms), 500, 120000, false },
	{ "llm", "retries", K_INT, "2", F(llm_retries), 0, 5, false },
	{ "llm", "api_key_file", K_PATH, NULL, F(llm_key_file), 0, 0, false },
	{ "tts", "url", K_STR, "wss://api.cartesia.ai/tts/websocket", F(tts_url), 0, 0, false },
	{ "tts", "version", K_STR, "2025-04-16", F(tts_version), 0, 0, false },
	{ "tts", "model", K_STR, "sonic-3", F(tts_model), 0, 0, false },
	{ "tts", "voice", K_STR, NULL, F(tts_voice), 0, 0, false },
	{ "tts", "language", K_STR, "en", F(tts_language), 0, 0, false },
	{ "tts", "api_key_file", K_PATH, NULL, F(tts_key_file), 0, 0, false },
	{ "tts", "provider", K_STR, "cartesia", F(tts_provider), 0, 0, false },
	{ "tts", "elevenlabs_url", K_STR, "wss://api.elevenlabs.io", F(tts_xi_url), 0, 0, false },
	{ "tts", "elevenlabs_model", K_STR, "eleven_flash_v2", F(tts_xi_model), 0, 0, false },
	{ "tts", "elevenlabs_voice", K_STR, NULL, F(tts_xi_voice), 0, 0, false },
	{ "tts", "elevenlabs_output_format", K_STR, "ulaw_8000", F(tts_xi_format), 0, 0, false },
	{ "tts", "elevenlabs_stability", K_DOUBLE, "0.4", F(tts_xi_stability), 0, 1, false },
	{ "tts", "elevenlabs_similarity_boost", K_DOUBLE, "0.85",
	  F(tts_xi_similarity), 0, 1, false },
	{ "tts", "elevenlabs_speed", K_DOUBLE, "1.0", F(tts_xi_speed), 0, 2, false },
	{ "tts", "elevenlabs_chunk_length_schedule", K_STR, NULL,
	  F(tts_xi_schedule_text), 0, 0, false },
	{ "local", "prompt_file", K_PATH, "/etc/vagent/prompts/local.md",
	  F(local_prompt_file), 0, 0, false },
	{ "local", "greeting", K_STR, "Hello, {{company_name}}, {{time_greeting}}. How can I help?",
	  F(local_greeting), 0, 0, false },
	{ "local", "api_url", K_STR, "http://127.0.0.1:8089", F(local_api_url), 0, 0, false },
	{ "local", "apology", K_STR, "Sorry, bear with me one moment.",
	  F(local_apology), 0, 0, false },
	{ "local", "filler", K_STR, "One moment.", F(local_filler), 0, 0, false },
	{ "local", "goodbye", K_STR, "Thanks for calling. Goodbye.",
	  F(local_goodbye), 0, 0, false },
	{ "local", "nudge", K_STR, "Are you still there?", F(local_nudge), 0, 0, false },
	{ "local", "say_again", K_STR, "Sorry, could you say that again?",
	  F(local_say_again), 0, 0, false },
	{ "local", "bargein_rms", K_INT, "800", F(local_bargein_rms), 50, 32767, false },
	{ "local", "bargein_ms", K_INT, "300", F(local_bargein_ms), 20, 3000, false },
	{ "local", "silence_timeout", K_INT, "15", F(local_silence_timeout), 3, 600, false },
	{ "handoff", "dir", K_PATH, NULL, F(handoff_dir), 0, 0, false },
	{ "handoff", "lifetime", K_INT, "60", F(handoff_lifetime), 1, 3600, false },
	{ "handoff", "goodbye", K_STR, "Putting you through to someone now.",
	  F(handoff_goodbye), 0, 0, false },
	{ "local", "fallback_voice", K_STR, "en-gb", F(local_fallback_voice), 0, 0, false },
	{ "local", "stt_down", K_STR,
	  "I'm sorry, I can't hear you properly right now, so I'm passing your "
	  "call back.", F(local_stt_down), 0, 0, false },
	{ "elevenlabs", "url", K_STR, "https://api.elevenlabs.io", F(xi_url), 0, 0, false },
	{ "elevenlabs", "api_key_file", K_PATH, NULL, F(xi_key_file), 0, 0, false },
	{ "elevenlabs", "agent_name", K_STR, "vagent", F(xi_agent_name), 0, 0, false },
	{ "elevenlabs", "voice", K_STR, "JBFqnCBsd6RMkjVDRZzb", F(xi_voice), 0, 0, false },
	{ "elevenlabs", "model", K_STR, "eleven_flash_v2_5", F(xi_model), 0, 0, false },
	{ "elevenlabs", "llm", K_STR, "gpt-4o", F(xi_llm), 0, 0, false },
	{ "elevenlabs", "prompt_file", K_PATH, "/etc/vagent/prompts/cloud.md",
	  F(xi_prompt_file), 0, 0, false },
	{ "elevenlabs", "public_url", K_STR, NULL, F(xi_public_url), 0, 0, false },
	{ "elevenlabs", "ids_file", K_PATH, "/var/lib/vagent/elevenlabs.ids",
	  F(xi_ids_file), 0, 0, false },
	{ "elevenlabs", "agent_id", K_STR, NULL, F(xi_agent_id), 0, 0, false },
	{ "elevenlabs", "booking_tool", K_STR, NULL, F(xi_booking_tool), 0, 0, false },
	{ "twilio", "account_sid", K_STR, NULL, F(tw_account_sid), 0, 0, false },
	{ "twilio", "auth_token_file", K_PATH, NULL, F(tw_token_file), 0, 0, false },
	{ "twilio", "public_url", K_STR, NULL, F(tw_public_url), 0, 0, false },
	{ "twilio", "mode", K_STR, "stream", F(tw_mode), 0, 0, false },
	{ "twilio", "rest_url", K_STR, "https://api.twilio.com", F(tw_rest_url), 0, 0, false },
	{ "twilio", "from", K_STR, NULL, F(tw_from), 0, 0, false },
	{ "twilio", "elevenlabs_phone_number_id", K_STR, NULL, F(tw_xi_phone_id), 0, 0, false },
	{ "twilio", "relay_language", K_STR, "en-GB", F(tw_relay_language), 0, 0, false },
	{ "twilio", "relay_tts_provider", K_STR, "ElevenLabs", F(tw_relay_tts), 0, 0, false },
	{ "twilio", "relay_voice", K_STR, NULL, F(tw_relay_voice), 0, 0, false },
	{ "twilio", "relay_transcription_provider", K_STR, "Deepgram",
	  F(tw_relay_stt), 0, 0, false },
	{ "twilio", "handoff_number", K_STR, NULL, F(tw_handoff_number), 0, 0, false },
	{ "writer", "journal_dir", K_PATH, "/var/lib/vagent", F(journal_dir), 0, 0, true },
	{ "writer", "batch_max", K_INT, "1000", F(writer_batch_max), 1, 100000, false },
	{ "writer", "retry_max_ms", K_INT, "5000", F(writer_retry_max_ms), 100, 600000, false },
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);

const struct conf_key *conf_key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < conf_nkeys; i++)
		if (!strcmp(conf_keys[i].section, section) && !strcmp(conf_keys[i].name, name))
			return &conf_keys[i];
	return NULL;
}

void conf_defaults(struct conf *c)
{
	struct conf_parse ps = { .c = c };	/* no engine_known: "echo" is ours */

	for (size_t i = 0; i < conf_nkeys; i++)
		if (conf_keys[i].def && conf_set_key(&ps, &conf_keys[i], conf_keys[i].def) < 0)
			panic("conf: [%s] %s: default '%s': %s", conf_keys[i].section,
			      conf_keys[i].name, conf_keys[i].def, ps.err);
}

int conf_keep_restart_only(struct conf *next, const struct conf *old,
			   char *warn, size_t warnlen)
{
	int changed = 0;
	size_t used = 0;

	warn[0] = '\0';
	for (size_t i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
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
