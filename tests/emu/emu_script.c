/*
 * emu_script.c - the script of vagent-emu (a provider TEST DOUBLE): what
 * the emulated providers say, and the faults they inject.
 *
 * Script (JSON):
 *   {"stt": ["utterance 1", ...],
 *    "llm": [{"content": "..."},
 *            {"content": "...", "tool_calls": [{"name": "f", "arguments": {...}}]},
 *            {"error": 429, "retry_after": 1},
 *            {"cut_after_tokens": 3, "content": "..."},
 *            {"stream_error_after_tokens": 2, "content": "..."}],
 *    "faults": "deepgram:once:close@3,openai:cut@5"  (or {"deepgram": "once:close@3"})}
 *
 * Owns: parsing and checking the script and fault specifications into
 * struct emu_script / struct emu_fault; picking the reply for a request.
 * Never: keeps jansson objects past loading; everything is copied out.
 * Fails: a script that does not parse or has an unknown key is refused
 * with a message naming the key (the caller treats it as fatal).
 */
#include "emu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int parse_call(json_t *c, struct emu_llm_call *out, char *err, size_t errlen)
{
	json_t *name = json_object_get(c, "name"), *args = json_object_get(c, "arguments");
	json_t *id = json_object_get(c, "id");
	const char *k;
	json_t *v;

	if (!json_is_object(c) || !json_is_string(name)) {
		snprintf(err, errlen, "llm tool_calls entries need a string \"name\"");
		return -EINVAL;
	}
	json_object_foreach(c, k, v) {
		if (strcmp(k, "name") && strcmp(k, "arguments") && strcmp(k, "id")) {
			snprintf(err, errlen, "unknown key \"%s\" in a tool call", k);
			return -EINVAL;
		}
	}
	out->name = strdup(json_string_value(name));
	out->id = json_is_string(id) ? strdup(json_string_value(id)) : NULL;
	if (json_is_string(args))	/* verbatim: lets a script send broken JSON */
		out->arguments = strdup(json_string_value(args));
	else if (args)
		out->arguments = json_dumps(args, EMU_JSON_FLAGS | JSON_ENCODE_ANY);
	else
		out->arguments = strdup("{}");
	if (!out->name || !out->arguments)
		return -ENOMEM;
	return 0;
}

static const char *const llm_keys[] = {
	"content", "tool_calls", "error", "message", "code", "retry_after",
	"cut_after_tokens", "stream_error_after_tokens", "finish_reason", "ttft_ms", NULL
};

static bool known_key(const char *const *keys, const char *k)
{
	for (; *keys; keys++)
		if (!strcmp(*keys, k))
			return true;
	return false;
}

static int int_or(json_t *o, const char *key, int dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static int parse_llm(json_t *o, struct emu_llm_reply *r, char *err, size_t errlen)
{
	json_t *calls = json_object_get(o, "tool_calls"), *v;
	const char *k;
	size_t i;
	int rc;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "each \"llm\" entry must be an object");
		return -EINVAL;
	}
	json_object_foreach(o, k, v) {
		if (!known_key(llm_keys, k)) {
			snprintf(err, errlen, "unknown key \"%s\" in an llm entry", k);
			return -EINVAL;
		}
	}
	r->content = dup_or_null(json_string_value(json_object_get(o, "content")));
	r->error = int_or(o, "error", 0);
	r->error_message = dup_or_null(json_string_value(json_object_get(o, "message")));
	r->error_code = dup_or_null(json_string_value(json_object_get(o, "code")));
	r->retry_after = int_or(o, "retry_after", 1);
	r->cut_after_tokens = int_or(o, "cut_after_tokens", -1);
	r->stream_error_after = int_or(o, "stream_error_after_tokens", -1);
	r->finish_reason = dup_or_null(json_string_value(json_object_get(o, "finish_reason")));
	r->ttft_ms = int_or(o, "ttft_ms", -1);
	if (r->error && (r->error < 400 || r->error > 599)) {
		snprintf(err, errlen, "llm \"error\" must be an HTTP status 400-599");
		return -EINVAL;
	}
	if (!calls)
		return 0;
	if (!json_is_array(calls)) {
		snprintf(err, errlen, "llm \"tool_calls\" must be an array");
		return -EINVAL;
	}
	r->ncalls = json_array_size(calls);
	r->calls = calloc(r->ncalls ? r->ncalls : 1, sizeof(*r->calls));
	if (!r->calls)
		return -ENOMEM;
	json_array_foreach(calls, i, v) {
		rc = parse_call(v, &r->calls[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_stt(json_t *a, struct emu_script *s, char *err, size_t errlen)
{
	json_t *v;
	size_t i;

	if (!json_is_array(a)) {
		snprintf(err, errlen, "\"stt\" must be an array of strings");
		return -EINVAL;
	}
	s->stt = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!s->stt)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "\"stt\"[%zu] is not a string", i);
			return -EINVAL;
		}
		s->stt[i] = strdup(json_string_value(v));
		if (!s->stt[i])
			return -ENOMEM;
		s->nstt = i + 1;
	}
	return 0;
}

