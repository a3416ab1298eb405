/*
 * emu_dg_query.c - checks a Deepgram /v1/listen query the way the real
 * service does, for vagent-emu (a provider TEST DOUBLE). Lenient where
 * Deepgram is (unknown parameters are ignored), strict where it refuses:
 * keywords on nova-3, keyterm on older models, encoding without
 * sample_rate, utterance_end_ms without interim_results=true, values
 * that are not what the parameter takes.
 *
 * Owns: the mapping of query text to struct dg_cfg.
 * Never: writes to the connection; the caller answers the 400.
 * Fails: -EINVAL with Deepgram's err_msg text in msg.
 */
#include "emu_dg.h"
#include "emu_ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "false"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int copy_value(char *dst, size_t len, const char *v)
{
	size_t n = strlen(v);

	if (!n || n >= len)
		return -EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

static bool is_nova3(const char *model)
{
	return !strncmp(model, "nova-3", 6);
}

static const char *const bool_params[] = {
	"numerals", "filler_words", "profanity_filter", "diarize", "multichannel",
	"dictation", "measurements", "paragraphs", "no_delay", "mip_opt_out", NULL
};

static int take_bool_param(const char *name, const char *val, struct dg_cfg *c, bool *known)
{
	bool ignored;

	*known = true;
	if (!strcmp(name, "interim_results"))
		return parse_bool(val, &c->interim);
	if (!strcmp(name, "vad_events"))
		return parse_bool(val, &c->vad_events);
	if (!strcmp(name, "punctuate"))
		return parse_bool(val, &c->punctuate);
	if (!strcmp(name, "smart_format"))
		return parse_bool(val, &c->smart_format);
	for (const char *const *p = bool_params; *p; p++)
		if (!strcmp(name, *p))
			return parse_bool(val, &ignored);
	*known = false;
	return 0;
}

static int take_encoding(const char *val, struct dg_cfg *c, char *msg, size_t msglen)
{
	static const char *const other[] = {
		"opus", "flac", "amr-nb", "amr-wb", "speex", "g729", "ogg-opus", NULL
	};

	if (!strcmp(val, "linear16"))
		c->enc = DG_ENC_LINEAR16;
	else if (!strcmp(val, "mulaw"))
		c->enc = DG_ENC_MULAW;
	else if (!strcmp(val, "alaw"))
		c->enc = DG_ENC_ALAW;
	else {
		for (const char *const *p = other; *p; p++) {
			if (!strcmp(val, *p)) {
				snprintf(msg, msglen, "vagent-emu decodes linear16, mulaw and alaw "
					 "only, not %s.", val);
				return -EINVAL;
			}
		}
		snprintf(msg, msglen, "Invalid encoding: %s", val);
		return -EINVAL;
	}
	return 0;
}

static int check_keyword(const char *val, char *msg, size_t msglen)
{
	const char *colon = strrchr(val, ':');
	char *end;

	if (!*val || (colon && (strtod(colon + 1, &end), end == colon + 1 || *end))) {
		snprintf(msg, msglen, "Invalid keywords: %s", val);
		return -EINVAL;
	}
	return 0;
}

static int take_param(const char *name, const char *val, struct dg_cfg *c,
		      char *msg, size_t msglen)
{
	bool known;
	int rc = take_bool_param(name, val, c, &known);

	if (known) {
		if (rc)
			snprintf(msg, msglen, "Invalid value for %s: %s. Expected true or false.", name, val);
		return rc;
	}
	if (!strcmp(name, "model"))
		rc = copy_value(c->model, sizeof(c->model), val);
	else if (!strcmp(name, "language"))
		rc = copy_value(c->language, sizeof(c->language), val);
	else if (!strcmp(name, "encoding"))
		return take_encoding(val, c, msg, msglen);
	else if (!strcmp(name, "sample_rate"))
		rc = parse_int(val, 1000, 192000, &c->rate);
	else if (!strcmp(name, "channels"))
		rc = parse_int(val, 1, 8, &c->channels);
	else if (!strcmp(name, "endpointing")) {
		if (!strcmp(val, "false"))
			c->endpointing_ms = -1;
		else if (!strcmp(val, "true"))
			c->endpointing_ms = 10;
		else
			rc = parse_int(val, 0, 60000, &c->endpointing_ms);
	} else if (!strcmp(name, "utterance_end_ms"))
		rc = parse_int(val, 0, 60000, &c->utt_end_ms);
	else if (!strcmp(name, "keyterm"))
		c->nkeyterm++;
	else if (!strcmp(name, "keywords")) {
		c->nkeywords++;
		return check_keyword(val, msg, msglen);
	}
	if (rc)
		snprintf(msg, msglen, "Invalid value for %s: %s", name, val);
	return rc;
}

static int check_rules(const struct dg_cfg *c, char *msg, size_t msglen)
{
	if (c->nkeywords && is_nova3(c->model)) {
		snprintf(msg, msglen,
			 "Keywords are not supported for Nova-3. Please use `keyterm` instead.");
		return -EINVAL;
	}
	if (c->nkeyterm && !is_nova3(c->model)) {
		snprintf(msg, msglen, "Keyterm prompting is only available with Nova-3 models.");
		return -EINVAL;
	}
	if (c->nkeywords > 100) {
		snprintf(msg, msglen, "Too many keywords: at most 100 are allowed.");
		return -EINVAL;
	}
	if (c->enc != DG_ENC_NONE && !c->rate) {
		snprintf(msg, msglen, "sample_rate is required when encoding is specified.");
		return -EINVAL;
	}
	if (c->utt_end_ms && !c->interim) {
		snprintf(msg, msglen, "utterance_end_ms requires interim_results=true.");
		return -EINVAL;
	}
	return 0;
}

int dg_cfg_parse(struct lws *wsi, struct dg_cfg *c, char *msg, size_t msglen)
{
	char name[64], val[512];
	int rc;

	memset(c, 0, sizeof(*c));
	strcpy(c->model, "base");
	strcpy(c->language, "en");
	c->channels = 1;
	c->endpointing_ms = 10;
	for (int i = 0; !ws_query(wsi, i, name, sizeof(name), val, sizeof(val)); i++) {
		rc = take_param(name, val, c, msg, msglen);
		if (rc)
			return rc;
	}
	return check_rules(c, msg, msglen);
}
