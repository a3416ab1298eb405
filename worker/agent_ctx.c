/*
 * agent_ctx.c - who the caller rang: the call's context, the system prompt
 * and the greeting.
 *
 * The DID and caller ID come from the dialplan's context file (call.c);
 * the company, trade, fee and repeat-caller flag from the api's
 * did_context, the very endpoint a cloud agent calls, so both agents know
 * the same things. If the api does not answer within 1.5 s the seed's
 * fallback context is used: the caller hears a greeting either way.
 *
 * Templates use {{name}} like ElevenLabs' dynamic variables, so one prompt
 * file serves the local and the cloud agent (agent_render.c fills them).
 *
 * The did_context answer is peer input (a PHP backend may answer
 * "caller_id": null or a fee as a string): a field of the wrong type is
 * replaced by the fallback's value, logged once, so the prompt, the
 * greeting and a booking always find the types they need.
 *
 * An outbound call's own variables (vagentctl call --var, carried as
 * Twilio customParameters) join the context under their names, but never
 * over a field the api gave: whoever places a call may name the customer
 * or the job, not change the company's fee.
 *
 * agent_ctx_fetch() is the lookup alone, for the ElevenLabs bridge too,
 * which hands the same fields to its agent as dynamic variables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "agent.h"
#include "call.h"
#include "http.h"
#include "worker.h"

#define CONTEXT_TIMEOUT_MS 1500

struct ctx_fetch {
	struct call *call;
	const char *uuid;
	struct http_req **req;		/* the owner's: cleared when done */
	struct ctx_fetch **self;
	void (*ready)(void *arg, json_t *vars);
	void *arg;
	char body[8192];
	size_t len;
};

static json_t *fallback(struct call *c)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:n, s:b, s:s, s:s}",
			 "company_name", "Home Services", "trade_type", "plumbing",
			 "trade_label", "plumber", "callout_fee", 49, "area", "is_repeat", 0,
			 "did_number", call_did(c), "caller_id", call_cli(c));
}

static const char *time_greeting(void)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);	/* TZ is [api] time_zone, set when the worker starts */
	return tm.tm_hour < 12 ? "good morning" : tm.tm_hour < 18 ? "good afternoon" :
				 "good evening";
}

/* The fields the agent reads and the JSON types they must have. */
static const struct {
	const char *key;
	json_type type;
} ctx_fields[] = {
	{ "company_name", JSON_STRING }, { "trade_type", JSON_STRING },
	{ "trade_label", JSON_STRING }, { "callout_fee", JSON_INTEGER },
	{ "area", JSON_STRING }, { "is_repeat", JSON_TRUE },	/* JSON_TRUE: either boolean */
	{ "did_number", JSON_STRING }, { "caller_id", JSON_STRING },
};

static bool type_ok(json_t *v, json_type want)
{
	if (want == JSON_TRUE)
		return json_is_boolean(v);
	if (want == JSON_INTEGER)
		return json_is_number(v) && json_number_value(v) >= 0;
	return v && json_typeof(v) == want && (want != JSON_STRING || json_string_length(v));
}

/*
 * The api's answer with every field the agent reads of the right type:
 * a missing, null, empty or wrong-typed one takes the fallback's value.
 * Returns how many had a wrong type (listed in bad), 0 when none.
 */
static int ctx_clean(json_t *vars, json_t *defaults, char *bad, size_t len)
{
	size_t n = 0;
	int nbad = 0;

	bad[0] = '\0';
	for (size_t i = 0; i < sizeof(ctx_fields) / sizeof(ctx_fields[0]); i++) {
		const char *key = ctx_fields[i].key;
		json_t *v = json_object_get(vars, key);
		bool unknown = !v || json_is_null(v) || (json_is_string(v) && !json_string_length(v));
		if (type_ok(v, ctx_fields[i].type))
			continue;
		if (!unknown && n < len)	/* not known is normal; a wrong type is not */
			n += (size_t)snprintf(bad + n, len - n, "%s%s", n ? ", " : "", key);
		json_object_set(vars, key, json_object_get(defaults, key));
		nbad += !unknown;
	}
	return nbad;
}

