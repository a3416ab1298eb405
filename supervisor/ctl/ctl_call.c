/*
 * ctl_call.c - vagentctl call: an outbound call through Twilio or
 * ElevenLabs (see ctl_call.h), and the Twilio REST call both commands use.
 *
 * Through Twilio the answered call comes back to us exactly as an inbound
 * one does (the same TwiML as /twilio/voice, common/twiml.h), with the
 * variables as extra <Parameter>s the stream side hands the agent; through
 * ElevenLabs its own agent talks, and the variables are its dynamic
 * variables (protocols.md 5.6; seeds: outbound calls with per-call
 * context). did_number and caller_id are always among them, as the
 * elevenlabs engine sends them on inbound calls, so one prompt serves both.
 */
#include "ctl_call.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/conf.h"
#include "../../common/twiml.h"
#include "ctl_http.h"
#include "ctl_xi_json.h"

#define VARS_MAX 32
#define STATUS_EVENTS "initiated ringing answered completed"

struct call_opts {
	char to[24], did[24];
	const char *names[VARS_MAX + 2], *values[VARS_MAX + 2];	/* did, caller, vars */
	char *owned[VARS_MAX];		/* the "k=v" copies the names point into */
	size_t n;
	bool via_xi;
	const char *phone_id;
};

int ctl_e164(const char *in, char *out, size_t len)
{
	size_t n = 0;

	if (len < 17)
		return -1;
	out[n++] = '+';
	for (const char *p = in; *p; p++) {
		if (*p >= '0' && *p <= '9' && n < 16)
			out[n++] = *p;
		else if (*p >= '0' && *p <= '9')
			return -1;
		else if (!strchr("+ -().", *p) || (*p == '+' && p != in))
			return -1;
	}
	out[n] = '\0';
	return n >= 7 ? 0 : -1;	/* E.164: at most 15 digits; a real one has six or more */
}

/* ---- Twilio ---- */

const char *ctl_public_base(const struct conf *c, char *out, size_t len)
{
	size_t n = strlen(c->tw_public_url);

	while (n && c->tw_public_url[n - 1] == '/')
		n--;
	snprintf(out, len, "%.*s", (int)n, c->tw_public_url);
	return out;
}

/* name=value, form-encoded (RFC 3986 unreserved kept), appended to b. */
static int form_add(struct buf *b, const char *name, const char *value)
{
	int rc = b->len ? buf_append_byte(b, '&') : 0;

	for (int part = 0; part < 2 && rc == 0; part++) {
		for (const unsigned char *p = (const unsigned char *)(part ? value : name);
		     *p && rc == 0; p++)
			rc = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("-._~", *p) ?
			     buf_append_byte(b, *p) : buf_printf(b, "%%%02X", *p);
		if (part == 0 && rc == 0)
			rc = buf_append_byte(b, '=');
	}
	return rc;
}

/* {"code":20003,"message":"Authenticate",...}: Twilio's error body, as one line. */
static void twilio_error(long status, const struct buf *ans)
{
	json_t *j = json_loadb((const char *)ans->data, ans->len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "message"));
	json_int_t code = json_integer_value(json_object_get(j, "code"));

	if (status == 401)
		fprintf(stderr, "vagentctl: Twilio refused the account SID or auth token "
			"([twilio] account_sid, auth_token_file): %s\n", msg ? msg : "401");
	else
		fprintf(stderr, "vagentctl: Twilio: %ld (%lld): %.200s\n", status, (long long)code,
			msg ? msg : ans->len ? buf_str(ans) : "no error body");
	json_decref(j);
}

int ctl_twilio_call(const struct conf *c, const char *to, const char *from, const char *twiml)
{
	char token[256], err[PATH_MAX + 256], url[512], cb[300], url_base[256];
	struct buf form, ans;
	long status;
	int rc = -1;

	if (!c->tw_account_sid[0] || !c->tw_public_url[0]) {
		fprintf(stderr, "vagentctl: [twilio] account_sid and public_url are required\n");
		return -1;
	}
	if (conf_read_secret(c->tw_token_file, "VAGENT_TWILIO_AUTH_TOKEN", token, sizeof(token),
			     "[twilio] auth_token_file", err, sizeof(err)) < 0 || !token[0]) {
		fprintf(stderr, "vagentctl: %s\n", token[0] ? err : "no Twilio auth token: set "
			"[twilio] auth_token_file or VAGENT_TWILIO_AUTH_TOKEN");
		return -1;
	}
	snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Calls.json", c->tw_rest_url,
		 c->tw_account_sid);
	snprintf(cb, sizeof(cb), "%s/twilio/status", ctl_public_base(c, url_base, sizeof(url_base)));
	buf_init(&form, 1u << 20);
	buf_init(&ans, 0);
	if (form_add(&form, "To", to) || form_add(&form, "From", from) ||
	    form_add(&form, "Twiml", twiml) || form_add(&form, "StatusCallback", cb) ||
	    form_add(&form, "StatusCallbackMethod", "POST") ||
	    form_add(&form, "StatusCallbackEvent", STATUS_EVENTS)) {
		fprintf(stderr, "vagentctl: out of memory\n");
		goto out;
	}
	struct ctl_http_req r = { .url = url, .content_type = "application/x-www-form-urlencoded",
				  .body = buf_str(&form), .user = c->tw_account_sid,
				  .password = token };
	if (ctl_http_post(&r, &status, &ans, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: Twilio: POST %s: %s\n", url, err);
		goto out;
	}
	if (status < 200 || status > 299) {
		twilio_error(status, &ans);
		goto out;
	}
	json_t *j = json_loadb((const char *)ans.data, ans.len, 0, NULL);
	const char *sid = json_string_value(json_object_get(j, "sid"));
	const char *st = json_string_value(json_object_get(j, "status"));
	if (sid) {
		printf("call %s to %s from %s: %s\n", sid, to, from, st ? st : "?");
		rc = 0;
	} else {
		fprintf(stderr, "vagentctl: Twilio: the answer has no call sid\n");
	}
	json_decref(j);
out:
	explicit_bzero(token, sizeof(token));
	buf_free(&form);
	buf_free(&ans);
	return rc;
}

