/*
 * emu_cart_ctx.c - one context of vagent-emu's Cartesia TEST DOUBLE.
 *
 * Text arriving with continue:true is buffered and sent to synthesis in
 * pieces: at a sentence end, once 6 words are waiting, when it has waited
 * max_buffer_delay_ms (20 ms when 0), on flush, or on continue:false.
 * The pieces' audio is sent as "chunk" messages of 40 ms, the first one
 * --tts-ttfb-ms after the first transcript, then paced at --tts-rtf
 * (0.25: one second of audio every 250 ms). flush_done and done are
 * markers queued behind the audio they follow, so outputs keep input
 * order. After a cancel at most 2 more chunks go out (protocols.md 3.4 and
 * 7.6: audio already generated keeps arriving), then nothing, except the
 * done of a context whose input had already ended (continue:false).
 *
 * Owns: the context's buffers and segments.
 * Never: writes to the socket or touches another context.
 * Fails: -ENOMEM from the calls that allocate; the context stays valid.
 */
#include "emu_cart.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MS	40
#define LINGER_MS	20
#define PIECE_WORDS	6
#define CANCEL_TAIL	2
#define LATE_SLACK_US	20000

struct cart_ctx *cart_ctx_new(const char *id, uint64_t serial, const char *fixed, int rate,
			      enum emu_pcm enc)
{
	struct cart_ctx *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	json_t *j = json_string(id);

