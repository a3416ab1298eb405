/*
 * emu_oai_plan.c - what vagent-emu's OpenAI/Groq TEST DOUBLE says for one
 * scripted reply: the SSE events of a stream (role chunk; content split
 * into tokens of words and spaces; tool calls fragmented as OpenAI does,
 * or whole in one delta as Groq does; the finish chunk; usage; [DONE]),
 * the chat.completion of stream:false, and the real error bodies.
 *
 * Owns: building strings; every event carries its delay after the one
 * before (--ttft-ms first, then one token time at --tokens-per-s).
 * Never: does I/O or reads the clock.
 * Fails: -ENOMEM / NULL.
 */
#include "emu_oai.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN	7	/* bytes of a word before it is split */

/* ---- splitting ---- */

static bool is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static bool wordy(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || c == '\'';
}

/*
 * Length of the token at s: an optional leading space, then a run of word
 * characters (at most MAX_TOKEN bytes, never splitting a UTF-8 sequence)
 * or one other character.
 */
static size_t token_len(const char *s)
{
	size_t n = 0, start;

	if (s[n] == ' ' && s[n + 1] && s[n + 1] != ' ')
		n++;
	if (!wordy((unsigned char)s[n]))
		return n + 1;
	start = n;
	while (s[n] && wordy((unsigned char)s[n])) {
		n++;
		if (n - start >= MAX_TOKEN && !is_cont((unsigned char)s[n]))
			break;
	}
	return n;
}

/* Pieces of a tool call's arguments: runs of one character class, <= 6 bytes. */
static size_t arg_piece_len(const char *s)
{
	bool w = wordy((unsigned char)*s);
	size_t n = 0;

	while (s[n] && wordy((unsigned char)s[n]) == w) {
		n++;
		if (n >= MAX_TOKEN && !is_cont((unsigned char)s[n]))
			break;
	}
	return n ? n : 1;
}

/* ---- plan ---- */

static int add(struct oai_plan *p, char *text, int64_t gap_us)
{
	if (!text)
		return -ENOMEM;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		struct oai_event *ev = realloc(p->ev, cap * sizeof(*ev));

		if (!ev) {
			free(text);
			return -ENOMEM;
		}
		p->ev = ev;
		p->cap = cap;
	}
	p->ev[p->n].text = text;
	p->ev[p->n].gap_us = gap_us;
	p->n++;
	return 0;
}

static char *sse(json_t *j)
{
	char *s = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL, *out = NULL;

	json_decref(j);
	if (s && asprintf(&out, "data: %s\n\n", s) < 0)
		out = NULL;
	free(s);
	return out;
}

static json_t *usage_of(const struct oai_style *st, int completion)
{
	return json_pack("{s:i, s:i, s:i}", "prompt_tokens", st->prompt_tokens,
			 "completion_tokens", completion, "total_tokens",
			 st->prompt_tokens + completion);
}

static json_t *x_groq(const struct oai_style *st, int completion, bool last)
{
	json_t *x = json_pack("{s:s}", "id", st->req_id);

	if (x && last)
		json_object_set_new(x, "usage", json_pack("{s:f, s:i, s:f, s:i, s:f, s:i, s:f}",
			"queue_time", 0.01, "prompt_tokens", st->prompt_tokens, "prompt_time", 0.005,
			"completion_tokens", completion, "completion_time",
			(double)completion / (double)(st->tokens_per_s > 0 ? st->tokens_per_s : 1),
			"total_tokens", st->prompt_tokens + completion, "total_time", 0.1));
	return x;
}

/* One chat.completion.chunk with this delta (stolen). */
static char *chunk(const struct oai_style *st, json_t *delta, const char *finish, json_t *xg)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[{s:i, s:o, s:n, s:s?}]}",
			      "id", st->id, "object", "chat.completion.chunk",
			      "created", (json_int_t)st->created, "model", st->model,
			      "system_fingerprint", "fp_vagent_emu", "choices", "index", 0,
			      "delta", delta, "logprobs", "finish_reason", finish);

	if (j && xg)
		json_object_set_new(j, "x_groq", xg);
	else
		json_decref(xg);
	return sse(j);
}

static int64_t token_us(const struct oai_style *st)
{
	return 1000000 / (st->tokens_per_s > 0 ? st->tokens_per_s : 1);
}