static int via_twilio(const struct conf *c, const struct call_opts *o)
{
	struct buf tw;
	int rc;
	struct twiml_connect t = {
		.public_url = c->tw_public_url, .relay = !strcmp(c->tw_mode, "relay"),
		.language = c->tw_relay_language, .tts_provider = c->tw_relay_tts,
		.voice = c->tw_relay_voice, .transcription_provider = c->tw_relay_stt,
		.names = o->names, .values = o->values, .n = o->n,
	};
	char from[24], base[256], action[300];

	snprintf(action, sizeof(action), "%s/twilio/handoff", ctl_public_base(c, base, sizeof(base)));
	t.action = t.relay ? action : NULL;	/* a hand-off asks the api where to (api_twilio.c) */
	if (c->tw_from[0] && ctl_e164(c->tw_from, from, sizeof(from)) < 0) {
		fprintf(stderr, "vagentctl: [twilio] from: '%s' is not a phone number\n", c->tw_from);
		return -1;
	}
	buf_init(&tw, 1u << 16);
	if ((rc = twiml_connect(&tw, &t)) < 0)
		fprintf(stderr, "vagentctl: [twilio] public_url: an https:// URL is required\n");
	else
		rc = ctl_twilio_call(c, o->to, c->tw_from[0] ? from : o->did, buf_str(&tw));
	buf_free(&tw);
	return rc;
}

/* ---- ElevenLabs ---- */

static json_t *xi_body(const char *agent, const char *phone_id, const struct call_opts *o)
{
	json_t *dv = json_pack("{s:s, s:s}", "did_number", o->did + 1, "caller_id", o->to + 1);

	for (size_t i = 2; dv && i < o->n; i++)
		json_object_set_new(dv, o->names[i], json_string(o->values[i]));
	return json_pack("{s:s, s:s, s:s, s:{s:o}}", "agent_id", agent, "agent_phone_number_id",
			 phone_id, "to_number", o->to, "conversation_initiation_client_data",
			 "dynamic_variables", dv);
}

