/*
 * wav.h - reading and writing 16-bit PCM WAV files.
 *
 * Owns: the RIFF/WAVE container for the one format vagent plays (signed
 * 16-bit little-endian, mono, any rate) and records (the same, mono or
 * stereo: a call recording keeps the caller left and the agent right).
 * Reading anything else is refused with a message naming what is wrong,
 * never converted silently.
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
	int channels;
	size_t nsamples;	/* samples of all channels together */
};

int wav_writer_open(struct wav_writer *ww, const char *path, int rate);

/*
 * As wav_writer_open, on a descriptor the caller opened (its mode and
 * flags are the caller's choice), with 1 or 2 channels. The writer owns fd
 * from here on, failure included.
 */
int wav_writer_fdopen(struct wav_writer *ww, int fd, int rate, int channels);

/* n samples, interleaved when stereo (n counts both channels). */
int wav_writer_append(struct wav_writer *ww, const int16_t *s, size_t n);
int wav_writer_close(struct wav_writer *ww);	/* NULL fp is fine */

/*
 * The 44-byte header of a file of nsamples samples (all channels). For a
 * stream that cannot be rewound (a pipe), pass WAV_STREAM_SAMPLES: the
 * sizes say "as long as it lasts", as arecord writes to a pipe.
 */
#define WAV_HDR_LEN 44
#define WAV_STREAM_SAMPLES ((size_t)0x7fffffdc / 2)
void wav_header(uint8_t h[WAV_HDR_LEN], int rate, int channels, size_t nsamples);

/* dst[2i] = l[i], dst[2i+1] = r[i] for i < n; l or r NULL is silence. */
void wav_interleave(int16_t *dst, const int16_t *l, const int16_t *r, size_t n);

/* Writes a whole buffer in one go. 0 or -errno. */
int wav_save(const char *path, int rate, const int16_t *s, size_t n);

#endif
