/*
 * emu_oai_check.c - checks a chat completions request the way the real
 * OpenAI/Groq API does, for vagent-emu (a provider TEST DOUBLE): model
 * required; messages a non-empty array with roles system, user,
 * assistant, tool (developer too); assistant tool_calls with id, type
 * "function", function.name and function.arguments as a STRING; each tool
 * message answering a tool_call_id of the assistant message before it,
 * and every such call answered; tools of {type:"function", function:
 * {name [A-Za-z0-9_-]{1,64}, description, parameters (object)}}; n == 1;
 * value ranges; no unknown top-level argument. Error texts are the real
 * API's where known.
 *
 * Owns: nothing but the error it fills in.
 * Never: keeps references to the body.
 * Fails: -EINVAL with oai_err (status 400, type invalid_request_error).
 */
#include "emu_oai.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oai_err_set(struct oai_err *er, int status, const char *type, const char *code,
		 const char *param, const char *fmt, ...)
{
	va_list ap;

	er->status = status;
	er->type = type;
	er->code = code;
	snprintf(er->param, sizeof(er->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(er->message, sizeof(er->message), fmt, ap);
	va_end(ap);
}

char *oai_err_body(const struct oai_err *er)
{
	json_t *j = json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", er->message,
			      "type", er->type, "param", er->param[0] ? er->param : NULL,
			      "code", er->code);
	char *s = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL;

	json_decref(j);
	return s;
}

#define BAD(er, code, param, ...) \
	(oai_err_set(er, 400, "invalid_request_error", code, param, __VA_ARGS__), -EINVAL)

static const char *type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a decimal";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int bad_type(struct oai_err *er, const char *param, const char *want, json_t *v)
{
	return BAD(er, "invalid_type", param, "Invalid type for '%s': expected %s, but got %s instead.",
		   param, want, type_name(v));
}

static int missing(struct oai_err *er, const char *param)
{
	return BAD(er, "missing_required_parameter", param, "Missing required parameter: '%s'.", param);
}

/* A string, or an array of {"type":"text","text":...} parts. */
static int check_content(json_t *c, const char *param, struct oai_err *er)
{
	json_t *part;
	size_t i;

	if (json_is_string(c))
		return 0;
	if (!json_is_array(c))
		return bad_type(er, param, "one of a string or array of objects", c);
	json_array_foreach(c, i, part) {
		const char *t = json_string_value(json_object_get(part, "type"));
		char p[160];

		snprintf(p, sizeof(p), "%s[%zu]", param, i);
		if (!json_is_object(part))
			return bad_type(er, p, "an object", part);
		if (!t)
			return missing(er, p);
		if (!strcmp(t, "text") && !json_is_string(json_object_get(part, "text")))
			return bad_type(er, p, "a string", json_object_get(part, "text"));
	}
	return 0;
}

/* The tool_call ids an assistant message leaves waiting for answers. */
struct pending {
	json_t *ids;		/* object: id -> true */
	size_t at;		/* index of that assistant message */
};

static int check_call(json_t *tc, const char *base, struct pending *pd, struct oai_err *er)
{
	json_t *fn = json_object_get(tc, "function");
	const char *type = json_string_value(json_object_get(tc, "type"));
	char p[192];

	if (!json_is_object(tc))
		return bad_type(er, base, "an object", tc);
	snprintf(p, sizeof(p), "%s.id", base);
	if (!json_is_string(json_object_get(tc, "id")))
		return json_object_get(tc, "id") ? bad_type(er, p, "a string", json_object_get(tc, "id"))
						 : missing(er, p);
	snprintf(p, sizeof(p), "%s.type", base);
	if (!type)
		return missing(er, p);
	if (strcmp(type, "function"))
		return BAD(er, "invalid_value", p,
			   "Invalid value: '%s'. Supported values are: 'function'.", type);
	snprintf(p, sizeof(p), "%s.function", base);
	if (!json_is_object(fn))
		return fn ? bad_type(er, p, "an object", fn) : missing(er, p);
	snprintf(p, sizeof(p), "%s.function.name", base);
	if (!json_is_string(json_object_get(fn, "name")))
		return missing(er, p);
	snprintf(p, sizeof(p), "%s.function.arguments", base);
	if (!json_object_get(fn, "arguments"))
		return missing(er, p);
	if (!json_is_string(json_object_get(fn, "arguments")))
		return bad_type(er, p, "a string", json_object_get(fn, "arguments"));
	json_object_set_new(pd->ids, json_string_value(json_object_get(tc, "id")), json_true());
	return 0;
}

static int unanswered(struct pending *pd, struct oai_err *er)
{
	char ids[300] = "", param[48];
	const char *k;
	json_t *v;
	size_t n = 0;

	if (!json_object_size(pd->ids))
		return 0;
	json_object_foreach(pd->ids, k, v) {
		if (n >= sizeof(ids))
			break;
		n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%s", n ? ", " : "", k);
	}
	snprintf(param, sizeof(param), "messages.[%zu].role", pd->at);
	return BAD(er, NULL, param,
		   "An assistant message with 'tool_calls' must be followed by tool messages "
		   "responding to each 'tool_call_id'. The following tool_call_ids did not have "
		   "response messages: %s", ids);
}

static int check_assistant(json_t *m, size_t i, struct pending *pd, struct oai_err *er)
{
	json_t *calls = json_object_get(m, "tool_calls"), *c = json_object_get(m, "content"), *tc;
	char p[96];
	size_t k;

	snprintf(p, sizeof(p), "messages[%zu].tool_calls", i);
	if (calls && !json_is_null(calls) && !json_is_array(calls))
		return bad_type(er, p, "an array", calls);
	if (json_array_size(calls) == 0) {
		snprintf(p, sizeof(p), "messages[%zu].content", i);
		if (!c || json_is_null(c))
			return missing(er, p);
		return check_content(c, p, er);
	}
	if (c && !json_is_null(c)) {
		snprintf(p, sizeof(p), "messages[%zu].content", i);
		if (check_content(c, p, er))
			return -EINVAL;
	}
	json_object_clear(pd->ids);
	pd->at = i;
	json_array_foreach(calls, k, tc) {
		char base[128];

		snprintf(base, sizeof(base), "messages[%zu].tool_calls[%zu]", i, k);
		if (check_call(tc, base, pd, er))
			return -EINVAL;
	}
	return 0;
}

static int check_tool_msg(json_t *m, size_t i, struct pending *pd, struct oai_err *er)
{
	json_t *id = json_object_get(m, "tool_call_id"), *c = json_object_get(m, "content");
	char p[96];

	snprintf(p, sizeof(p), "messages[%zu].tool_call_id", i);
	if (!json_is_string(id))
		return id ? bad_type(er, p, "a string", id) : missing(er, p);
	snprintf(p, sizeof(p), "messages[%zu].content", i);
	if (!c)
		return missing(er, p);
	if (check_content(c, p, er))
		return -EINVAL;
	if (!json_object_get(pd->ids, json_string_value(id))) {
		snprintf(p, sizeof(p), "messages.[%zu].role", i);
		return BAD(er, NULL, p, "Invalid parameter: messages with role 'tool' must be a "
			   "response to a preceeding message with 'tool_calls'.");
	}
	json_object_del(pd->ids, json_string_value(id));
	return 0;
}

static int check_message(json_t *m, size_t i, struct pending *pd, struct oai_err *er)
{
	const char *role = json_string_value(json_object_get(m, "role"));
	char p[96];

	snprintf(p, sizeof(p), "messages[%zu]", i);
	if (!json_is_object(m))
		return bad_type(er, p, "an object", m);
	snprintf(p, sizeof(p), "messages[%zu].role", i);
	if (!role)
		return missing(er, p);
	if (strcmp(role, "tool") && unanswered(pd, er))
		return -EINVAL;
	if (!strcmp(role, "assistant"))
		return check_assistant(m, i, pd, er);
	if (!strcmp(role, "tool"))
		return check_tool_msg(m, i, pd, er);
	if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "developer"))
		return BAD(er, "invalid_value", p, "Invalid value: '%s'. Supported values are: "
			   "'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", role);
	snprintf(p, sizeof(p), "messages[%zu].content", i);
	if (!json_object_get(m, "content"))
		return missing(er, p);
	return check_content(json_object_get(m, "content"), p, er);
}

