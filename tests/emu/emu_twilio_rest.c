/*
 * emu_twilio_rest.c - a TEST DOUBLE of the REST endpoints vagent's
 * outbound calls use: Twilio's Calls resource (POST
 * /2010-04-01/Accounts/{AccountSid}/Calls.json, form-encoded, basic auth
 * AccountSid:AuthToken) on its own port (--twilio-rest PORT), and
 * ElevenLabs' POST /v1/convai/twilio/outbound-call (protocols.md 5.6),
 * served by the --xi-api emulator through emu_xi_outbound_call().
 *
 * Twilio's answers have its shapes: 201 and the call resource (sid CA...,
 * status "queued", direction "outbound-api"); errors as
 * {"code","message","more_info","status"}: 20003 for missing or wrong
 * credentials (401), 21201 without To, 21603 without From, 21205 without
 * Url or Twiml (400), 20404 for any other path (404). With
 * --twilio-connect-to the callee answers at once and the call's Twiml runs
 * (emu_twilio_dial.c: a <Connect><Stream> dials back to vagentd); without
 * it nobody is called: the emulator only says it would.
 * Emulator-only endpoint: GET /emu/requests (DELETE clears) on the Twilio
 * port lists the last 200 requests as {"method","path","account","form"}
 * (form: name -> value, decoded); the token is never recorded. GET
 * /emu/calls lists the calls placed and how their streams went.
 *
 * Owns: its evhttp server (main thread) and its request record.
 * Never: blocks the loop; fetches a Url (only Twiml runs).
 * Fails: a port that cannot be bound fails emu_twilio_rest_start.
 */
#include "emu.h"
#include "emu_twilio_dial.h"

#include "../../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct emu_twilio_rest {
	struct emu *e;
	struct evhttp *http;
	struct emu_rng rng;
	struct emu_rec rec;
	unsigned calls;
	struct emu_tw_dials *dials;	/* NULL: calls are only recorded */
};

static void reply(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *b = evbuffer_new();
	char *s = body ? json_dumps(body, EMU_JSON_FLAGS) : NULL;
	const char *reason = status == 200 ? "OK" : status == 201 ? "Created" :
			     status == 400 ? "Bad Request" : status == 401 ? "Unauthorized" :
			     status == 404 ? "Not Found" : status == 422 ? "Unprocessable Entity" :
			     "Error";

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (b && s)
		evbuffer_add(b, s, strlen(s));
	evhttp_send_reply(req, status, reason, b);
	if (b)
		evbuffer_free(b);
	free(s);
	json_decref(body);
}

static void twilio_error(struct evhttp_request *req, int status, int code, const char *msg)
{
	char more[96];

	snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%d", code);
	reply(req, status, json_pack("{s:i, s:s, s:s, s:i}", "code", code, "message", msg,
				     "more_info", more, "status", status));
}

/* Basic auth as sid:token (--twilio-sid/--twilio-token), else any Basic credentials. */
static bool auth_ok(struct emu_twilio_rest *t, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Authorization");
	const char *sid = t->e->opt.twilio_sid, *token = t->e->opt.twilio_token;
	char pair[256];
	bool ok;

	if (!h || strncmp(h, "Basic ", 6) || !h[6])
		return false;
	if (!sid || !token)
		return true;
	snprintf(pair, sizeof(pair), "%s:%s", sid, token);
	char *want = emu_base64((const uint8_t *)pair, strlen(pair));
	ok = want && !strcmp(h + 6, want);
	free(want);
	return ok;
}

/* The body as a form, into an object (name -> value); NULL if it is not one. */
static json_t *form_of(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct evkeyvalq q;
	struct evkeyval *kv;
	char *text = malloc(len + 1);
	json_t *out = NULL;

	TAILQ_INIT(&q);
	if (!text)
		return NULL;
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	if (!memchr(text, '\0', len) && evhttp_parse_query_str(text, &q) == 0 &&
	    (out = json_object()))
		TAILQ_FOREACH(kv, &q, next)
			json_object_set_new(out, kv->key, json_string(kv->value));
	evhttp_clear_headers(&q);
	free(text);
	return out;
}

/* "/2010-04-01/Accounts/<sid>/Calls.json" -> sid; false if the path is not that. */
static bool calls_path(const char *path, char *sid, size_t len)
{
	static const char pre[] = "/2010-04-01/Accounts/", post[] = "/Calls.json";
	size_t n = strlen(path);

	if (strncmp(path, pre, sizeof(pre) - 1) || n < sizeof(pre) - 1 + sizeof(post) ||
	    strcmp(path + n - (sizeof(post) - 1), post))
		return false;
	n -= sizeof(pre) - 1 + sizeof(post) - 1;
	if (!n || n >= len || memchr(path + sizeof(pre) - 1, '/', n))
		return false;
	snprintf(sid, len, "%.*s", (int)n, path + sizeof(pre) - 1);
	return true;
}

