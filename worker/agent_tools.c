/*
 * agent_tools.c - what the model may do besides talk.
 *
 *   create_booking  the caller's name, postcode, address and problem; the
 *                   phone, DID, company, fee and repeat flag come from the
 *                   call's context and are never asked (agent_booking.c:
 *                   answered once the booking-writer has it on disk).
 *   end_call        finish what is being said, then hang up.
 *   transfer_to_human  pass the caller to a person (agent_handoff.c).
 *   [tool:NAME]     webhooks from the configuration, like a cloud agent's
 *                   server tools: the model's arguments as the JSON body.
 *
 * Results go back to the model as tool messages, in the order it asked.
 * If the tools take a while and nothing is being said, a short filler
 * line fills the silence.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "agent.h"
#include "call.h"
#include "http.h"
#include "worker.h"

#define FILLER_AFTER_US 400000
#define RESULT_MAX 4096

struct agent_tool_call {
	struct agent_tool_call *next;
	struct agent *a;
	char id[128];
	char name[72];
	char *result;			/* JSON text for the tool message; NULL: pending */
	struct agent_booking *bk;	/* create_booking */
	struct http_req *req;		/* a webhook */
	char body[RESULT_MAX + 1];
	size_t body_len;
};

json_t *agent_tool_defs(const struct conf *c)
{
	json_t *tools = json_pack(
		"[{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}, "
		"s:{s:s, s:s}}, s:[s, s, s, s]}}}, "
		"{s:s, s:{s:s, s:s, s:{s:s, s:{}}}}]",
		"type", "function", "function", "name", "create_booking", "description",
		"Book the job once the caller has agreed to the callout fee and given their "
		"name, postcode, address and problem. Their phone number is already known.",
		"parameters", "type", "object", "properties",
		"customer_name", "type", "string", "description", "The caller's full name",
		"postcode", "type", "string", "description", "UK postcode, e.g. E5 9ES",
		"address", "type", "string", "description", "House number and street",
		"problem_description", "type", "string", "description", "One line on the problem",
		"required", "customer_name", "postcode", "address", "problem_description",
		"type", "function", "function", "name", "end_call", "description",
		"Hang up after your last words have been said. Say goodbye first.",
		"parameters", "type", "object", "properties");

	json_array_append_new(tools, agent_handoff_tool_def());
	for (size_t i = 0; i < c->ntools; i++) {
		json_error_t je;
		json_t *params = json_loads(c->tools[i].parameters, 0, &je);
		if (!json_is_object(params)) {	/* the API wants an object schema */
			json_decref(params);
			params = json_object();
		}
		json_array_append_new(tools, json_pack("{s:s, s:{s:s, s:s, s:o}}", "type",
			"function", "function", "name", c->tools[i].name, "description",
			c->tools[i].description, "parameters", params));
	}
	return tools;
}

static void finish_call(struct agent_tool_call *t, json_t *result)
{
	t->result = json_dumps(result, JSON_COMPACT);
	json_decref(result);
	if (!t->result)
		t->result = strdup("{\"error\":\"out of memory\"}");
}

/* All answered: tool messages in order, then back to the model. */
static void maybe_done(struct agent *a)
{
	for (struct agent_tool_call *t = a->calls; t; t = t->next)
		if (!t->result)
			return;
	while (a->calls) {
		struct agent_tool_call *t = a->calls;
		a->calls = t->next;
		json_array_append_new(a->history, json_pack("{s:s, s:s, s:s}", "role", "tool",
			"tool_call_id", t->id, "content", t->result ? t->result : "{}"));
		agent_booking_cancel(t->bk);
		free(t->result);
		free(t);
	}
	agent_tools_done(a);
}

/* ---- create_booking (agent_booking.c) ---- */

static void booking_done(void *arg, json_t *result, bool booked)
{
	struct agent_tool_call *t = arg;

	t->a->booked |= booked;
	finish_call(t, result);
	maybe_done(t->a);
}

static void create_booking(struct agent_tool_call *t, json_t *args)
{
	if (agent_booking_start(&t->bk, t->a->call, t->a->vars, args, "local", booking_done,
				t) < 0)
		finish_call(t, json_pack("{s:b, s:s}", "success", 0, "error", "out of memory"));
}

/* ---- webhooks ---- */

static bool hook_data(void *arg, const char *data, size_t len)
{
	struct agent_tool_call *t = arg;
	size_t n = t->body_len + len > RESULT_MAX ? RESULT_MAX - t->body_len : len;

	memcpy(t->body + t->body_len, data, n);
	t->body_len += n;
	return true;
}

