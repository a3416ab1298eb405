/*
 * emu_cart.h - one Cartesia context (context_id) in vagent-emu's Cartesia
 * TEST DOUBLE: buffered transcript, synthesis pieces in flight, the paced
 * audio of the context, cancel, flush and done.
 *
 * Owns: struct cart_ctx and its segments (emu_cart_ctx.c).
 * Never: writes to the socket; it queues messages on the connection's
 * ws_txq and tells the caller when it next needs to run.
 * Fails: no memory marks the context broken (-ENOMEM); the caller closes
 * the connection.
 */
#ifndef VG_EMU_CART_H
#define VG_EMU_CART_H

#include "emu_ws.h"

/* What the context's owner provides. */
struct cart_env {
	struct emu *e;
	struct emu_tts *tts;
	uint64_t conn_serial;
	struct ws_txq *q;
};

enum seg_kind { SEG_AUDIO, SEG_FLUSH, SEG_END };

struct cart_seg {
	struct cart_seg *next;
	enum seg_kind kind;
	bool ready;
	uint64_t seq;
	char *text;		/* SEG_AUDIO: the words, for timestamps */
	uint8_t *audio;
	size_t len, off;
	int flush_id;
};

struct cart_ctx {
	struct cart_ctx *next;
	char *id;
	char *id_json;		/* id as a JSON string, for the hand-built chunks */
	uint64_t serial;
	char *fixed;		/* model_id, voice, output_format, language as JSON */
	int rate;
	enum emu_pcm enc;
	bool timestamps;	/* add_timestamps */
	int buffer_delay_ms;	/* max_buffer_delay_ms */
	char *text;		/* transcript not yet sent to synthesis */
	size_t text_len;
	int64_t text_since_us;
	bool input_closed, cancelled, finished;
	int after_cancel;	/* chunks sent since the cancel */
	bool done_after_cancel;	/* continue:false came before the cancel */
	struct cart_seg *segs, *segs_tail;
	uint64_t next_seq;
	int flushes;
	int64_t first_input_us;	/* 0: no transcript yet */
	bool first_sent;
	int64_t next_due_us;
	double audio_s;		/* seconds of audio sent (timestamps) */
};

struct cart_ctx *cart_ctx_new(const char *id, uint64_t serial, const char *fixed, int rate,
			      enum emu_pcm enc);
void cart_ctx_free(struct cart_ctx *x);

/* A generation input on the context. 0 or -ENOMEM. */
int cart_ctx_input(struct cart_ctx *x, const struct cart_env *env, const char *transcript,
		   bool cont, bool flush);
void cart_ctx_cancel(struct cart_ctx *x);
/* A synthesis result for this context (takes the audio). */
void cart_ctx_result(struct cart_ctx *x, struct emu_tts_job *job);

/*
 * Queues what is due at now (chunks, timestamps, flush_done, done) on
 * env->q and submits lingering text. Returns when it next needs to run
 * (INT64_MAX: only when something happens), or -ENOMEM.
 */
int64_t cart_ctx_pump(struct cart_ctx *x, const struct cart_env *env, int64_t now);

#endif