static int check_messages(json_t *msgs, struct oai_err *er)
{
	struct pending pd = { NULL, 0 };
	json_t *m;
	size_t i;
	int rc = 0;

	if (!msgs)
		return missing(er, "messages");
	if (!json_is_array(msgs))
		return bad_type(er, "messages", "an array of objects", msgs);
	if (!json_array_size(msgs))
		return BAD(er, "empty_array", "messages", "Invalid 'messages': empty array. Expected "
			   "an array with minimum length 1, but got an empty array instead.");
	pd.ids = json_object();
	if (!pd.ids)
		return -ENOMEM;
	json_array_foreach(msgs, i, m) {
		rc = check_message(m, i, &pd, er);
		if (rc)
			break;
	}
	if (!rc)
		rc = unanswered(&pd, er);
	json_decref(pd.ids);
	return rc;
}

static bool valid_name(const char *n)
{
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return *n != '\0';
}

static int check_tool(json_t *t, size_t i, json_t *names, struct oai_err *er)
{
	json_t *fn = json_object_get(t, "function"), *v;
	const char *type = json_string_value(json_object_get(t, "type")), *name;
	char p[96];

	snprintf(p, sizeof(p), "tools[%zu]", i);
	if (!json_is_object(t))
		return bad_type(er, p, "an object", t);
	snprintf(p, sizeof(p), "tools[%zu].type", i);
	if (!type)
		return missing(er, p);
	if (strcmp(type, "function"))
		return BAD(er, "invalid_value", p,
			   "Invalid value: '%s'. Supported values are: 'function'.", type);
	snprintf(p, sizeof(p), "tools[%zu].function", i);
	if (!json_is_object(fn))
		return fn ? bad_type(er, p, "an object", fn) : missing(er, p);
	snprintf(p, sizeof(p), "tools[%zu].function.name", i);
	name = json_string_value(json_object_get(fn, "name"));
	if (!name)
		return missing(er, p);
	if (strlen(name) > 64)
		return BAD(er, "string_above_max_length", p, "Invalid '%s': string too long. Expected "
			   "a string with maximum length 64, but got a string with length %zu "
			   "instead.", p, strlen(name));
	if (!valid_name(name))
		return BAD(er, "invalid_value", p, "Invalid '%s': string does not match pattern. "
			   "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", p);
	snprintf(p, sizeof(p), "tools[%zu].function.description", i);
	v = json_object_get(fn, "description");
	if (v && !json_is_string(v))
		return bad_type(er, p, "a string", v);
	snprintf(p, sizeof(p), "tools[%zu].function.parameters", i);
	v = json_object_get(fn, "parameters");
	if (v && !json_is_object(v))
		return bad_type(er, p, "an object", v);
	json_object_set_new(names, name, json_true());
	return 0;
}