static const char *str_or(json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* The api's answer (or NULL) made whole: every field of the right type. */
static json_t *vars_clean(struct call *c, const char *uuid, json_t *vars)
{
	json_t *defaults = fallback(c);
	char bad[256];

	if (!vars || !defaults) {
		log_error("agent", uuid, "context: out of memory");
		json_decref(vars);
		vars = defaults ? defaults : json_object();
		defaults = NULL;
	} else if (ctx_clean(vars, defaults, bad, sizeof(bad))) {
		log_warn("agent", uuid, "did_context: wrong type for %s: default used", bad);
	}
	json_decref(defaults);
	json_object_set_new(vars, "time_greeting", json_string(time_greeting()));
	if (call_vars(c))
		json_object_update_missing(vars, call_vars(c));
	return vars;
}

/* The context is known: prompt, tools, greeting; the caller's turn next. */
static void context_ready(void *arg, json_t *vars)
{
	struct agent *a = arg;

	json_decref(a->vars);
	a->vars = vars;
	char *prompt, *greeting;	/* NULL when out of memory */
	agent_render(a->conf->prompt, vars, &prompt);
	agent_render(a->conf->local_greeting, vars, &greeting);
	json_array_append_new(a->history, json_pack("{s:s, s:s}", "role", "system",
						    "content", prompt ? prompt : ""));
	a->tools = agent_tool_defs(a->conf);
	log_info("agent", a->uuid, "context: %s (%s), repeat caller %s",
		 str_or(json_object_get(vars, "company_name"), "?"),
		 str_or(json_object_get(vars, "trade_type"), "?"),
		 json_is_true(json_object_get(vars, "is_repeat")) ? "yes" : "no");
	agent_enter(a, AG_LISTENING, "context known");
	agent_say(a, greeting ? greeting : "Hello, how can I help?", true);
	free(prompt);
	free(greeting);
}

static bool ctx_data(void *arg, const char *data, size_t len)
{
	struct ctx_fetch *f = arg;

	if (f->len + len >= sizeof(f->body))
		return false;	/* no context is that large */
	memcpy(f->body + f->len, data, len);
	f->len += len;
	return true;
}

static void ctx_done(void *arg, int curl_code, long status, const char *error)
{
	struct ctx_fetch *f = arg;
	json_error_t jerr;
	json_t *j = NULL;

	*f->req = NULL;
	*f->self = NULL;
	if (!curl_code && status == 200)
		j = json_loadb(f->body, f->len, 0, &jerr);
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "company_name"))) {
		log_warn("agent", f->uuid, "did_context failed (%s, HTTP %ld): fallback context",
			 error ? error : "bad answer", status);
		json_decref(j);
		j = fallback(f->call);
	}
	void (*ready)(void *, json_t *) = f->ready;
	void *rarg = f->arg;
	struct call *c = f->call;
	const char *uuid = f->uuid;
	free(f);
	ready(rarg, vars_clean(c, uuid, j));
}

static const struct http_handlers ctx_handlers = { NULL, ctx_data, ctx_done };

void agent_ctx_fetch(struct worker *w, struct call *c, struct http_req **req,
		     struct ctx_fetch **fetch, void (*ready)(void *arg, json_t *vars), void *arg)
{
	const struct conf *conf = call_conf(c);
	char url[320], key[300], *body;
	const char *headers[] = { "Content-Type: application/json", key, NULL };
	struct ctx_fetch *f;

	*req = NULL;
	*fetch = NULL;
	if (!conf->local_api_url[0] || !call_did(c)[0] || !(f = calloc(1, sizeof(*f)))) {
		ready(arg, vars_clean(c, call_uuid(c), fallback(c)));
		return;
	}
	*f = (struct ctx_fetch){ .call = c, .uuid = call_uuid(c), .req = req, .self = fetch,
				 .ready = ready, .arg = arg };
	*fetch = f;
	snprintf(url, sizeof(url), "%s/api/voice-agent/did_context", conf->local_api_url);
	snprintf(key, sizeof(key), "X-API-Key: %s", conf->secrets->api_key);
	json_t *q = json_pack("{s:s, s:s}", "did_number", call_did(c), "caller_id", call_cli(c));
	body = json_dumps(q, JSON_COMPACT);
	json_decref(q);
	struct http_opts o = { .method = "POST", .url = url, .headers = headers, .body = body,
			       .body_len = body ? strlen(body) : 0,
			       .timeout_ms = CONTEXT_TIMEOUT_MS, .connect_timeout_ms = 500 };
	int rc = body ? http_start(worker_http(w), req, &o, &ctx_handlers, f) : -ENOMEM;
	explicit_bzero(key, sizeof(key));
	free(body);
	if (rc < 0) {
		free(f);
		*fetch = NULL;
		ready(arg, vars_clean(c, call_uuid(c), fallback(c)));
	}
}

void agent_context_start(struct agent *a)
{
	agent_ctx_fetch(a->w, a->call, &a->ctx_req, &a->ctx_fetch, context_ready, a);
}