static int parse_faults(json_t *f, struct emu_script *s, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char buf[256];
	int rc;

	if (json_is_string(f))
		return emu_fault_parse(json_string_value(f), s->fault, err, errlen);
	if (!json_is_object(f)) {
		snprintf(err, errlen, "\"faults\" must be a string or an object");
		return -EINVAL;
	}
	json_object_foreach(f, k, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "\"faults\".%s must be a string", k);
			return -EINVAL;
		}
		snprintf(buf, sizeof(buf), "%s:%s", k, json_string_value(v));
		rc = emu_fault_parse(buf, s->fault, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_root(json_t *root, struct emu_script *s, char *err, size_t errlen)
{
	json_t *llm = json_object_get(root, "llm"), *v;
	const char *k;
	size_t i;
	int rc;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "the script must be a JSON object");
		return -EINVAL;
	}
	json_object_foreach(root, k, v) {
		if (strcmp(k, "stt") && strcmp(k, "llm") && strcmp(k, "faults")) {
			snprintf(err, errlen, "unknown top-level key \"%s\"", k);
			return -EINVAL;
		}
	}
	if (json_object_get(root, "stt") &&
	    (rc = parse_stt(json_object_get(root, "stt"), s, err, errlen)))
		return rc;
	if (json_object_get(root, "faults") &&
	    (rc = parse_faults(json_object_get(root, "faults"), s, err, errlen)))
		return rc;
	if (!llm)
		return 0;
	if (!json_is_array(llm)) {
		snprintf(err, errlen, "\"llm\" must be an array");
		return -EINVAL;
	}
	s->llm = calloc(json_array_size(llm) + 1, sizeof(*s->llm));
	if (!s->llm)
		return -ENOMEM;
	json_array_foreach(llm, i, v) {
		s->nllm = i + 1;
		rc = parse_llm(v, &s->llm[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int emu_script_load(const char *path, struct emu_script *s, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;
	int rc;

	memset(s, 0, sizeof(*s));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -EINVAL;
	}
	rc = parse_root(root, s, err, errlen);
	json_decref(root);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		emu_script_free(s);
	}
	return rc;
}

void emu_script_free(struct emu_script *s)
{
	for (size_t i = 0; i < s->nstt; i++)
		free(s->stt[i]);
	free(s->stt);
	for (size_t i = 0; i < s->nllm; i++) {
		struct emu_llm_reply *r = &s->llm[i];

		free(r->content);
		free(r->error_message);
		free(r->error_code);
		free(r->finish_reason);
		for (size_t j = 0; j < r->ncalls; j++) {
			free(r->calls[j].id);
			free(r->calls[j].name);
			free(r->calls[j].arguments);
		}
		free(r->calls);
	}
	free(s->llm);
	memset(s, 0, sizeof(*s));
}

static int svc_by_name(const char *n, size_t len)
{
	static const struct { const char *name; int svc; } names[] = {
		{ "deepgram", EMU_DG }, { "stt", EMU_DG },
		{ "openai", EMU_OAI }, { "groq", EMU_OAI }, { "llm", EMU_OAI },
		{ "cartesia", EMU_CART }, { "tts", EMU_CART }, { "elevenlabs", EMU_XI },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len && !strncmp(names[i].name, n, len))
			return names[i].svc;
	return -1;
}

/* "[once:]kind[@n]" */
static int parse_one(const char *p, struct emu_fault *f, char *err, size_t errlen)
{
	static const struct { const char *name; enum fault_kind kind; int dflt; } kinds[] = {
		{ "refuse", FAULT_REFUSE, 503 }, { "close", FAULT_CLOSE, 0 },
		{ "cut", FAULT_CLOSE, 0 }, { "stall", FAULT_STALL, 0 },
		{ "malformed", FAULT_MALFORMED, 0 }, { "none", FAULT_NONE, 0 },
	};
	const char *at;
	size_t len;
	char *end;

	memset(f, 0, sizeof(*f));
	if (!strncmp(p, "once:", 5)) {
		f->once = true;
		p += 5;
	}
	at = strchr(p, '@');
	len = at ? (size_t)(at - p) : strlen(p);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i].name) != len || strncmp(kinds[i].name, p, len))
			continue;
		f->kind = kinds[i].kind;
		f->n = kinds[i].dflt;
		if (!at)
			return 0;
		errno = 0;
		f->n = (int)strtol(at + 1, &end, 10);
		if (errno || end == at + 1 || *end || f->n < 0 ||
		    (f->kind == FAULT_REFUSE && (f->n < 400 || f->n > 599))) {
			snprintf(err, errlen, "bad count in fault \"%s\"", p);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown fault \"%.*s\" (refuse, close@N, cut@N, stall, malformed)",
		 (int)len, p);
	return -EINVAL;
}

int emu_fault_parse(const char *spec, struct emu_fault out[EMU_NSVC], char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *item;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		int svc;

		while (*item == ' ')
			item++;
		svc = colon ? svc_by_name(item, (size_t)(colon - item)) : -1;
		if (svc < 0) {
			snprintf(err, errlen, "fault \"%s\": expected deepgram:, openai: or cartesia:", item);
			rc = -EINVAL;
			break;
		}
		rc = parse_one(colon + 1, &out[svc], err, errlen);
	}
	free(copy);
	return rc;
}

struct emu_fault emu_fault_for(const struct emu_fault *f, unsigned conn_index)
{
	struct emu_fault none = { FAULT_NONE, 0, false };

	if (f->once && conn_index > 0)
		return none;
	return *f;
}

const struct emu_llm_reply *emu_script_llm(const struct emu_script *s, size_t n)
{
	if (!s->nllm)
		return NULL;
	if (n == 0)
		n = 1;
	return &s->llm[n > s->nllm ? s->nllm - 1 : n - 1];
}

const char *emu_script_stt(const struct emu_script *s, size_t n)
{
	return n < s->nstt ? s->stt[n] : "";
}