static int via_elevenlabs(const struct conf *c, const struct call_opts *o)
{
	char key[256], agent[128], err[PATH_MAX + 256], url[512], hdr[300], why[512];
	const char *phone = o->phone_id ? o->phone_id : c->tw_xi_phone_id;
	struct buf ans;
	long status;
	int rc = -1;

	if (conf_xi_agent_id(c, agent, sizeof(agent)) < 0 || !phone[0]) {
		fprintf(stderr, "vagentctl: %s\n", !phone[0] ?
			"[twilio] elevenlabs_phone_number_id (or --phone-number-id): the id "
			"ElevenLabs gave the imported Twilio number" :
			"no agent: [elevenlabs] agent_id, or ids_file from `vagentctl provision "
			"elevenlabs`");
		return -1;
	}
	if (conf_read_secret(c->xi_key_file, "VAGENT_ELEVENLABS_API_KEY", key, sizeof(key),
			     "[elevenlabs] api_key_file", err, sizeof(err)) < 0 || !key[0]) {
		fprintf(stderr, "vagentctl: %s\n", key[0] ? err : "no ElevenLabs API key: set "
			"[elevenlabs] api_key_file or VAGENT_ELEVENLABS_API_KEY");
		return -1;
	}
	json_t *body = xi_body(agent, phone, o);
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	snprintf(url, sizeof(url), "%s/v1/convai/twilio/outbound-call", c->xi_url);
	snprintf(hdr, sizeof(hdr), "xi-api-key: %s", key);
	buf_init(&ans, 0);
	struct ctl_http_req r = { .url = url, .content_type = "application/json", .body = text,
				  .header = hdr };
	if (!text) {
		fprintf(stderr, "vagentctl: out of memory\n");
	} else if (ctl_http_post(&r, &status, &ans, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: ElevenLabs: POST %s: %s\n", url, err);
	} else if (status < 200 || status > 299) {
		xi_error_text(buf_str(&ans), ans.len, why, sizeof(why));
		fprintf(stderr, status == 401 ? "vagentctl: ElevenLabs refused the API key "
			"([elevenlabs] api_key_file): %s\n" : "vagentctl: ElevenLabs: %s\n", why);
	} else {
		json_t *j = json_loadb((const char *)ans.data, ans.len, 0, NULL);
		const char *m = json_string_value(json_object_get(j, "message"));
		if (json_is_true(json_object_get(j, "success"))) {
			printf("call %s to %s through ElevenLabs: conversation %s\n",
			       json_string_value(json_object_get(j, "callSid")) ?: "-", o->to,
			       json_string_value(json_object_get(j, "conversation_id")) ?: "-");
			rc = 0;
		} else {
			fprintf(stderr, "vagentctl: ElevenLabs: the call failed: %s\n", m ? m : "?");
		}
		json_decref(j);
	}
	explicit_bzero(key, sizeof(key));
	explicit_bzero(hdr, sizeof(hdr));
	free(text);
	json_decref(body);
	buf_free(&ans);
	return rc;
}

/* ---- the command ---- */

static void usage(FILE *fp)
{
	fprintf(fp, "usage: vagentctl [-c FILE] call NUMBER --did DID [--var NAME=VALUE]... "
		"[--via twilio|elevenlabs] [--phone-number-id ID]\n");
}

static bool var_name_ok(const char *s, size_t n)
{
	static const char *const taken[] = { "did", "caller", "did_number", "caller_id" };

	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (strlen(taken[i]) == n && !strncmp(s, taken[i], n))
			return false;
	return true;
}

/* --var NAME=VALUE into o. 0, or -1 (said). */
static int add_var(struct call_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t nv = o->n - 2;

	if (!eq || !var_name_ok(arg, (size_t)(eq - arg)) || nv >= VARS_MAX ||
	    strlen(eq + 1) > 1024) {
		fprintf(stderr, "vagentctl: --var %s: NAME=VALUE, NAME of [A-Za-z0-9_] (not did, "
			"caller, did_number or caller_id), at most %d variables\n", arg, VARS_MAX);
		return -1;
	}
	if (!(o->owned[nv] = strdup(arg)))
		return -1;
	o->owned[nv][eq - arg] = '\0';
	o->names[o->n] = o->owned[nv];
	o->values[o->n++] = o->owned[nv] + (eq - arg) + 1;
	return 0;
}

/* 0 fine, 2 usage (said). */
static int parse(struct call_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "did", required_argument, NULL, 'd' },
		{ "var", required_argument, NULL, 'v' },
		{ "via", required_argument, NULL, 'V' },
		{ "phone-number-id", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *did = NULL;
	int opt;

	o->n = 2;
	if (argc < 1 || argv[0][0] == '-') {
		usage(argc >= 1 && !strcmp(argv[0], "--help") ? stdout : stderr);
		return argc >= 1 && !strcmp(argv[0], "--help") ? 1 : 2;
	}
	optind = 0;	/* GNU: start over, at argv[1] (argv[0] is the number) */
	while ((opt = getopt_long(argc, argv, "+d:v:V:p:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': did = optarg; break;
		case 'v': if (add_var(o, optarg) < 0) return 2; break;
		case 'V': o->via_xi = !strcmp(optarg, "elevenlabs");
			  if (!o->via_xi && strcmp(optarg, "twilio")) { usage(stderr); return 2; }
			  break;
		case 'p': o->phone_id = optarg; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !did) {
		usage(stderr);
		return 2;
	}
	if (ctl_e164(argv[0], o->to, sizeof(o->to)) < 0 ||
	    ctl_e164(did, o->did, sizeof(o->did)) < 0) {
		fprintf(stderr, "vagentctl: %s is not a phone number\n",
			ctl_e164(argv[0], o->to, sizeof(o->to)) < 0 ? argv[0] : did);
		return 2;
	}
	o->names[0] = "did";
	o->values[0] = o->did;
	o->names[1] = "caller";
	o->values[1] = o->to;
	return 0;
}

int ctl_call(const struct conf *c, int argc, char **argv)
{
	struct call_opts o = { 0 };
	int rc = parse(&o, argc, argv);

	if (rc == 0)
		rc = (o.via_xi ? via_elevenlabs(c, &o) : via_twilio(c, &o)) < 0 ? 1 : 0;
	else if (rc == 1)
		rc = 0;		/* --help */
	for (size_t i = 0; i < VARS_MAX; i++)
		free(o.owned[i]);
	return rc;
}
