/*
 * fuzz_sse.c - an LLM's SSE stream as llm_openai.c reads it: the SSE
 * framing (worker/sse.c) and the OpenAI stream's meaning
 * (worker/llm_oai_stream.c), the real code.
 *
 * The first input byte seeds where the stream is cut; the rest is the
 * body, fed once whole and once in pieces cut at arbitrary points (as
 * curl delivers it). Both must say the same: the same text pieces, the
 * same verdict (done, failed with the same reason, finish, tool calls).
 * A failure always has a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/llm_oai_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t hash;		/* FNV-1a of the text, pieces marked */
	size_t tokens;
};

static bool on_token(void *arg, const char *text, size_t len)
{
	struct seen *s = arg;

	if (!text || !len)
		abort();	/* empty pieces are not passed on */
	for (size_t i = 0; i < len; i++)
		s->hash = (s->hash ^ (uint8_t)text[i]) * 1099511628211u;
	s->hash = (s->hash ^ 0x100) * 1099511628211u;
	s->tokens++;
	return true;
}

struct verdict {
	struct seen seen;
	int feed, end;
	struct oai_stream st;
};

static void run(struct verdict *v, const uint8_t *p, size_t n, uint32_t seed)
{
	memset(v, 0, sizeof(*v));
	v->seen.hash = 14695981039346656037u;
	if (oai_stream_init(&v->st, on_token, &v->seen) < 0)
		abort();
	size_t pos = 0;
	while (pos < n && v->feed == 0) {
		size_t piece = n - pos;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 64;
			if (piece > n - pos)
				piece = n - pos;
		}
		v->feed = oai_stream_feed(&v->st, (const char *)p + pos, piece);
		pos += piece;
	}
	v->end = v->feed ? v->feed : oai_stream_end(&v->st);
	if (v->st.failed && !v->st.why[0])
		abort();
	if ((v->end < 0) != v->st.failed)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict whole, cut;

	if (size < 1)
		return 0;
	uint32_t seed = data[0] | 1u;
	run(&whole, data + 1, size - 1, 0);
	run(&cut, data + 1, size - 1, seed);
	if (whole.seen.hash != cut.seen.hash || whole.seen.tokens != cut.seen.tokens ||
	    whole.end != cut.end || whole.st.done != cut.st.done ||
	    whole.st.failed != cut.st.failed || strcmp(whole.st.why, cut.st.why) ||
	    strcmp(whole.st.finish, cut.st.finish) || !json_equal(whole.st.calls, cut.st.calls))
		abort();
	oai_stream_free(&whole.st);
	oai_stream_free(&cut.st);
	return 0;
}