static void hook_done(void *arg, int curl_code, long status, const char *error)
{
	struct agent_tool_call *t = arg;
	json_error_t je;

	t->req = NULL;
	t->body[t->body_len] = '\0';
	json_t *j = status >= 200 && status < 300 ? json_loads(t->body, 0, &je) : NULL;
	if (j)
		finish_call(t, j);
	else if (!curl_code && status >= 200 && status < 300)
		finish_call(t, json_pack("{s:s}", "result", t->body));
	else
		finish_call(t, json_pack("{s:s, s:I}", "error", error ? error : "request failed",
					 "status", (json_int_t)status));
	log_info("agent", t->a->uuid, "tool %s answered HTTP %ld", t->name, status);
	maybe_done(t->a);
}

static const struct http_handlers hook_handlers = { NULL, hook_data, hook_done };

static void webhook(struct agent_tool_call *t, const struct conf_tool *ct, const char *args)
{
	char hdrs[sizeof(ct->headers)], *list[10] = { "Content-Type: application/json" };
	int n = 1;

	snprintf(hdrs, sizeof(hdrs), "%s", ct->headers);
	for (char *save, *h = strtok_r(hdrs, ";", &save); h && n < 9; h = strtok_r(NULL, ";", &save)) {
		while (*h == ' ')
			h++;
		if (*h)
			list[n++] = h;
	}
	list[n] = NULL;
	struct http_opts o = { .method = ct->method, .url = ct->url,
			       .headers = (const char *const *)list, .body = args,
			       .body_len = strlen(args), .timeout_ms = ct->timeout_ms };
	if (!strcmp(ct->method, "GET"))
		o.body = NULL;
	if (http_start(worker_http(t->a->w), &t->req, &o, &hook_handlers, t) < 0)
		finish_call(t, json_pack("{s:s}", "error", "could not start the request"));
}

/* ---- running them ---- */

static void end_call(struct agent_tool_call *t)
{
	struct agent *a = t->a;

	/* The model said nothing first: say goodbye for it. */
	agent_say_and_end(a, a->reply_ctx ? NULL : a->conf->local_goodbye, true, "end_call");
	finish_call(t, json_pack("{s:b}", "ok", 1));
}

static void transfer_to_human(struct agent_tool_call *t, json_t *args)
{
	agent_handoff_tool(t->a, args);
	finish_call(t, json_pack("{s:b}", "ok", 1));
}

static void filler(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)fd; (void)what;

	if (a->calls && !a->reply_ctx && a->state == AG_TOOLS)
		agent_say(a, a->conf->local_filler, false);
}

static void run_one(struct agent_tool_call *t, json_t *call)
{
	const char *args = json_string_value(json_object_get(call, "arguments"));
	json_error_t je;
	json_t *j = args && *args ? json_loads(args, 0, &je) : json_object();

	if (!j) {
		finish_call(t, json_pack("{s:s}", "error", "arguments are not valid JSON"));
		return;
	}
	log_info("agent", t->a->uuid, "tool %s", t->name);
	if (!strcmp(t->name, "create_booking")) {
		create_booking(t, j);
	} else if (!strcmp(t->name, "end_call")) {
		end_call(t);
	} else if (!strcmp(t->name, "transfer_to_human")) {
		transfer_to_human(t, j);
	} else {
		const struct conf_tool *ct = NULL;
		for (size_t i = 0; i < t->a->conf->ntools; i++)
			if (!strcmp(t->a->conf->tools[i].name, t->name))
				ct = &t->a->conf->tools[i];
		if (ct)
			webhook(t, ct, args && *args ? args : "{}");
		else
			finish_call(t, json_pack("{s:s}", "error", "no such tool"));
	}
	json_decref(j);
}

void agent_run_tools(struct agent *a, json_t *calls)
{
	struct agent_tool_call **tail = &a->calls;
	struct timeval tv = { 0, FILLER_AFTER_US };
	size_t i;
	json_t *c;

	json_array_foreach(calls, i, c) {
		struct agent_tool_call *t = calloc(1, sizeof(*t));
		if (!t)
			break;
		t->a = a;
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *name = json_string_value(json_object_get(c, "name"));
		snprintf(t->id, sizeof(t->id), "%s", id ? id : "");
		snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
		*tail = t;
		tail = &t->next;
	}
	/* Start them all, then see whether any was answered on the spot. */
	i = 0;
	for (struct agent_tool_call *t = a->calls; t; t = t->next)
		run_one(t, json_array_get(calls, i++));
	if (!a->filler_ev)
		a->filler_ev = event_new(a->w->base, -1, 0, filler, a);
	if (a->filler_ev)
		event_add(a->filler_ev, &tv);
	maybe_done(a);
}

void agent_tools_cancel(struct agent *a)
{
	if (a->filler_ev)
		event_free(a->filler_ev);
	a->filler_ev = NULL;
	while (a->calls) {
		struct agent_tool_call *t = a->calls;
		a->calls = t->next;
		agent_booking_cancel(t->bk);
		http_abort(t->req);
		free(t->result);
		free(t);
	}
}
