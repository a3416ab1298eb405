/*
 * conf.h - vagent.conf: parsing, validation, defaults.
 *
 * Owns: every setting vagentd knows, its default, its range, and whether a
 * reload may change it. A struct conf is immutable once loaded: reload
 * builds a new one beside the old and swaps only when it is whole (nginx's
 * ngx_init_cycle), and workers keep the one they were forked with.
 * Fails with a message naming the file, line, section and key.
 * The implementation is split by job over common/conf*.c (conf_impl.h
 * lists the parts); a key and its default are one row of conf_keys.c.
 */
#ifndef VG_CONF_H
#define VG_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "wav.h"

#define CONF_ENGINE_LEN 16
#define CONF_DID_LEN 32
#define CONF_TTS_LEN 16

struct conf_did {
	char did[CONF_DID_LEN];
	char engine[CONF_ENGINE_LEN];	/* "": the [call] default */
	char tts[CONF_TTS_LEN];		/* "": the [tts] provider */
	int record;			/* -1: the [call] default, else 0 or 1 */
	char handoff_number[CONF_DID_LEN];	/* "": [twilio] handoff_number */
};

struct conf_secrets {
	char api_key[256];		/* "" if none configured */
	char stt_key[256];
	char llm_key[256];
	char tts_key[256];
	char xi_key[256];		/* [elevenlabs] api_key_file: TTS, provisioning, the bridge */
	char twilio_token[256];		/* [twilio] auth_token_file: signatures, REST; "" = upgrades not signed */
};

/* A webhook tool the model may call ([tool:NAME] sections). */
struct conf_tool {
	char name[65];
	char description[512];
	char parameters[2048];		/* JSON Schema object, one line */
	char url[512];
	char method[8];
	char headers[512];		/* "Name: value" pairs separated by ';' */
	int timeout_ms;
};

struct conf {
	char path[PATH_MAX];

	/* [vagentd] */
	char listen[280];		/* host:port or [v6]:port, as written */
	char listen_host[256];		/* parsed */
	int listen_port;
	int backlog;
	char user[64];
	char run_dir[PATH_MAX];
	int max_calls;
	int extra_producers;		/* record queues beyond the workers' */
	int min_spare;
	int max_spare;
	int worker_max_use;
	int drain_timeout;		/* seconds */
	int watchdog;			/* seconds a busy worker's loop may stall */
	bool realtime;			/* workers ask for SCHED_RR (wrk_sched.h) */
	int log_level;
	char log_file[PATH_MAX];
	bool syslog;
	char resolv_conf[PATH_MAX];	/* the workers' resolver for provider websockets */

	/* [call] */
	char engine[CONF_ENGINE_LEN];
	char context_dir[PATH_MAX];
	int idle_timeout;		/* seconds without a frame from the caller */
	int max_duration;		/* seconds */
	int max_frame_ms;		/* longest audio frame accepted */
	bool send_silence;		/* a frame every 20 ms while the agent is silent */
	bool kernel_pacing;		/* frames written ahead, paced by TCP (as_kpace.h) */
	bool record;			/* a WAV of every call (wrk_record.h) */
	char recording_dir[PATH_MAX];
	int recording_days;		/* older recordings are removed */
	/* Where new calls for the local engine go while one of its providers'
	 * breakers is open; empty: none (the local engine degrades instead). */
	char overflow_engine[CONF_ENGINE_LEN];

	/* [breaker] per provider stage, shared by the workers (worker/breaker.h) */
	int breaker_failures;		/* errors and timeouts that open a stage */
	int breaker_window;		/* seconds they are counted over */
	int breaker_cooldown;		/* seconds open before one call probes */

	/* [echo] */
	int echo_prebuffer_ms;

	/* [playback] */
	char playback_file[PATH_MAX];
	struct wav playback;		/* loaded when some engine needs it */

	/* [db] MariaDB, for the booking-writer and the api */
	char db_host[256];		/* empty: use db_socket */
	int db_port;
	char db_socket[PATH_MAX];
	char db_user[64];
	char db_password_file[PATH_MAX];	/* else $VAGENT_DB_PASSWORD, else none */
	char db_name[64];
	int db_connect_timeout;		/* seconds */

	/* [writer] the booking-writer */
	char journal_dir[PATH_MAX];
	int writer_batch_max;		/* records per group commit and transaction */
	int writer_retry_max_ms;	/* backoff ceiling while MariaDB is down */