static void create_call(struct emu_twilio_rest *t, struct evhttp_request *req,
			const char *account, json_t *form)
{
	const char *to = json_string_value(json_object_get(form, "To"));
	const char *from = json_string_value(json_object_get(form, "From"));
	char sid[40], uri[160];

	if (!to || !*to)
		{ twilio_error(req, 400, 21201, "No 'To' number is specified"); return; }
	if (!from || !*from)
		{ twilio_error(req, 400, 21603, "A 'From' phone number is required."); return; }
	if (!json_object_get(form, "Url") && !json_object_get(form, "Twiml") &&
	    !json_object_get(form, "ApplicationSid"))
		{ twilio_error(req, 400, 21205, "Url parameter is required."); return; }
	emu_rand_id(&t->rng, "CA", 32, sid, sizeof(sid));
	snprintf(uri, sizeof(uri), "/2010-04-01/Accounts/%s/Calls/%s.json", account, sid);
	t->calls++;
	log_info("twilio", NULL, "twilio-rest emulator: call %s to %s from %s", sid, to, from);
	if (t->dials && emu_tw_dial(t->dials, sid, to,
				    json_string_value(json_object_get(form, "Twiml"))) < 0)
		log_warn("twilio", sid, "twilio-rest emulator: cannot follow the call");
	reply(req, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:s}",
				  "sid", sid, "account_sid", account, "to", to, "from", from,
				  "status", "queued", "direction", "outbound-api",
				  "api_version", "2010-04-01", "uri", uri, "start_time", "duration",
				  "price_unit", "USD"));
}

static const char *method_name(enum evhttp_cmd_type c)
{
	return c == EVHTTP_REQ_GET ? "GET" : c == EVHTTP_REQ_POST ? "POST" :
	       c == EVHTTP_REQ_DELETE ? "DELETE" : "OTHER";
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct emu_twilio_rest *t = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char account[64];

	if (!path)
		{ twilio_error(req, 404, 20404, "The requested resource was not found"); return; }
	if (!strcmp(path, "/emu/calls")) {
		reply(req, 200, t->dials ? emu_tw_dials_dump(t->dials) : json_array());
		return;
	}
	if (!strcmp(path, "/emu/requests")) {
		if (cmd == EVHTTP_REQ_DELETE)
			emu_rec_clear(&t->rec);
		char *s = emu_rec_dump(&t->rec);
		reply(req, 200, s ? json_loads(s, 0, NULL) : json_array());
		free(s);
		return;
	}
	bool is_calls = calls_path(path, account, sizeof(account));
	json_t *form = form_of(req);
	emu_rec_add(&t->rec, json_pack("{s:s, s:s, s:s?, s:O?}", "method", method_name(cmd),
				       "path", path, "account", is_calls ? account : NULL,
				       "form", form));
	if (!auth_ok(t, req) ||
	    (is_calls && t->e->opt.twilio_sid && strcmp(account, t->e->opt.twilio_sid)))
		twilio_error(req, 401, 20003, "Authenticate");
	else if (!is_calls)
		twilio_error(req, 404, 20404, "The requested resource was not found");
	else if (cmd != EVHTTP_REQ_POST || !form)
		twilio_error(req, 405, 20004, "Method not allowed");
	else
		create_call(t, req, account, form);
	json_decref(form);
}

int emu_twilio_rest_start(struct emu *e, struct event_base *base, struct emu_twilio_rest **out,
			  char *err, size_t errlen)
{
	struct emu_twilio_rest *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t || !(t->http = evhttp_new(base))) {
		snprintf(err, errlen, "twilio-rest emulator: out of memory");
		emu_twilio_rest_stop(t);
		return -ENOMEM;
	}
	t->e = e;
	emu_rng_seed(&t->rng, 23);
	if (e->opt.twilio_connect_to && !(t->dials = emu_tw_dials_new(e, base))) {
		snprintf(err, errlen, "twilio-rest emulator: out of memory");
		emu_twilio_rest_stop(t);
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(t->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(t->http, on_request, t);
	if (!evhttp_bind_socket_with_handle(t->http, "127.0.0.1",
					    (ev_uint16_t)e->opt.twilio_rest_port)) {
		snprintf(err, errlen, "twilio-rest emulator: cannot listen on 127.0.0.1:%d",
			 e->opt.twilio_rest_port);
		emu_twilio_rest_stop(t);
		return -EADDRINUSE;
	}
	*out = t;
	return 0;
}

void emu_twilio_rest_stop(struct emu_twilio_rest *t)
{
	if (!t)
		return;
	if (t->http)
		evhttp_free(t->http);
	emu_tw_dials_free(t->dials);
	emu_rec_clear(&t->rec);
	free(t);
}

/* ---- ElevenLabs: POST /v1/convai/twilio/outbound-call (on the --xi-api port) ---- */

/* FastAPI's validation error, as ElevenLabs answers a body it cannot take. */
static void reply_invalid(struct evhttp_request *req, const char *type, const char *field,
			  const char *msg)
{
	reply(req, 422, json_pack("{s:[{s:s, s:[s, s], s:s}]}", "detail", "type", type, "loc",
				  "body", field, "msg", msg));
}

void emu_xi_outbound_call(struct evhttp_request *req, json_t *body, struct emu_rng *rng)
{
	static const char *const need[] = { "agent_id", "agent_phone_number_id", "to_number" };
	json_t *cd = json_object_get(body, "conversation_initiation_client_data");
	json_t *dv = json_object_get(cd, "dynamic_variables");
	char conv[48], sid[40];

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply(req, 405, json_pack("{s:s}", "detail", "Method Not Allowed"));
		return;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!json_is_string(json_object_get(body, need[i]))) {
			reply_invalid(req, "missing", need[i], "Field required");
			return;
		}
	if ((cd && !json_is_object(cd)) || (dv && !json_is_object(dv))) {
		reply_invalid(req, "dict_type", "conversation_initiation_client_data",
			      "Input should be a valid dictionary");
		return;
	}
	emu_rand_id(rng, "conv_", 26, conv, sizeof(conv));
	emu_rand_id(rng, "CA", 32, sid, sizeof(sid));
	reply(req, 200, json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "message",
				  "Success", "conversation_id", conv, "callSid", sid));
}
