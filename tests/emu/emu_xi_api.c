/*
 * emu_xi_api.c - a TEST DOUBLE of ElevenLabs' Conversational AI
 * provisioning REST API (protocols.md 5.6), plain HTTP on 127.0.0.1
 * (libevent evhttp, on the main thread), for `vagentctl provision`.
 *
 * Serves GET/POST /v1/convai/tools, GET/PATCH /v1/convai/tools/{id},
 * GET /v1/convai/agents (?search=, case-insensitive substring of the name),
 * POST /v1/convai/agents/create, GET/PATCH /v1/convai/agents/{id}. Every
 * call needs the header xi-api-key (--key-xi-api K, else any non-empty
 * key): none or a wrong one is a 401 with the real body shape
 * {"detail":{"status":...,"message":...}}; a body without what the real
 * API requires is a 422 in FastAPI's shape {"detail":[{"loc","msg","type"}]};
 * an unknown id is a 404. PATCH replaces the top-level keys it is given,
 * as the real one does.
 * Emulator-only endpoints: GET /emu/requests (DELETE clears): the last 200
 * requests as {"method","path","body"}; GET /emu/state: the tools and
 * agents held, and how many were created and updated.
 *
 * Owns: its evhttp server and the tools and agents (in memory, lost at exit).
 * Never: blocks the loop; runs on another thread than the main one.
 * Fails: a port that cannot be bound fails emu_xi_api_start.
 */
#include "emu.h"

#include "../../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct emu_xi_api {
	struct emu *e;
	struct evhttp *http;
	struct emu_rng rng;
	struct emu_rec rec;
	json_t *tools;			/* array of tool objects, as GET answers them */
	json_t *agents;			/* array of whole agents, with agent_id */
	unsigned tool_created, tool_updated, agent_created, agent_updated;
};

static void reply_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *b = evbuffer_new();
	char *s = body ? json_dumps(body, EMU_JSON_FLAGS) : NULL;
	const char *reason = status == 200 ? "OK" : status == 401 ? "Unauthorized" :
			     status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" :
			     status == 422 ? "Unprocessable Entity" : "Error";

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (b && s)
		evbuffer_add(b, s, strlen(s));
	evhttp_send_reply(req, status, reason, b);
	evbuffer_free(b);
	free(s);
	json_decref(body);
}

/* {"detail":{"status":..,"message":..}}: how ElevenLabs words most errors. */
static void reply_detail(struct evhttp_request *req, int status, const char *code,
			 const char *message)
{
	reply_json(req, status, json_pack("{s:{s:s, s:s}}", "detail", "status", code,
					  "message", message));
}

/* FastAPI's validation error, for a body without a required field. */
static void reply_missing(struct evhttp_request *req, const char *field, json_t *input)
{
	reply_json(req, 422, json_pack("{s:[{s:s, s:[s, s], s:s, s:O?}]}", "detail",
				       "type", "missing", "loc", "body", field,
				       "msg", "Field required", "input", input));
}

static bool key_ok(struct emu_xi_api *x, struct evhttp_request *req)
{
	const char *k = evhttp_find_header(evhttp_request_get_input_headers(req), "xi-api-key");
	const char *want = x->e->opt.xi_api_key;

	if (!k || !*k) {
		reply_detail(req, 401, "needs_authorization",
			     "Neither authorization header nor xi-api-key received, please "
			     "provide one.");
		return false;
	}
	if (want && strcmp(k, want)) {
		reply_detail(req, 401, "invalid_api_key", "Invalid API key");
		return false;
	}
	return true;
}

/* The element of arr whose id_key is id, or NULL. */
static json_t *by_id(json_t *arr, const char *id_key, const char *id)
{
	size_t i;
	json_t *it;

	json_array_foreach(arr, i, it)
		if (!strcmp(json_string_value(json_object_get(it, id_key)) ?: "", id))
			return it;
	return NULL;
}

/* ---- tools ---- */

static json_t *new_tool(struct emu_xi_api *x, json_t *config)
{
	char id[40];

	emu_rand_id(&x->rng, "tool_", 24, id, sizeof(id));
	return json_pack("{s:s, s:O, s:{s:b, s:s, s:s, s:s}, s:{s:f}}", "id", id,
			 "tool_config", config, "access_info", "is_creator", 1, "creator_name",
			 "vagent-emu", "creator_email", "emu@example.invalid", "role", "admin",
			 "usage_stats", "avg_latency_secs", 0.0);
}

