/*
 * ctl_xi_json.c - ElevenLabs provisioning bodies for vagent's cloud agent.
 *
 * The tools take the DID and the caller's number from the call itself
 * (ElevenLabs' system__called_number and system__caller_id dynamic
 * variables) rather than asking the model to repeat them: a model that
 * mistypes a DID would greet the caller as another company. Everything
 * else follows the seed's setup script (section 11), with our paths
 * (/api/voice-agent/..., no .php) and X-Source: cloud on bookings, so the
 * dispatch board tells cloud bookings from local ones.
 */
#include "ctl_xi_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What getCallContext assigns, and the bridge passes at the start. */
static const char *const CONTEXT_VARS[] = { "company_name", "trade_type", "trade_label",
					    "callout_fee", "area", "is_repeat", "greeting" };

/* public_url + path, without doubling the '/'. */
static void endpoint(char *out, size_t len, const char *base, const char *path)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	snprintf(out, len, "%.*s%s", (int)n, base, path);
}

/* A string property the model fills in. */
static json_t *prop(const char *type, const char *description)
{
	return json_pack("{s:s, s:s}", "type", type, "description", description);
}

/* A string property ElevenLabs fills from a dynamic variable of the call. */
static json_t *prop_var(const char *var)
{
	return json_pack("{s:s, s:s}", "type", "string", "dynamic_variable", var);
}

static json_t *api_schema(const struct xi_spec *s, const char *path, bool booking,
			  json_t *body_schema)
{
	char url[1024];

	endpoint(url, sizeof(url), s->public_url, path);
	json_t *headers = booking ?
		json_pack("{s:s, s:s}", "X-API-Key", s->api_key, "X-Source", "cloud") :
		json_pack("{s:s}", "X-API-Key", s->api_key);
	return json_pack("{s:s, s:s, s:o, s:o, s:s}", "url", url, "method", "POST",
			 "request_headers", headers, "request_body_schema", body_schema,
			 "content_type", "application/json");
}

static json_t *assignment(const char *var)
{
	return json_pack("{s:s, s:s, s:s}", "source", "response", "dynamic_variable", var,
			 "value_path", var);
}

json_t *xi_tool_context(const struct xi_spec *s)
{
	json_t *assign = json_array();

	for (size_t i = 0; assign && i < sizeof(CONTEXT_VARS) / sizeof(CONTEXT_VARS[0]); i++)
		json_array_append_new(assign, assignment(CONTEXT_VARS[i]));
	json_t *body = json_pack(
		"{s:s, s:s, s:{s:o, s:o}, s:[s, s]}",
		"type", "object",
		"description", "The number the customer dialled and their caller ID",
		"properties",
		"did_number", prop_var("system__called_number"),
		"caller_id", prop_var("system__caller_id"),
		"required", "did_number", "caller_id");
	return json_pack(
		"{s:{s:s, s:s, s:s, s:i, s:b, s:o, s:o, s:s, s:s}}", "tool_config",
		"type", "webhook",
		"name", XI_TOOL_CONTEXT,
		"description", "Get the company context for this call: company name, trade, "
			       "callout fee and whether the caller rang before. Call it at the "
			       "very start of every call, before greeting the customer.",
		"response_timeout_secs", 10,
		"force_pre_tool_speech", 0,
		"api_schema", api_schema(s, "/api/voice-agent/did_context", false, body),
		"assignments", assign,
		"tool_error_handling_mode", "summarized",
		"execution_mode", "immediate");
}

static json_t *booking_properties(void)
{
	json_t *trade = prop("string", "From getCallContext");
	json_t *outcome = prop("string", "Always booked");

	json_object_set_new(trade, "enum", json_pack("[s, s, s, s]", "plumbing", "electrical",
						     "drainage", "locksmith"));
	json_object_set_new(outcome, "enum", json_pack("[s]", "booked"));
	return json_pack(
		"{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		"customer_name", prop("string", "Customer's full name in title case"),
		"customer_phone", prop("string", "Phone number with country code, no spaces"),
		"postcode", prop("string", "Full UK postcode, upper case, with its space"),
		"address", prop("string", "Street address with the flat or house number"),
		"problem_description", prop("string", "One-line summary of the problem"),
		"trade_type", trade,
		"callout_fee", prop("number", "Callout fee from getCallContext"),
		"did_number", prop_var("system__called_number"),
		"company_name", prop("string", "Company name from getCallContext"),
		"is_repeat", prop("boolean", "Whether the caller rang before (getCallContext)"),
		"outcome", outcome);
}

static const char BOOKING_DESC[] =
	"Book the job once the customer agreed to the callout fee and gave their name, "
	"phone, postcode, address and problem, with the values getCallContext returned.";

/*
 * Answered by vagent's bridge (eng_elevenlabs.c) through its booking writer,
 * which takes the DID, the caller, the trade, the fee and the company from
 * the call itself: the model gives only what the caller said. No
 * system__called_number either: a websocket conversation has no phone line.
 */
static json_t *client_booking(void)
{
	json_t *props = booking_properties();

	json_object_del(props, "did_number");
	json_t *params = json_pack(
		"{s:s, s:s, s:o, s:[s, s, s, s]}",
		"type", "object",
		"description", "What the caller told you",
		"properties", props,
		"required", "customer_name", "postcode", "address", "problem_description");
	return json_pack(
		"{s:{s:s, s:s, s:s, s:o, s:b, s:i, s:b, s:s, s:s}}", "tool_config",
		"type", "client",
		"name", XI_TOOL_BOOKING,
		"description", BOOKING_DESC,
		"parameters", params,
		"expects_response", 1,
		"response_timeout_secs", 15,
		"force_pre_tool_speech", 1,
		"tool_error_handling_mode", "summarized",
		"execution_mode", "post_tool_speech");
}

