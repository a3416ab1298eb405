/*
 * test_xi_json.c - unit tests for supervisor/ctl/ctl_xi_json.h.
 *
 * Protects: the tools call our api's paths at the public URL (one '/'
 * however the URL ends) with our key, take the DID and caller from the
 * call rather than the model, and fill the prompt's variables; a bridged
 * agent's createBooking is a client tool with no URL, key or phone-line
 * variable (the bridge books with the call's context); the agent
 * names both tools; a tool or agent is found by exact name only; every
 * ElevenLabs error body shape gives one printable line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../supervisor/ctl/ctl_xi_json.h"

static const struct xi_spec spec = {
	.public_url = "https://v.example.com//", .api_key = "k123", .agent_name = "A",
	.voice = "v1", .model = "eleven_flash_v2_5", .llm = "gpt-4o", .prompt = "Hi {{x}}",
};

static const char *path_str(json_t *j, const char *path)
{
	char key[64];

	while (j && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		j = json_object_get(j, key);
		path += n + (path[n] == '.');
	}
	return json_string_value(j);
}

static void tools_point_at_our_api(void **state)
{
	(void)state;
	json_t *c = xi_tool_context(&spec), *b = xi_tool_booking(&spec);

	assert_string_equal(path_str(c, "tool_config.name"), "getCallContext");
	assert_string_equal(path_str(c, "tool_config.api_schema.url"),
			    "https://v.example.com/api/voice-agent/did_context");
	assert_string_equal(path_str(b, "tool_config.api_schema.url"),
			    "https://v.example.com/api/voice-agent/create_booking");
	assert_string_equal(path_str(c, "tool_config.api_schema.request_headers.X-API-Key"),
			    "k123");
	assert_string_equal(path_str(b, "tool_config.api_schema.request_headers.X-Source"),
			    "cloud");
	assert_string_equal(path_str(c, "tool_config.api_schema.request_body_schema.properties."
					"did_number.dynamic_variable"), "system__called_number");
	json_t *assign = json_object_get(json_object_get(c, "tool_config"), "assignments");
	assert_int_equal(json_array_size(assign), 7);
	json_decref(c);
	json_decref(b);
}

static void bridged_booking_is_a_client_tool(void **state)
{
	(void)state;
	struct xi_spec cs = spec;
	json_t *w = xi_tool_booking(&spec), *b;

	cs.booking_client = true;
	b = xi_tool_booking(&cs);
	assert_string_equal(path_str(w, "tool_config.type"), "webhook");
	assert_string_equal(path_str(b, "tool_config.type"), "client");
	assert_string_equal(path_str(b, "tool_config.name"), "createBooking");
	json_t *tc = json_object_get(b, "tool_config");
	assert_true(json_is_true(json_object_get(tc, "expects_response")));
	assert_null(json_object_get(tc, "api_schema"));
	json_t *params = json_object_get(tc, "parameters");
	assert_string_equal(path_str(params, "type"), "object");
	assert_string_equal(path_str(params, "properties.postcode.type"), "string");
	assert_null(json_object_get(json_object_get(params, "properties"), "did_number"));
	json_t *req = json_object_get(params, "required");
	assert_int_equal(json_array_size(req), 4);
	assert_string_equal(json_string_value(json_array_get(req, 0)), "customer_name");
	char *text = json_dumps(b, 0);
	assert_non_null(text);
	assert_null(strstr(text, "k123"));	/* no key where no request is made */
	assert_null(strstr(text, "system__"));
	free(text);
	/* getCallContext stays a webhook: a direct SIP call still needs it. */
	json_t *c = xi_tool_context(&cs);
	assert_string_equal(path_str(c, "tool_config.type"), "webhook");
	json_decref(c);
	json_decref(w);
	json_decref(b);
}

static void agent_names_both_tools(void **state)
{
	(void)state;
	json_t *a = xi_agent(&spec, "tool_1", "tool_2");
	json_t *ids = json_object_get(json_object_get(json_object_get(json_object_get(
		a, "conversation_config"), "agent"), "prompt"), "tool_ids");

	assert_non_null(a);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "tool_1");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "tool_2");
	assert_string_equal(path_str(a, "conversation_config.agent.prompt.prompt"), "Hi {{x}}");
	assert_string_equal(path_str(a, "conversation_config.tts.voice_id"), "v1");
	/* Empty until the bridge or getCallContext fills them: the prompt tells. */
	assert_string_equal(path_str(a, "conversation_config.agent.dynamic_variables."
					"dynamic_variable_placeholders.company_name"), "");
	assert_string_equal(path_str(a, "conversation_config.asr.user_input_audio_format"),
			    "ulaw_8000");
	json_decref(a);
}

static void found_by_exact_name(void **state)
{
	(void)state;
	json_t *t = json_loads("{\"tools\":["
			       "{\"id\":\"t0\",\"tool_config\":{\"name\":\"getCallContextX\"}},"
			       "{\"id\":\"t1\",\"tool_config\":{\"name\":\"getCallContext\"}},"
			       "{\"id\":\"t2\",\"tool_config\":{\"name\":\"getCallContext\"}}]}", 0, NULL);
	json_t *a = json_loads("{\"agents\":[{\"agent_id\":\"a1\",\"name\":\"vagent 2\"}]}", 0, NULL);
	int n = -1;

	assert_string_equal(xi_find_tool(t, "getCallContext", &n), "t1");
	assert_int_equal(n, 2);
	assert_null(xi_find_tool(t, "createBooking", &n));
	assert_int_equal(n, 0);
	assert_null(xi_find_agent(a, "vagent", NULL));
	assert_string_equal(xi_find_agent(a, "vagent 2", NULL), "a1");
	assert_null(xi_find_tool(NULL, "x", NULL));
	json_decref(t);
	json_decref(a);
}

static void error_bodies(void **state)
{
	(void)state;
	char out[128];
	const char *b1 = "{\"detail\":{\"status\":\"invalid_api_key\",\"message\":\"Invalid API key\"}}";
	const char *b2 = "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\",\"name\"],"
			 "\"msg\":\"Field required\"}]}";
	const char *b3 = "{\"detail\":\"Not Found\"}";
	const char *b4 = "<html>\n502 Bad Gateway</html>";

	xi_error_text(b1, strlen(b1), out, sizeof(out));
	assert_string_equal(out, "Invalid API key");
	xi_error_text(b2, strlen(b2), out, sizeof(out));
	assert_string_equal(out, "Field required at [\"body\",\"name\"]");
	xi_error_text(b3, strlen(b3), out, sizeof(out));
	assert_string_equal(out, "Not Found");
	xi_error_text(b4, strlen(b4), out, sizeof(out));
	assert_string_equal(out, "<html> 502 Bad Gateway</html>");
	xi_error_text(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tools_point_at_our_api),
		cmocka_unit_test(bridged_booking_is_a_client_tool),
		cmocka_unit_test(agent_names_both_tools),
		cmocka_unit_test(found_by_exact_name),
		cmocka_unit_test(error_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