static bool tool_config_ok(struct evhttp_request *req, json_t *body)
{
	json_t *tc = json_object_get(body, "tool_config");

	if (!json_is_object(tc)) {
		reply_missing(req, "tool_config", body);
		return false;
	}
	if (!json_is_string(json_object_get(tc, "name")) ||
	    !json_is_string(json_object_get(tc, "type"))) {
		reply_json(req, 422, json_pack("{s:[{s:s, s:[s, s, s], s:s}]}", "detail", "type",
					       "missing", "loc", "body", "tool_config", "name",
					       "msg", "Field required"));
		return false;
	}
	return true;
}

static void tools(struct emu_xi_api *x, struct evhttp_request *req, const char *id,
		  json_t *body)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	json_t *t = id ? by_id(x->tools, "id", id) : NULL;

	if (!id && cmd == EVHTTP_REQ_GET) {
		reply_json(req, 200, json_pack("{s:O}", "tools", x->tools));
	} else if (!id && cmd == EVHTTP_REQ_POST) {
		if (!tool_config_ok(req, body))
			return;
		t = new_tool(x, json_object_get(body, "tool_config"));
		json_array_append(x->tools, t);
		x->tool_created++;
		reply_json(req, 200, t);
	} else if (!id) {
		reply_detail(req, 405, "method_not_allowed", "Method Not Allowed");
	} else if (!t) {
		reply_detail(req, 404, "tool_not_found", "Tool not found");
	} else if (cmd == EVHTTP_REQ_GET) {
		reply_json(req, 200, json_incref(t));
	} else if (cmd == EVHTTP_REQ_PATCH) {
		if (!tool_config_ok(req, body))
			return;
		json_object_set(t, "tool_config", json_object_get(body, "tool_config"));
		x->tool_updated++;
		reply_json(req, 200, json_incref(t));
	} else {
		reply_detail(req, 405, "method_not_allowed", "Method Not Allowed");
	}
}

/* ---- agents ---- */

static json_t *agent_summary(json_t *a)
{
	return json_pack("{s:O, s:O, s:O?, s:O, s:{s:b, s:s}}", "agent_id",
			 json_object_get(a, "agent_id"), "name", json_object_get(a, "name"),
			 "tags", json_object_get(a, "tags"), "created_at_unix_secs",
			 json_object_get(a, "created_at_unix_secs"), "access_info", "is_creator",
			 1, "role", "admin");
}

static void list_agents(struct emu_xi_api *x, struct evhttp_request *req)
{
	struct evkeyvalq q = { 0 };	/* empty, as evhttp_parse_query_str() leaves it */
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const char *search = NULL;
	json_t *out = json_array(), *a;
	size_t i;

	if (query && evhttp_parse_query_str(query, &q) == 0)
		search = evhttp_find_header(&q, "search");
	json_array_foreach(x->agents, i, a) {
		const char *name = json_string_value(json_object_get(a, "name")) ?: "";
		if (!search || strcasestr(name, search))
			json_array_append_new(out, agent_summary(a));
	}
	evhttp_clear_headers(&q);
	reply_json(req, 200, json_pack("{s:o, s:n, s:b}", "agents", out, "next_cursor",
				       "has_more", 0));
}

static void agents(struct emu_xi_api *x, struct evhttp_request *req, const char *id,
		   json_t *body)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	json_t *a = id && strcmp(id, "create") ? by_id(x->agents, "agent_id", id) : NULL;
	char aid[40];

	if (!id && cmd == EVHTTP_REQ_GET) {
		list_agents(x, req);
	} else if (id && !strcmp(id, "create") && cmd == EVHTTP_REQ_POST) {
		if (!json_is_object(json_object_get(body, "conversation_config"))) {
			reply_missing(req, "conversation_config", body);
			return;
		}
		emu_rand_id(&x->rng, "agent_", 28, aid, sizeof(aid));
		a = json_deep_copy(body);
		json_object_set_new(a, "agent_id", json_string(aid));
		json_object_set_new(a, "created_at_unix_secs", json_integer((json_int_t)time(NULL)));
		json_array_append_new(x->agents, a);
		x->agent_created++;
		reply_json(req, 200, json_pack("{s:s}", "agent_id", aid));
	} else if (!id || !strcmp(id, "create")) {
		reply_detail(req, 405, "method_not_allowed", "Method Not Allowed");
	} else if (!a) {
		reply_detail(req, 404, "agent_not_found", "Agent not found");
	} else if (cmd == EVHTTP_REQ_GET) {
		reply_json(req, 200, json_incref(a));
	} else if (cmd == EVHTTP_REQ_PATCH && json_is_object(body)) {
		const char *k;
		json_t *v;
		json_object_foreach(body, k, v)
			if (strcmp(k, "agent_id"))
				json_object_set(a, k, v);
		x->agent_updated++;
		reply_json(req, 200, json_incref(a));
	} else {
		reply_json(req, 422, json_pack("{s:[{s:s, s:[s], s:s}]}", "detail", "type",
					       "json_invalid", "loc", "body", "msg",
					       "JSON decode error"));
	}
}