	/* [api] the HTTP backend (did_context, create_booking, board, health) */
	bool api_enabled;
	char api_listen[280];
	char api_host[256];		/* parsed */
	int api_port;
	char api_key_file[PATH_MAX];	/* else $VAGENT_API_KEY */
	char api_time_zone[64];		/* for the greeting's time of day */
	int api_max_body;		/* bytes */
	int api_request_timeout;	/* seconds for a client to send its request */
	int api_journal_wait_ms;	/* create_booking: longest wait for the journal */
	int api_commit_wait_ms;		/* then for MariaDB, before answering without an id */
	int api_did_refresh;		/* seconds between did_company_map reloads */
	int api_repeat_days;
	char api_announce_dir[PATH_MAX];	/* vagentctl announce's WAVs, served without key */

	/* [stt] Deepgram live */
	char stt_url[256];
	char stt_model[32];
	char stt_language[16];
	int stt_endpointing_ms;
	int stt_utterance_end_ms;
	int stt_batch_ms;		/* caller audio per message while nothing is urgent */
	char stt_keyterms[512];		/* comma-separated */
	char stt_key_file[PATH_MAX];	/* else $VAGENT_STT_API_KEY */

	/* [llm] OpenAI-compatible chat completions (Groq) */
	char llm_url[256];		/* base, e.g. https://api.groq.com/openai/v1 */
	char llm_model[64];
	double llm_temperature;
	int llm_max_tokens;
	int llm_timeout_ms;		/* whole reply */
	int llm_retries;
	char llm_key_file[PATH_MAX];	/* else $VAGENT_LLM_API_KEY */

	/* [tts] the local engine's voice: Cartesia, or ElevenLabs (elevenlabs_*) */
	char tts_provider[CONF_TTS_LEN];	/* cartesia or elevenlabs; per DID too */
	char tts_url[256];
	char tts_version[16];
	char tts_model[32];
	char tts_voice[64];
	char tts_language[8];
	char tts_key_file[PATH_MAX];	/* else $VAGENT_TTS_API_KEY */
	char tts_xi_url[256];		/* wss://api.elevenlabs.io */
	char tts_xi_model[32];
	char tts_xi_voice[64];
	char tts_xi_format[16];		/* output_format; the call's rate decides in the end */
	double tts_xi_stability, tts_xi_similarity, tts_xi_speed;
	char tts_xi_schedule_text[32];	/* chunk_length_schedule as written */
	int tts_xi_schedule[4];		/* parsed; [0] 0: ElevenLabs' default */

	/* [local] the local agent engine */
	char local_prompt_file[PATH_MAX];
	char local_greeting[256];
	char local_api_url[256];	/* did_context; empty: only the context file */
	char local_apology[256];
	char local_filler[128];
	char local_goodbye[256];
	char local_nudge[256];		/* after silence_timeout of the caller's silence */
	char local_say_again[256];	/* the model failed for good on a turn */
	int local_bargein_rms;
	int local_bargein_ms;
	int local_silence_timeout;	/* seconds of caller silence before a nudge, then goodbye */
	char local_fallback_voice[32];	/* espeak-ng voice while the TTS is down */
	char local_stt_down[256];	/* said before handing the call back: STT is down */
	char *prompt;			/* the template's text, loaded with the config */

	/* [handoff] the local agent passing the caller to a person */
	char handoff_dir[PATH_MAX];	/* "": [call] context_dir (conf_handoff_dir) */
	int handoff_lifetime;		/* seconds before vagentd removes a reason file */
	char handoff_goodbye[256];	/* said before the connection is closed */

	/* [elevenlabs] the cloud agent vagentctl provisions (server tools, agent) */
	char xi_url[256];		/* REST base, e.g. https://api.elevenlabs.io */
	char xi_key_file[PATH_MAX];	/* else $VAGENT_ELEVENLABS_API_KEY */
	char xi_agent_name[128];	/* found by this name: create or update */
	char xi_voice[64];
	char xi_model[48];		/* TTS model_id */
	char xi_llm[48];		/* the agent's LLM */
	char xi_prompt_file[PATH_MAX];
	char xi_public_url[256];	/* our [api] as the internet reaches it */
	char xi_ids_file[PATH_MAX];	/* IDs written here, mode 0600 */
	char xi_agent_id[64];		/* the elevenlabs engine's agent; else the ids file's */
	char xi_booking_tool[16];	/* webhook, client, or empty: client when bridged */
	bool xi_booking_client;		/* resolved: createBooking is a client tool */