static int check_tool_choice(json_t *tc, json_t *names, bool have_tools, struct oai_err *er)
{
	const char *s = json_string_value(tc);
	const char *fname = json_string_value(json_object_get(json_object_get(tc, "function"), "name"));

	if (!have_tools)
		return BAD(er, NULL, "tool_choice", "Invalid value for 'tool_choice': 'tool_choice' "
			   "is only allowed when 'tools' are specified.");
	if (s) {
		if (strcmp(s, "none") && strcmp(s, "auto") && strcmp(s, "required"))
			return BAD(er, "invalid_value", "tool_choice", "Invalid value: '%s'. "
				   "Supported values are: 'none', 'auto', and 'required'.", s);
		return 0;
	}
	if (!json_is_object(tc))
		return bad_type(er, "tool_choice", "one of a string or an object", tc);
	if (!fname)
		return missing(er, "tool_choice.function.name");
	if (!json_object_get(names, fname))
		return BAD(er, NULL, "tool_choice", "Invalid value for 'tool_choice': function "
			   "'%s' is not one of the 'tools'.", fname);
	return 0;
}

static int check_tools(json_t *body, struct oai_err *er)
{
	json_t *tools = json_object_get(body, "tools"), *names = json_object(), *t;
	json_t *tc = json_object_get(body, "tool_choice"), *ptc = json_object_get(body, "parallel_tool_calls");
	size_t i;
	int rc = 0;

	if (!names)
		return -ENOMEM;
	if (tools && !json_is_array(tools))
		rc = bad_type(er, "tools", "an array", tools);
	else if (json_array_size(tools) > 128)
		rc = BAD(er, "array_above_max_length", "tools", "Invalid 'tools': array too long. "
			 "Expected an array with maximum length 128, but got an array with length "
			 "%zu instead.", json_array_size(tools));
	json_array_foreach(tools, i, t) {
		if (rc)
			break;
		rc = check_tool(t, i, names, er);
	}
	if (!rc && tc && !json_is_null(tc))
		rc = check_tool_choice(tc, names, json_array_size(tools) > 0, er);
	if (!rc && ptc && !json_is_boolean(ptc))
		rc = bad_type(er, "parallel_tool_calls", "a boolean", ptc);
	json_decref(names);
	return rc;
}

