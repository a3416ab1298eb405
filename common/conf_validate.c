/*
 * conf_validate.c - the checks that need the whole file, and the files
 * the configuration names.
 *
 * Owns: rules between keys (min_spare <= max_calls, an engine's required
 * keys), values whose syntax one key's type cannot say ([api] and [twilio]
 * listen, time zone, ElevenLabs' output format and chunk schedule), the
 * parsed fields they fill (api_host, twilio_stream_url, tw_relay,
 * xi_booking_client, tts_xi_schedule), and loading the secrets, the local
 * prompt and the playback WAV into the new conf.
 * What only one engine needs (a voice, the prompt, the agent id, the
 * playback WAV) is required only when the [call] engine, the overflow or
 * some DID names that engine: an echo-only box starts without any of it,
 * and a DID naming an engine that lacks it is refused at load rather than
 * failing its first call.
 * Fails with one line naming the file, section and key (no line number:
 * the file has been read).
 */
#include "conf_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* conf_read_secret with the error prefixed by the configuration's path. */
static int read_secret(const struct conf *c, const char *file, const char *env, char *out,
		       size_t len, const char *what, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];

	if (conf_read_secret(file, env, out, len, what, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", c->path, why);
		return -EACCES;
	}
	return 0;
}

static int validate_api(struct conf *c, char *err, size_t errlen)
{
	char zone[PATH_MAX];

	if (conf_split_listen(c->api_listen, c->api_host, sizeof(c->api_host), &c->api_port) < 0) {
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
	if (read_secret(c, c->api_key_file, "VAGENT_API_KEY", c->secrets->api_key,
			sizeof(c->secrets->api_key), "[api] api_key_file", err, errlen) < 0)
		return -EACCES;
	if (c->api_enabled && strlen(c->secrets->api_key) < 16) {
		snprintf(err, errlen, "%s: [api] api_key_file: an API key of at least 16 "
			 "characters is required (or VAGENT_API_KEY, or enabled = no)", c->path);
		return -EINVAL;
	}
	return 0;
}

/* [tts] provider and ElevenLabs' settings that one key's range cannot say. */
static int validate_tts(struct conf *c, char *err, size_t errlen)
{
	static const char *const formats[] = { "ulaw_8000", "pcm_8000", "pcm_16000",
					       "pcm_22050", "pcm_24000", "pcm_44100" };
	int *s = c->tts_xi_schedule;
	bool format_ok = false;
	char tail;

	if (!conf_tts_known(c->tts_provider)) {
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

/* The local engine's prompt template, into c->prompt. */
static int load_prompt(struct conf *c, char *err, size_t errlen)
{
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

/* The local engine's files and keys, when some call may use it. */
static int validate_local(struct conf *c, char *err, size_t errlen)
{
	struct { const char *file, *env; char *out; const char *what; } secret[] = {
		{ c->stt_key_file, "VAGENT_STT_API_KEY", c->secrets->stt_key, "[stt] api_key_file" },
		{ c->llm_key_file, "VAGENT_LLM_API_KEY", c->secrets->llm_key, "[llm] api_key_file" },
		{ c->tts_key_file, "VAGENT_TTS_API_KEY", c->secrets->tts_key, "[tts] api_key_file" },
		{ c->xi_key_file, "VAGENT_ELEVENLABS_API_KEY", c->secrets->xi_key,
		  "[elevenlabs] api_key_file" },
	};
	int rc;

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		if (read_secret(c, secret[i].file, secret[i].env, secret[i].out, 256,
				secret[i].what, err, errlen) < 0)
			return -EACCES;
	if (!conf_engine_used(c, "local"))
		return 0;
	if (conf_tts_used(c, "cartesia") && !c->tts_voice[0]) {
		snprintf(err, errlen, "%s: [tts] voice: required by the local engine", c->path);
		return -EINVAL;
	}
	if (conf_tts_used(c, "elevenlabs") && !c->tts_xi_voice[0]) {
		snprintf(err, errlen, "%s: [tts] elevenlabs_voice: required when a call may use "
			 "ElevenLabs", c->path);
		return -EINVAL;
	}
	if ((rc = conf_tools_check(c, err, errlen)) < 0)
		return rc;
	return load_prompt(c, err, errlen);
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
int conf_resolve_booking_tool(struct conf *c, char *err, size_t errlen)
{
	if (!c->xi_booking_tool[0]) {
		c->xi_booking_client = conf_engine_used(c, "elevenlabs");
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
	int rc;

	if (!conf_engine_used(c, "elevenlabs"))
		return 0;
	if (read_secret(c, c->xi_key_file, "VAGENT_ELEVENLABS_API_KEY", c->secrets->xi_key,
			sizeof(c->secrets->xi_key), "[elevenlabs] api_key_file", err, errlen) < 0)
		return -EACCES;
	if (!c->xi_agent_id[0] &&
	    (rc = read_agent_id(c->xi_ids_file, c->xi_agent_id, sizeof(c->xi_agent_id))) < 0) {
		snprintf(err, errlen, "%s: [elevenlabs] agent_id: required by the elevenlabs "
			 "engine (or ids_file %s from `vagentctl provision elevenlabs`: %s)",
			 c->path, c->xi_ids_file, strerror(-rc));
		return -EINVAL;
	}
	return 0;
}

/* The Media Streams listener, and the wss:// URL its upgrades are signed for. */
static int validate_twilio_listen(struct conf *c, char *err, size_t errlen)
{
	c->twilio_host[0] = '\0';
	c->twilio_port = 0;
	c->twilio_stream_url[0] = '\0';
	if (!c->twilio_listen[0])
		return 0;
	if (conf_split_listen(c->twilio_listen, c->twilio_host, sizeof(c->twilio_host),
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

/*
 * [twilio]: the mode, the public URL's scheme (Twilio only calls https, and
 * the stream URL is made from it), and the auth token, which the api needs
 * to check every request Twilio signs.
 */
static int validate_twilio(struct conf *c, char *err, size_t errlen)
{
	if (strcmp(c->tw_mode, "stream") && strcmp(c->tw_mode, "relay")) {
		snprintf(err, errlen, "%s: [twilio] mode: '%s' is not stream or relay", c->path,
			 c->tw_mode);
		return -EINVAL;
	}
	c->tw_relay = !strcmp(c->tw_mode, "relay");
	if (c->tw_handoff_number[0] &&
	    (!conf_valid_did(c->tw_handoff_number) || c->tw_handoff_number[0] != '+')) {
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
	if (read_secret(c, c->tw_token_file, "VAGENT_TWILIO_AUTH_TOKEN", c->secrets->twilio_token,
			sizeof(c->secrets->twilio_token), "[twilio] auth_token_file", err,
			errlen) < 0)
		return -EACCES;
	return validate_twilio_listen(c, err, errlen);
}

/* The playback engine's WAV, when some call may use it. */
static int validate_playback(struct conf *c, char *err, size_t errlen)
{
	char why[512];

	if (!conf_engine_used(c, "playback"))
		return 0;
	if (!c->playback_file[0]) {
		snprintf(err, errlen, "%s: [playback] file: required by the playback engine",
			 c->path);
		return -EINVAL;
	}
	if (wav_load(c->playback_file, &c->playback, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: [playback] file: %s", c->path, why);
		return -EINVAL;
	}
	return 0;
}

int conf_validate(struct conf *c, char *err, size_t errlen)
{
	int rc;

	if ((rc = conf_check(c, err, errlen)) < 0 || (rc = validate_api(c, err, errlen)) < 0 ||
	    (rc = validate_tts(c, err, errlen)) < 0 || (rc = validate_twilio(c, err, errlen)) < 0 ||
	    (rc = validate_local(c, err, errlen)) < 0 ||
	    (rc = validate_elevenlabs(c, err, errlen)) < 0)
		return rc;
	return validate_playback(c, err, errlen);
}