	/* [twilio] calls through Twilio: the voice webhook, outbound calls */
	char tw_account_sid[64];
	char tw_token_file[PATH_MAX];	/* else $VAGENT_TWILIO_AUTH_TOKEN */
	char tw_public_url[256];	/* https base Twilio requests: signatures, wss URLs */
	char tw_mode[16];		/* stream (Media Streams) or relay (ConversationRelay) */
	bool tw_relay;			/* parsed mode */
	char tw_rest_url[256];		/* https://api.twilio.com */
	char tw_from[32];		/* caller ID of outbound calls; "": the DID */
	char tw_xi_phone_id[64];	/* ElevenLabs' id of the imported Twilio number */
	char tw_relay_language[16];
	char tw_relay_tts[32];
	char tw_relay_voice[64];
	char tw_relay_stt[32];
	char tw_handoff_number[CONF_DID_LEN];	/* a relay hand-off is <Dial>led here; "": none */

	/* [twilio] Media Streams: Twilio dials in over a websocket */
	char twilio_listen[280];	/* host:port; empty: no Twilio listener */
	char twilio_host[256];		/* parsed */
	int twilio_port;
	char twilio_stream_url[300];	/* wss:// form of public_url + /twilio: what Twilio signs */

	/* [tool:NAME] sections */
	struct conf_tool *tools;
	size_t ntools;

	/* Secrets, on pages kept out of core dumps (see conf_secret.c). */
	struct conf_secrets *secrets;

	/* [did:NUMBER] sections */
	struct conf_did *dids;
	size_t ndids;
};

/* Tells whether an engine name exists; supplied by whoever has the registry. */
typedef bool (*conf_engine_known_fn)(const char *name);

/*
 * Loads and validates path. On success *out owns a new conf (conf_free).
 * On failure returns -EINVAL (or -errno) and err holds one line naming
 * the file, line, section and key.
 */
int conf_load(const char *path, conf_engine_known_fn engine_known,
	      struct conf **out, char *err, size_t errlen);

/* As conf_load, without opening the files it names (for tools). */
int conf_load_settings(const char *path, conf_engine_known_fn engine_known,
		       struct conf **out, char *err, size_t errlen);

void conf_free(struct conf *c);

/*
 * Reads a secret as the loader does: the first line of file (refused when
 * others may read it), or $env when file is "". 0 (out "" if none) or
 * -EACCES with err naming what.
 */
int conf_read_secret(const char *file, const char *env, char *out, size_t len,
		     const char *what, char *err, size_t errlen);

/*
 * The elevenlabs agent: [elevenlabs] agent_id, else XI_AGENT_ID of ids_file,
 * into out. 0, or -errno (-ENOENT: neither says one).
 */
int conf_xi_agent_id(const struct conf *c, char *out, size_t len);

/* The engine for a DID: its [did:..] section, else the [call] default. */
const char *conf_engine_for(const struct conf *c, const char *did);

/* The TTS provider for a DID: its [did:..] tts, else [tts] provider. */
const char *conf_tts_for(const struct conf *c, const char *did);
/* Whether a call to did is recorded: its [did:..] record, else [call] record. */
bool conf_record_for(const struct conf *c, const char *did);
/* Where a Twilio call to did is handed to a person: [did:] then [twilio] handoff_number; "": nowhere. */
const char *conf_handoff_number_for(const struct conf *c, const char *did);
/* Where the hand-off reason files go: [handoff] dir, else [call] context_dir. */
const char *conf_handoff_dir(const struct conf *c);

/* Rules between keys (min_spare <= max_calls, ...). 0 or -EINVAL with err. */
int conf_check(const struct conf *c, char *err, size_t errlen);

/*
 * Reload: keys that only a restart can change (listen, user, run_dir,
 * max_calls, backlog) are copied from old into next, with a warning line
 * per change written to warn (may be several lines). Returns how many.
 */
int conf_keep_restart_only(struct conf *next, const struct conf *old,
			   char *warn, size_t warnlen);

#endif