static int check_range(json_t *body, const char *key, double lo, double hi, struct oai_err *er)
{
	json_t *v = json_object_get(body, key);
	double d;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return bad_type(er, key, "a decimal", v);
	d = json_number_value(v);
	if (d < lo)
		return BAD(er, "decimal_below_min_value", key, "Invalid '%s': decimal below minimum "
			   "value. Expected a value >= %g, but got %g instead.", key, lo, d);
	if (d > hi)
		return BAD(er, "decimal_above_max_value", key, "Invalid '%s': decimal above maximum "
			   "value. Expected a value <= %g, but got %g instead.", key, hi, d);
	return 0;
}

static int check_count(json_t *body, const char *key, struct oai_err *er)
{
	json_t *v = json_object_get(body, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return bad_type(er, key, "an integer", v);
	if (json_integer_value(v) < 1)
		return BAD(er, "integer_below_min_value", key, "Invalid '%s': integer below minimum "
			   "value. Expected a value >= 1, but got %lld instead.", key,
			   (long long)json_integer_value(v));
	return 0;
}

static int check_stop(json_t *stop, struct oai_err *er)
{
	json_t *s;
	size_t i;

	if (!stop || json_is_null(stop) || json_is_string(stop))
		return 0;
	if (!json_is_array(stop))
		return bad_type(er, "stop", "one of a string or array of strings", stop);
	if (json_array_size(stop) > 4)
		return BAD(er, "array_above_max_length", "stop", "Invalid 'stop': array too long. "
			   "Expected an array with maximum length 4, but got an array with length "
			   "%zu instead.", json_array_size(stop));
	json_array_foreach(stop, i, s)
		if (!json_is_string(s))
			return bad_type(er, "stop", "one of a string or array of strings", stop);
	return 0;
}

static const char *const known_args[] = {
	"model", "messages", "tools", "tool_choice", "parallel_tool_calls", "stream",
	"stream_options", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop",
	"n", "seed", "user", "response_format", "frequency_penalty", "presence_penalty",
	"logprobs", "top_logprobs", "logit_bias", "reasoning_effort", "reasoning_format",
	"include_reasoning", "service_tier", "metadata", "store", "modalities", "prediction",
	"audio", "web_search_options", "functions", "function_call", "search_settings",
	"documents", "citation_options", "safety_identifier", "prompt_cache_key", "verbosity",
	NULL
};

static int check_top(json_t *body, struct oai_err *er)
{
	json_t *model = json_object_get(body, "model"), *v;
	json_t *stream = json_object_get(body, "stream"), *n = json_object_get(body, "n");
	const char *k;

	json_object_foreach(body, k, v) {
		const char *const *a = known_args;

		while (*a && strcmp(*a, k))
			a++;
		if (!*a)
			return BAD(er, NULL, NULL, "Unrecognized request argument supplied: %s", k);
	}
	if (!model)
		return BAD(er, NULL, NULL, "you must provide a model parameter");
	if (!json_is_string(model))
		return bad_type(er, "model", "a string", model);
	if (stream && !json_is_null(stream) && !json_is_boolean(stream))
		return bad_type(er, "stream", "a boolean", stream);
	if (json_object_get(body, "stream_options") && !json_is_null(json_object_get(body, "stream_options")) &&
	    !json_is_true(stream))
		return BAD(er, NULL, "stream_options", "The 'stream_options' parameter is only "
			   "allowed when 'stream' is enabled.");
	if (n && !json_is_null(n) && (!json_is_integer(n) || json_integer_value(n) != 1))
		return BAD(er, NULL, "n", "'n' : number must be at most 1");
	return 0;
}

int oai_check(json_t *body, struct oai_err *er)
{
	oai_err_set(er, 500, "internal_server_error", NULL, NULL, "vagent-emu: out of memory");
	if (!json_is_object(body))
		return BAD(er, NULL, NULL, "We could not parse the JSON body of your request. "
			   "(HINT: This likely means you aren't using your HTTP library correctly. "
			   "The OpenAI API expects a JSON payload, but what was sent was not valid "
			   "JSON.)");
	if (check_top(body, er) || check_messages(json_object_get(body, "messages"), er) ||
	    check_tools(body, er) || check_range(body, "temperature", 0, 2, er) ||
	    check_range(body, "top_p", 0, 1, er) || check_count(body, "max_tokens", er) ||
	    check_count(body, "max_completion_tokens", er) ||
	    check_stop(json_object_get(body, "stop"), er))
		return -EINVAL;
	return 0;
}

size_t oai_count_turns(json_t *body)
{
	json_t *m;
	size_t i, n = 0;

	json_array_foreach(json_object_get(body, "messages"), i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));

		if (role && (!strcmp(role, "user") || !strcmp(role, "tool")))
			n++;
	}
	return n;
}