/* ---- routing ---- */

static void inspect(struct emu_xi_api *x, struct evhttp_request *req, bool state)
{
	if (state) {
		reply_json(req, 200, json_pack("{s:O, s:O, s:i, s:i, s:i, s:i}", "tools", x->tools,
					       "agents", x->agents, "tool_created",
					       (int)x->tool_created, "tool_updated",
					       (int)x->tool_updated, "agent_created",
					       (int)x->agent_created, "agent_updated",
					       (int)x->agent_updated));
		return;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE)
		emu_rec_clear(&x->rec);
	char *s = emu_rec_dump(&x->rec);
	reply_json(req, 200, s ? json_loads(s, 0, NULL) : json_array());
	free(s);
}

static const char *method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PUT: return "PUT";
	default: return "OTHER";
	}
}

/* "/v1/convai/<what>[/<id>]": *id is the rest (no further '/'), or NULL. */
static bool route(const char *path, const char *what, char *id, size_t idlen, bool *has_id)
{
	size_t n = strlen(what);

	if (strncmp(path, what, n) || (path[n] && path[n] != '/'))
		return false;
	*has_id = path[n] == '/' && path[n + 1];
	if (*has_id && (strchr(path + n + 1, '/') || strlen(path + n + 1) >= idlen))
		return false;
	snprintf(id, idlen, "%s", *has_id ? path + n + 1 : "");
	return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct emu_xi_api *x = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *raw = (const char *)evbuffer_pullup(in, -1);
	char id[128];
	bool has_id;

	if (!path)
		path = "/";
	if (!strcmp(path, "/emu/requests") || !strcmp(path, "/emu/state")) {
		inspect(x, req, !strcmp(path, "/emu/state"));
		return;
	}
	json_t *body = len ? json_loadb(raw, len, 0, NULL) : NULL;
	emu_rec_add(&x->rec, json_pack("{s:s, s:s, s:O?}", "method",
				       method_name(evhttp_request_get_command(req)), "path", path,
				       "body", body));
	if (!key_ok(x, req)) {
		log_info("xi", NULL, "xi-api emulator: 401 %s", path);
	} else if (len && !body) {
		reply_json(req, 422, json_pack("{s:[{s:s, s:[s, i], s:s}]}", "detail", "type",
					       "json_invalid", "loc", "body", 0, "msg",
					       "JSON decode error"));
	} else if (route(path, "/v1/convai/tools", id, sizeof(id), &has_id)) {
		tools(x, req, has_id ? id : NULL, body);
	} else if (!strcmp(path, "/v1/convai/twilio/outbound-call")) {
		emu_xi_outbound_call(req, body, &x->rng);	/* emu_twilio_rest.c */
	} else if (route(path, "/v1/convai/agents", id, sizeof(id), &has_id)) {
		agents(x, req, has_id ? id : NULL, body);
	} else {
		reply_json(req, 404, json_pack("{s:s}", "detail", "Not Found"));
	}
	json_decref(body);
}

int emu_xi_api_start(struct emu *e, struct event_base *base, struct emu_xi_api **out,
		     char *err, size_t errlen)
{
	struct emu_xi_api *x = calloc(1, sizeof(*x));

	*out = NULL;
	if (!x || !(x->http = evhttp_new(base)) || !(x->tools = json_array()) ||
	    !(x->agents = json_array())) {
		snprintf(err, errlen, "xi-api emulator: out of memory");
		emu_xi_api_stop(x);
		return -ENOMEM;
	}
	x->e = e;
	emu_rng_seed(&x->rng, 11);
	evhttp_set_allowed_methods(x->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PATCH |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT);
	evhttp_set_gencb(x->http, on_request, x);
	if (!evhttp_bind_socket_with_handle(x->http, "127.0.0.1", (ev_uint16_t)e->opt.xi_api_port)) {
		snprintf(err, errlen, "xi-api emulator: cannot listen on 127.0.0.1:%d",
			 e->opt.xi_api_port);
		emu_xi_api_stop(x);
		return -EADDRINUSE;
	}
	*out = x;
	return 0;
}

void emu_xi_api_stop(struct emu_xi_api *x)
{
	if (!x)
		return;
	if (x->http)
		evhttp_free(x->http);
	emu_rec_clear(&x->rec);
	json_decref(x->tools);
	json_decref(x->agents);
	free(x);
}
