/*
 * ctl_xi_json.h - the JSON bodies of ElevenLabs' provisioning REST API
 * (protocols.md 5.6) for vagent's cloud agent, and reading its answers.
 *
 * Owns: what the getCallContext and createBooking tools and the agent
 * look like (createBooking a webhook when the agent takes calls itself, a
 * client tool the bridge answers when vagent's elevenlabs engine bridges) (the seed's setup script, section 11: names, schemas,
 * dynamic-variable assignments, timeouts, audio formats), pointed at our
 * api's did_context and create_booking; finding a tool or agent by name
 * in a list answer; turning an error body into one line.
 * Must never: talk to the network or read files (vagentctl's
 * ctl_provision.c does), so every body can be checked by a unit test.
 * Fails: builders return NULL only when out of memory.
 */
#ifndef VG_CTL_XI_JSON_H
#define VG_CTL_XI_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define XI_TOOL_CONTEXT "getCallContext"
#define XI_TOOL_BOOKING "createBooking"

/* What the bodies are built from; strings are borrowed. */
struct xi_spec {
	const char *public_url;		/* our api as ElevenLabs reaches it, no trailing '/' needed */
	const char *api_key;		/* our api's X-API-Key value (a placeholder for --dry-run) */
	const char *agent_name;
	const char *voice;
	const char *model;		/* TTS model_id */
	const char *llm;
	const char *prompt;
	bool booking_client;		/* createBooking a client tool (vagent bridges), else a webhook */
};

/*
 * {"tool_config":{...}} for POST /v1/convai/tools and PATCH .../tools/ID.
 * A client createBooking (s->booking_client) has parameters and
 * expects_response, no URL: the bridge books with the call's own context.
 */
json_t *xi_tool_context(const struct xi_spec *s);
json_t *xi_tool_booking(const struct xi_spec *s);

/* The agent, using the two tool IDs, for agents/create and PATCH agents/ID. */
json_t *xi_agent(const struct xi_spec *s, const char *context_tool_id,
		 const char *booking_tool_id);

/*
 * In a GET /v1/convai/tools answer ({"tools":[{"id",tool_config:{name}}]}),
 * the id of the tool called name; NULL if none. *count (may be NULL) gets
 * how many share that name.
 */
const char *xi_find_tool(const json_t *list, const char *name, int *count);

/* In a GET /v1/convai/agents answer ({"agents":[{"agent_id","name"}]}), the same. */
const char *xi_find_agent(const json_t *list, const char *name, int *count);

/*
 * One line for an error answer: detail.message, detail as a string,
 * detail[0].msg (validation errors, with its loc), or message; else the
 * body's first 200 bytes. Always NUL-terminates out.
 */
void xi_error_text(const char *body, size_t len, char *out, size_t outlen);

#endif