/* Content tokens; stops after `limit` of them (-1: all). */
static int plan_content(const struct emu_llm_reply *r, const struct oai_style *st,
			struct oai_plan *p, int limit, int *ntok)
{
	const char *s = r->content ? r->content : "";

	while (*s && (limit < 0 || *ntok < limit)) {
		size_t n = token_len(s);
		json_t *d = json_pack("{s:s%}", "content", s, n);

		if (add(p, chunk(st, d, NULL, NULL), *ntok ? token_us(st) : 0))
			return -ENOMEM;
		s += n;
		(*ntok)++;
	}
	return 0;
}

static int plan_call(const struct emu_llm_call *c, size_t i, const char *id,
		     const struct oai_style *st, struct oai_plan *p, int *ntok)
{
	const char *a = c->arguments;
	json_t *d;

	if (st->groq) {	/* the whole call in one delta */
		d = json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index", (int)i,
			      "id", id, "type", "function", "function", "name", c->name,
			      "arguments", a);
		(*ntok)++;
		return add(p, chunk(st, d, NULL, NULL), token_us(st));
	}
	d = json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index", (int)i,
		      "id", id, "type", "function", "function", "name", c->name, "arguments", "");
	if (add(p, chunk(st, d, NULL, NULL), token_us(st)))
		return -ENOMEM;
	while (*a) {
		size_t n = arg_piece_len(a);

		d = json_pack("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", (int)i,
			      "function", "arguments", a, n);
		if (add(p, chunk(st, d, NULL, NULL), token_us(st)))
			return -ENOMEM;
		a += n;
		(*ntok)++;
	}
	return 0;
}

static void call_id(const struct emu_llm_call *c, const struct oai_style *st, char *id, size_t len)
{
	if (c->id)
		snprintf(id, len, "%s", c->id);
	else
		emu_rand_id(st->rng, "call_", 24, id, len);
}

static int plan_error_event(const struct emu_llm_reply *r, struct oai_plan *p)
{
	json_t *j = json_pack("{s:{s:s, s:s, s:s, s:i}}", "error", "message",
		r->error_message ? r->error_message :
		"Failed to call a function. Please adjust your prompt. See 'failed_generation' "
		"for more details.", "type", "invalid_request_error",
		"code", r->error_code ? r->error_code : "tool_use_failed", "status_code", 400);
	char *s = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL, *out = NULL;

	json_decref(j);
	if (s && asprintf(&out, "event: error\ndata: %s\n\n", s) < 0)
		out = NULL;
	free(s);
	p->end = END_ERROR_EVENT;
	return add(p, out, 0);
}

static int plan_tail(const struct emu_llm_reply *r, const struct oai_style *st,
		     struct oai_plan *p, int ntok)
{
	const char *finish = r->finish_reason ? r->finish_reason : r->ncalls ? "tool_calls" : "stop";

	if (add(p, chunk(st, json_object(), finish, st->groq ? x_groq(st, ntok, true) : NULL),
		token_us(st)))
		return -ENOMEM;
	if (st->include_usage &&
	    add(p, sse(json_pack("{s:s, s:s, s:I, s:s, s:s, s:[], s:o}", "id", st->id, "object",
				 "chat.completion.chunk", "created", (json_int_t)st->created,
				 "model", st->model, "system_fingerprint", "fp_vagent_emu",
				 "choices", "usage", usage_of(st, ntok))), 0))
		return -ENOMEM;
	p->end = END_DONE;
	return add(p, strdup("data: [DONE]\n\n"), 0);
}

int oai_plan_stream(const struct emu_llm_reply *r, const struct oai_style *st, struct oai_plan *p)
{
	int limit = r->cut_after_tokens >= 0 ? r->cut_after_tokens : r->stream_error_after;
	bool text = r->content && *r->content;
	json_t *role = json_pack("{s:s, s:s?}", "role", "assistant", "content",
				 text || !r->ncalls ? "" : NULL);
	int ntok = 0;
	char id[64];

	memset(p, 0, sizeof(*p));
	if (add(p, chunk(st, role, NULL, st->groq ? x_groq(st, 0, false) : NULL),
		(int64_t)st->ttft_ms * 1000))
		return -ENOMEM;
	if (plan_content(r, st, p, limit, &ntok))
		return -ENOMEM;
	if (r->cut_after_tokens >= 0) {
		p->end = END_CUT;
		return 0;
	}
	if (r->stream_error_after >= 0)
		return plan_error_event(r, p);
	for (size_t i = 0; i < r->ncalls; i++) {
		call_id(&r->calls[i], st, id, sizeof(id));
		if (plan_call(&r->calls[i], i, id, st, p, &ntok))
			return -ENOMEM;
	}
	return plan_tail(r, st, p, ntok);
}

