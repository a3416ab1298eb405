/*
 * emu_oai.h - the parts of vagent-emu's OpenAI/Groq chat completions TEST
 * DOUBLE that do not touch the network: request checking
 * (emu_oai_check.c) and the making of replies (emu_oai_plan.c).
 *
 * Owns: struct oai_err (an error in the real body shape) and struct
 * oai_plan (the SSE events of one streamed reply, with their timing).
 * Never: does I/O.
 * Fails: -EINVAL with oai_err filled for a request the real API refuses;
 * -ENOMEM.
 */
#ifndef VG_EMU_OAI_H
#define VG_EMU_OAI_H

#include "emu.h"

struct oai_err {
	int status;
	char message[512];
	const char *type;	/* "invalid_request_error", ... */
	const char *code;	/* NULL: null */
	char param[128];	/* "": null */
};

void oai_err_set(struct oai_err *er, int status, const char *type, const char *code,
		 const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* {"error":{"message","type","param","code"}} as a malloc'd string. */
char *oai_err_body(const struct oai_err *er);

/* Checks a chat completions body as the real API. 0 or -EINVAL. */
int oai_check(json_t *body, struct oai_err *er);

/* Messages with role "user" or "tool": picks the scripted reply. */
size_t oai_count_turns(json_t *body);

/* How one reply is told. */
struct oai_style {
	const char *id;		/* chatcmpl-... */
	const char *req_id;	/* req_... (x_groq.id) */
	const char *model;
	long long created;
	bool groq;		/* whole tool calls in one delta; x_groq */
	bool include_usage;	/* stream_options.include_usage */
	int prompt_tokens;
	int ttft_ms, tokens_per_s;
	struct emu_rng *rng;	/* for call ids */
};

enum oai_end { END_DONE, END_CUT, END_ERROR_EVENT };

struct oai_event {
	char *text;		/* the SSE bytes ("data: ...\n\n") */
	int64_t gap_us;		/* after the previous event */
};

struct oai_plan {
	struct oai_event *ev;
	size_t n, cap;
	enum oai_end end;	/* after the last event */
};

/* The SSE events of a streamed reply. 0 or -ENOMEM. */
int oai_plan_stream(const struct emu_llm_reply *r, const struct oai_style *st, struct oai_plan *p);
void oai_plan_free(struct oai_plan *p);

/* A whole chat.completion (stream:false); *delay_us: when to send it. */
char *oai_completion(const struct emu_llm_reply *r, const struct oai_style *st, int64_t *delay_us);

/* The body of a scripted or injected HTTP error (status, retry-after). */
void oai_err_for_status(struct oai_err *er, int status, const char *model,
			const struct emu_llm_reply *r);

#endif
