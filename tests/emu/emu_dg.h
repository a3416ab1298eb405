/*
 * emu_dg.h - the Deepgram TEST DOUBLE's view of a /v1/listen request:
 * the query parameters the real service reads, checked as it checks them.
 *
 * Owns: struct dg_cfg and its parser (emu_dg_query.c); the Results
 * builder (emu_dg_results.c); the energy detector (emu_dg_vad.c).
 * Never: looks at anything but the query.
 * Fails: a query the real service refuses gives -EINVAL with the error
 * code and message Deepgram answers with (HTTP 400).
 */
#ifndef VG_EMU_DG_H
#define VG_EMU_DG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

enum dg_enc { DG_ENC_NONE = 0, DG_ENC_LINEAR16, DG_ENC_MULAW, DG_ENC_ALAW };

struct dg_cfg {
	char model[64];
	char language[32];
	enum dg_enc enc;		/* NONE: containerised (WAV) audio */
	int rate;			/* 0: not given */
	int channels;
	bool interim, vad_events, punctuate, smart_format;
	int endpointing_ms;		/* -1: endpointing=false */
	int utt_end_ms;			/* 0: no UtteranceEnd */
	int nkeyterm, nkeywords;
};

/* Reads and checks the query of wsi. 0, or -EINVAL with msg (err_msg). */
int dg_cfg_parse(struct lws *wsi, struct dg_cfg *cfg, char *msg, size_t msglen);

/* One Results message (emu_dg_results.c). */
struct dg_slice {
	const char *text;	/* the script's utterance */
	size_t reveal;		/* words shown (interims reveal them one by one) */
	double start, end;	/* the slice of audio, in stream seconds */
	double w0, w1;		/* where its words lie */
	bool is_final, speech_final, from_finalize;
};

/* Hearing by energy, per 20 ms window (emu_dg_vad.c). */
#define DG_WIN_MS 20

struct dg_vad {
	enum dg_enc enc;
	int channels;
	size_t frame_bytes;
	size_t win_len;		/* sample frames per window */
	uint64_t thresh_sq;	/* --vad-rms squared */
	uint8_t carry[16];	/* the bytes of a frame split across messages */
	size_t ncarry;
	uint64_t energy;	/* sum of squares of the window so far */
	size_t win_n;
};

void dg_vad_init(struct dg_vad *v, enum dg_enc enc, int channels, int rate, int vad_rms);
/* Feeds audio bytes; window(arg, frames, voiced) for each complete window. */
void dg_vad_feed(struct dg_vad *v, const uint8_t *p, size_t len,
		 void (*window)(void *arg, size_t frames, bool voiced), void *arg);

json_t *dg_results(const struct dg_cfg *cfg, const char *request_id, const char *model_uuid,
		   const struct dg_slice *sl);
size_t dg_count_words(const char *text);

#endif