void oai_plan_free(struct oai_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->ev[i].text);
	free(p->ev);
	memset(p, 0, sizeof(*p));
}

/* ---- stream:false ---- */

static int count_tokens(const char *s)
{
	int n = 0;

	while (s && *s) {
		s += token_len(s);
		n++;
	}
	return n;
}

char *oai_completion(const struct emu_llm_reply *r, const struct oai_style *st, int64_t *delay_us)
{
	const char *finish = r->finish_reason ? r->finish_reason : r->ncalls ? "tool_calls" : "stop";
	json_t *msg = json_pack("{s:s, s:s?}", "role", "assistant", "content", r->content);
	json_t *calls = json_array(), *j;
	int ntok = count_tokens(r->content);
	char id[64], *s;

	for (size_t i = 0; i < r->ncalls && calls; i++) {
		call_id(&r->calls[i], st, id, sizeof(id));
		json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id,
			"type", "function", "function", "name", r->calls[i].name,
			"arguments", r->calls[i].arguments));
		ntok += (int)strlen(r->calls[i].arguments) / 4 + 1;
	}
	if (msg && r->ncalls)
		json_object_set(msg, "tool_calls", calls);
	json_decref(calls);
	j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], s:o, s:s}",
		      "id", st->id, "object", "chat.completion", "created", (json_int_t)st->created,
		      "model", st->model, "choices", "index", 0, "message", msg, "logprobs",
		      "finish_reason", finish, "usage", usage_of(st, ntok),
		      "system_fingerprint", "fp_vagent_emu");
	if (j && st->groq)
		json_object_set_new(j, "x_groq", x_groq(st, ntok, false));
	*delay_us = (int64_t)st->ttft_ms * 1000 + (int64_t)ntok * token_us(st);
	s = j ? json_dumps(j, EMU_JSON_FLAGS) : NULL;
	json_decref(j);
	return s;
}

/* ---- errors ---- */

void oai_err_for_status(struct oai_err *er, int status, const char *model,
			const struct emu_llm_reply *r)
{
	const char *msg = r ? r->error_message : NULL, *code = r ? r->error_code : NULL;
	int retry = r ? r->retry_after : 1;

	switch (status) {
	case 401:
		oai_err_set(er, status, "invalid_request_error", code ? code : "invalid_api_key", NULL,
			    "%s", msg ? msg : "Invalid API Key");
		break;
	case 404:
		if (msg)
			oai_err_set(er, status, "invalid_request_error", code ? code : "model_not_found",
				    NULL, "%s", msg);
		else
			oai_err_set(er, status, "invalid_request_error", code ? code : "model_not_found",
				    NULL, "The model `%s` does not exist or you do not have access to it.",
				    model);
		break;
	case 413:
		oai_err_set(er, status, "invalid_request_error", code ? code : "request_too_large",
			    NULL, "%s", msg ? msg : "Request Entity Too Large");
		break;
	case 429:
		if (msg)
			oai_err_set(er, status, "tokens", code ? code : "rate_limit_exceeded", NULL,
				    "%s", msg);
		else
			oai_err_set(er, status, "tokens", code ? code : "rate_limit_exceeded", NULL,
				    "Rate limit reached for model `%s` in organization `org_vagent_emu` "
				    "service tier `on_demand` on tokens per minute (TPM): Limit 6000, "
				    "Used 5900, Requested 400. Please try again in %ds. Need more tokens? "
				    "Upgrade to Dev Tier today at https://console.groq.com/settings/billing",
				    model, retry);
		break;
	case 498:
		oai_err_set(er, status, "internal_server_error", code ? code : "capacity_exceeded",
			    NULL, "%s", msg ? msg : "Flex tier capacity exceeded. Please try again later.");
		break;
	default:
		if (status >= 500)
			oai_err_set(er, status, "internal_server_error", code, NULL, "%s",
				    msg ? msg : status == 503 ? "Service Unavailable" : "Internal Server Error");
		else
			oai_err_set(er, status, "invalid_request_error", code, NULL, "%s",
				    msg ? msg : "Bad request (vagent-emu script)");
		break;
	}
}