	x->id = strdup(id);
	x->id_json = j ? json_dumps(j, EMU_JSON_FLAGS | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	x->fixed = strdup(fixed);
	if (!x->id || !x->id_json || !x->fixed) {
		cart_ctx_free(x);
		return NULL;
	}
	x->serial = serial;
	x->rate = rate;
	x->enc = enc;
	return x;
}

static void seg_free(struct cart_seg *s)
{
	free(s->text);
	free(s->audio);
	free(s);
}

static void drop_segs(struct cart_ctx *x)
{
	while (x->segs) {
		struct cart_seg *s = x->segs;

		x->segs = s->next;
		seg_free(s);
	}
	x->segs_tail = NULL;
}

void cart_ctx_free(struct cart_ctx *x)
{
	if (!x)
		return;
	drop_segs(x);
	free(x->text);
	free(x->id);
	free(x->id_json);
	free(x->fixed);
	free(x);
}

static struct cart_seg *add_seg(struct cart_ctx *x, enum seg_kind kind)
{
	struct cart_seg *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->kind = kind;
	s->ready = kind != SEG_AUDIO;
	s->seq = x->next_seq++;
	s->flush_id = x->flushes + 1;
	if (x->segs_tail)
		x->segs_tail->next = s;
	else
		x->segs = s;
	x->segs_tail = s;
	return s;
}

/* Sends text[0, n) to synthesis as one piece and drops it from the buffer. */
static int submit(struct cart_ctx *x, const struct cart_env *env, size_t n)
{
	struct emu_tts_job *job;
	struct cart_seg *s;
	size_t i;

	for (i = 0; i < n && isspace((unsigned char)x->text[i]); i++)
		;
	if (i < n) {
		job = calloc(1, sizeof(*job));
		s = job ? add_seg(x, SEG_AUDIO) : NULL;
		if (!s || !(job->text = strndup(x->text, n)) || !(s->text = strndup(x->text, n))) {
			if (job)
				free(job->text);
			free(job);
			return -ENOMEM;
		}
		job->conn = env->conn_serial;
		job->ctx = x->serial;
		job->seq = s->seq;
		job->rate = x->rate;
		job->enc = x->enc;
		emu_tts_submit(env->tts, job);
	}
	memmove(x->text, x->text + n, x->text_len - n + 1);
	x->text_len -= n;
	x->text_since_us = x->text_len ? emu_now_us() : 0;
	return 0;
}

/* Where a piece may end: after the last sentence end, or the last space
 * once PIECE_WORDS words wait. 0: not yet. */
static size_t piece_end(const struct cart_ctx *x)
{
	size_t words = 0, last_space = 0, sentence = 0;

	for (size_t i = 0; i < x->text_len; i++) {
		char ch = x->text[i];

		if (isspace((unsigned char)ch)) {
			if (i && !isspace((unsigned char)x->text[i - 1]))
				words++;
			last_space = i + 1;
			if (i && strchr(".!?;:", x->text[i - 1]))
				sentence = i + 1;
		}
	}
	if (sentence)
		return sentence;
	return words >= PIECE_WORDS ? last_space : 0;
}

static int append_text(struct cart_ctx *x, const char *t)
{
	size_t n = strlen(t);
	char *p;

	if (!n)
		return 0;
	p = realloc(x->text, x->text_len + n + 1);
	if (!p)
		return -ENOMEM;
	x->text = p;
	memcpy(x->text + x->text_len, t, n + 1);
	if (!x->text_len)
		x->text_since_us = emu_now_us();
	x->text_len += n;
	if (!x->first_input_us)
		x->first_input_us = emu_now_us();
	return 0;
}

int cart_ctx_input(struct cart_ctx *x, const struct cart_env *env, const char *transcript,
		   bool cont, bool flush)
{
	size_t end;
	int rc = append_text(x, transcript);

	if (rc)
		return rc;
	if (flush || !cont) {
		if (x->text_len && (rc = submit(x, env, x->text_len)))
			return rc;
		if (flush && !add_seg(x, SEG_FLUSH))
			return -ENOMEM;
		if (flush)
			x->flushes++;
		if (!cont) {
			x->input_closed = true;
			if (!add_seg(x, SEG_END))
				return -ENOMEM;
		}
		return 0;
	}
	while (x->text && (end = piece_end(x)) > 0)
		if ((rc = submit(x, env, end)))
			return rc;
	return 0;
}

void cart_ctx_cancel(struct cart_ctx *x)
{
	if (x->cancelled || x->finished)
		return;
	x->cancelled = true;
	x->done_after_cancel = x->input_closed;
	x->after_cancel = 0;
	x->text_len = 0;
	if (x->text)
		x->text[0] = '\0';
}

void cart_ctx_result(struct cart_ctx *x, struct emu_tts_job *job)
{
	for (struct cart_seg *s = x->segs; s; s = s->next) {
		if (s->seq != job->seq || s->kind != SEG_AUDIO)
			continue;
		s->audio = job->audio;
		s->len = job->len;
		job->audio = NULL;
		s->ready = true;
		return;
	}
}

/* The cancelled context has sent its last chunks: nothing more but the
 * done of an input that had already ended. */
static int cancel_tail_done(struct cart_ctx *x)
{
	drop_segs(x);
	if (x->done_after_cancel && !add_seg(x, SEG_END))
		return -ENOMEM;
	return 0;
}

static int queue_json(const struct cart_env *env, json_t *j)
{
	return ws_txq_push_json(env->q, j, emu_now_us());
}

/* The word_timestamps of a piece, spread over its audio. */
static int send_timestamps(struct cart_ctx *x, const struct cart_env *env, struct cart_seg *s)
{
	size_t width = emu_pcm_width(x->enc);
	double dur = (double)s->len / (double)width / (double)x->rate;
	json_t *words = json_array(), *start = json_array(), *end = json_array();
	const char *p = s->text;
	size_t n = 0, k = 0;

	for (const char *q = p; *q; q++)
		if (!isspace((unsigned char)*q) && (q == p || isspace((unsigned char)q[-1])))
			n++;
	while (*p && n) {
		size_t len;

		while (isspace((unsigned char)*p))
			p++;
		len = strcspn(p, " \t\r\n");
		if (!len)
			break;
		json_array_append_new(words, json_stringn(p, len));
		json_array_append_new(start, emu_json_secs(x->audio_s + dur * (double)k / (double)n));
		json_array_append_new(end, emu_json_secs(x->audio_s + dur * (double)(k + 1) / (double)n));
		p += len;
		k++;
	}
	return queue_json(env, json_pack("{s:s, s:s, s:i, s:b, s:{s:o, s:o, s:o}}",
		"type", "timestamps", "context_id", x->id, "status_code", 206, "done", 0,
		"word_timestamps", "words", words, "start", start, "end", end));
}

/*
 * Queues one chunk message, written by hand: it is most of what the
 * emulator sends, and jansson would cost a base64 copy, a tree and a dump
 * per 40 ms of audio. The bytes are what json_pack + json_dumps gave
 * (same keys, order and number format).
 */
static int queue_chunk(struct cart_ctx *x, const struct cart_env *env, const uint8_t *audio,
		       size_t n, int flush_id)
{
	static const char head[] = "{\"type\":\"chunk\",\"data\":\"";
	static const char mid[] = "\",\"done\":false,\"status_code\":206,\"step_time\":12.5,"
				  "\"context_id\":";
	char stack[16384], *buf = stack, *p;
	size_t idlen = strlen(x->id_json), cap = sizeof(head) + EMU_BASE64_LEN(n) + sizeof(mid) +
		     idlen + 32;
	int rc;

	if (cap > sizeof(stack) && !(buf = malloc(cap)))
		return -ENOMEM;
	p = buf;
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	p += emu_base64_into(audio, n, p);
	memcpy(p, mid, sizeof(mid) - 1);
	p += sizeof(mid) - 1;
	memcpy(p, x->id_json, idlen);
	p += idlen;
	if (flush_id)
		p += snprintf(p, 32, ",\"flush_id\":%d", flush_id);
	*p++ = '}';
	rc = ws_txq_push(env->q, buf, (size_t)(p - buf), false, emu_now_us());
	if (buf != stack)
		free(buf);
	return rc;
}

static int send_chunk(struct cart_ctx *x, const struct cart_env *env, struct cart_seg *s,
		      int64_t due, int64_t now)
{
	size_t width = emu_pcm_width(x->enc);
	size_t n = (size_t)x->rate * CHUNK_MS / 1000 * width;
	double secs;

	if (n > s->len - s->off)
		n = s->len - s->off;
	if (x->timestamps && s->off == 0 && s->text && send_timestamps(x, env, s))
		return -ENOMEM;
	if (queue_chunk(x, env, s->audio + s->off, n, x->flushes ? s->flush_id : 0))
		return -ENOMEM;
	s->off += n;
	secs = (double)n / (double)width / (double)x->rate;
	x->audio_s += secs;
	if (now - due > LATE_SLACK_US)
		due = now;	/* audio came late: pace from now, no burst */
	x->next_due_us = due + (int64_t)(secs * env->e->opt.tts_rtf * 1e6);
	x->first_sent = true;
	if (x->cancelled && ++x->after_cancel >= CANCEL_TAIL)
		return cancel_tail_done(x);
	return 0;
}

static int send_marker(struct cart_ctx *x, const struct cart_env *env, struct cart_seg *s)
{
	if (s->kind == SEG_FLUSH)
		return queue_json(env, json_pack("{s:s, s:s, s:i, s:b, s:b, s:i}",
			"type", "flush_done", "context_id", x->id, "status_code", 206, "done", 0,
			"flush_done", 1, "flush_id", s->flush_id));
	x->finished = true;
	return queue_json(env, json_pack("{s:s, s:s, s:i, s:b}", "type", "done",
					 "context_id", x->id, "status_code", 200, "done", 1));
}

/* Text that has waited long enough goes to synthesis. */
static int64_t linger(struct cart_ctx *x, const struct cart_env *env, int64_t now, int *rc)
{
	int64_t wait = (int64_t)(x->buffer_delay_ms > 0 ? x->buffer_delay_ms : LINGER_MS) * 1000;

	if (!x->text_len || x->cancelled)
		return INT64_MAX;
	if (now - x->text_since_us < wait)
		return x->text_since_us + wait;
	*rc = submit(x, env, x->text_len);
	return INT64_MAX;
}

int64_t cart_ctx_pump(struct cart_ctx *x, const struct cart_env *env, int64_t now)
{
	int rc = 0;
	int64_t wake = linger(x, env, now, &rc);

	while (!rc && x->segs && x->segs->ready) {
		struct cart_seg *s = x->segs;
		int64_t due;

		if (s->kind != SEG_AUDIO) {
			if (s->kind == SEG_END && x->cancelled && !x->done_after_cancel)
				break;
			rc = send_marker(x, env, s);
		} else if (s->off < s->len) {
			due = x->first_sent ? x->next_due_us :
			      x->first_input_us + (int64_t)env->e->opt.tts_ttfb_ms * 1000;
			if (due > now) {
				wake = due < wake ? due : wake;
				break;
			}
			rc = send_chunk(x, env, s, due, now);
			continue;	/* the segment may have been dropped (cancel) */
		}
		if (x->segs != s)
			continue;
		x->segs = s->next;
		if (!x->segs)
			x->segs_tail = NULL;
		seg_free(s);
	}
	return rc ? -ENOMEM : wake;
}