json_t *xi_tool_booking(const struct xi_spec *s)
{
	if (s->booking_client)
		return client_booking();
	json_t *body = json_pack(
		"{s:s, s:s, s:o, s:[s, s, s, s, s, s]}",
		"type", "object",
		"description", "The booking's details",
		"properties", booking_properties(),
		"required", "customer_name", "customer_phone", "postcode", "address",
		"problem_description", "trade_type");
	return json_pack(
		"{s:{s:s, s:s, s:s, s:i, s:b, s:o, s:s, s:s, s:s, s:s}}", "tool_config",
		"type", "webhook",
		"name", XI_TOOL_BOOKING,
		"description", BOOKING_DESC,
		"response_timeout_secs", 15,
		"force_pre_tool_speech", 1,
		"api_schema", api_schema(s, "/api/voice-agent/create_booking", true, body),
		"tool_call_sound", "typing",
		"tool_call_sound_behavior", "auto",
		"tool_error_handling_mode", "summarized",
		"execution_mode", "post_tool_speech");
}

json_t *xi_agent(const struct xi_spec *s, const char *context_tool_id,
		 const char *booking_tool_id)
{
	json_t *keywords = json_pack("[s, s, s, s, s, s, s, s, s]", "postcode", "plumber",
				     "electrician", "drainage", "locksmith", "callout",
				     "leaking", "tripped", "blocked");
	/*
	 * The agent greets from the prompt: no first message. Every context
	 * variable starts empty, so the prompt can tell a call the bridge
	 * filled (no getCallContext round trip) from a direct SIP call.
	 */
	json_t *empty = json_object();

	for (size_t i = 0; empty && i < sizeof(CONTEXT_VARS) / sizeof(CONTEXT_VARS[0]); i++)
		json_object_set_new(empty, CONTEXT_VARS[i], json_string(""));
	json_t *agent = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:f, s:[s, s]}, s:{s:o}}",
		"first_message", "",
		"language", "en",
		"prompt",
		"prompt", s->prompt, "llm", s->llm, "temperature", 0.4,
		"tool_ids", context_tool_id, booking_tool_id,
		"dynamic_variables", "dynamic_variable_placeholders", empty);
	/* u-law 8 kHz both ways: what a SIP trunk carries, no resampling. */
	return json_pack(
		"{s:s, s:[s], s:{s:o, s:{s:s, s:s, s:s, s:f, s:f, s:f}, "
		"s:{s:s, s:s, s:s, s:o}, s:{s:i, s:i}, s:{s:i}}, s:{s:{s:i, s:i}}}",
		"name", s->agent_name,
		"tags", "vagent",
		"conversation_config",
		"agent", agent,
		"tts", "model_id", s->model, "voice_id", s->voice,
		"agent_output_audio_format", "ulaw_8000",
		"stability", 0.55, "similarity_boost", 0.75, "speed", 1.0,
		"asr", "quality", "high", "provider", "elevenlabs",
		"user_input_audio_format", "ulaw_8000", "keywords", keywords,
		"turn", "turn_timeout", 10, "silence_end_call_timeout", 15,
		"conversation", "max_duration_seconds", 300,
		"platform_settings", "call_limits", "agent_concurrency_limit", 5,
		"daily_limit", 500);
}

/* The id (key id_key) of the entries of array key whose name matches. */
static const char *find(const json_t *list, const char *array, const char *id_key,
			const char *name, int *count)
{
	const char *id = NULL;
	json_t *items = json_object_get(list, array), *it;
	size_t i;
	int n = 0;

	json_array_foreach(items, i, it) {
		const json_t *named = json_object_get(it, "tool_config");
		const char *v = json_string_value(json_object_get(named ? named : it, "name"));
		const char *this_id = json_string_value(json_object_get(it, id_key));

		if (!v || !this_id || strcmp(v, name))
			continue;
		if (!n++)
			id = this_id;
	}
	if (count)
		*count = n;
	return id;
}

const char *xi_find_tool(const json_t *list, const char *name, int *count)
{
	return find(list, "tools", "id", name, count);
}

const char *xi_find_agent(const json_t *list, const char *name, int *count)
{
	return find(list, "agents", "agent_id", name, count);
}

/* Keeps only printable ASCII: an error body is a peer's text on our terminal. */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = ' ';
}

void xi_error_text(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *root = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	json_t *detail = json_object_get(root, "detail"), *first = json_array_get(detail, 0);
	const char *msg = json_string_value(json_object_get(detail, "message"));

	if (!msg)
		msg = json_string_value(detail);
	if (!msg && first) {
		char *loc = json_dumps(json_object_get(first, "loc"), JSON_COMPACT);
		snprintf(out, outlen, "%s%s%s", json_string_value(json_object_get(first, "msg")) ?
			 json_string_value(json_object_get(first, "msg")) : "invalid request",
			 loc ? " at " : "", loc ? loc : "");
		free(loc);
	} else if (msg || (msg = json_string_value(json_object_get(root, "message")))) {
		snprintf(out, outlen, "%s", msg);
	} else {
		snprintf(out, outlen, "%.*s", (int)(len < 200 ? len : 200), body ? body : "");
	}
	json_decref(root);
	clean(out);
}
