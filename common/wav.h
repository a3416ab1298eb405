/*
 * wav.h - reading and writing 16-bit PCM mono WAV files.
 *
 * Owns: the RIFF/WAVE container for the one format vagent plays and
 * records (signed 16-bit little-endian, mono, any rate). Anything else is
 * refused with a message naming what is wrong, never converted silently.
 */
#ifndef VG_WAV_H
#define VG_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct wav {
	int rate;
	size_t nsamples;
	int16_t *samples;	/* owned; free with wav_free() */
};

/* Loads path into *w. 0, or -errno / -EINVAL with err filled. */
int wav_load(const char *path, struct wav *w, char *err, size_t errlen);
void wav_free(struct wav *w);

/* Incremental writer: header fixed up on close, so a recording can grow. */
struct wav_writer {
	FILE *fp;
	int rate;
	size_t nsamples;
};

int wav_writer_open(struct wav_writer *ww, const char *path, int rate);
int wav_writer_append(struct wav_writer *ww, const int16_t *s, size_t n);
int wav_writer_close(struct wav_writer *ww);	/* NULL fp is fine */

/* Writes a whole buffer in one go. 0 or -errno. */
int wav_save(const char *path, int rate, const int16_t *s, size_t n);

#endif
