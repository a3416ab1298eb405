/*
 * twilio_ms_wire.h - Twilio Media Streams messages (protocols.md 6.2, 6.3).
 *
 * Owns: the JSON both ways of a bidirectional stream. In: connected,
 * start (streamSid, callSid, customParameters "did" and "caller", the
 * media format), media (base64 mu-law, decoded here), dtmf, mark, stop.
 * Out: media (bare mu-law, base64), mark, clear. The other
 * customParameters of a start are the variables of an outbound call
 * (`vagentctl call --var`), handed on as a JSON object.
 *
 * Never: trusts a length or a string from the peer: a sid must be letters
 * and digits (it is copied into every message we send), a payload must
 * fit the caller's buffer. Fails: -EINVAL (malformed), -EMSGSIZE.
 */
#ifndef VG_TWILIO_MS_WIRE_H
#define VG_TWILIO_MS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define TW_SID_LEN 64
#define TW_PARAM_LEN 32
#define TW_VARS_MAX 32			/* variables of one call, as vagentctl sends at most */
#define TW_VAR_NAME_MAX 64
#define TW_VAR_VALUE_MAX 1024

enum tw_event {
	TW_OTHER = 0,		/* an event we do not use: ignored */
	TW_CONNECTED,
	TW_START,
	TW_MEDIA,
	TW_DTMF,
	TW_MARK,
	TW_STOP,
};

struct tw_msg {
	enum tw_event ev;
	char stream_sid[TW_SID_LEN];	/* every event but connected */
	/* start */
	char call_sid[TW_SID_LEN];
	char did[TW_PARAM_LEN];		/* customParameters.did, "" if absent */
	char caller[TW_PARAM_LEN];	/* customParameters.caller */
	json_t *vars;			/* the others, name -> string; NULL if none.
					 * The caller's: json_decref() it */
	char encoding[32];		/* mediaFormat.encoding, "audio/x-mulaw" */
	int rate, channels;
	/* media: the decoded mu-law bytes, in the caller's buffer */
	size_t audio_len;
	/* dtmf */
	char digit;
	/* mark */
	char mark[TW_SID_LEN];
};

/*
 * Parses one text message into m; a media payload is decoded into audio
 * (cap bytes). 0, or -EINVAL / -EMSGSIZE with why set to a static string.
 */
int tw_parse(const char *json, size_t len, struct tw_msg *m, uint8_t *audio, size_t cap,
	     const char **why);
/* The same through jansson only, never in place: what tw_parse must agree with. */
int tw_parse_full(const char *json, size_t len, struct tw_msg *m, uint8_t *audio, size_t cap,
		  const char **why);

/* Room a media message needs for n bytes of mu-law. */
#define TW_MEDIA_CAP(n) (4 * ((n) + 2) / 3 + 128 + TW_SID_LEN)

/* Outbound messages into out (cap bytes): their length, 0 if it did not fit. */
size_t tw_media(char *out, size_t cap, const char *stream_sid, const uint8_t *ulaw, size_t n);
size_t tw_mark(char *out, size_t cap, const char *stream_sid, const char *name);
size_t tw_clear(char *out, size_t cap, const char *stream_sid);

#endif
