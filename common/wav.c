/*
 * wav.c - 16-bit PCM mono WAV files.
 *
 * Walks the RIFF chunks rather than assuming a 44-byte header: files from
 * sox, espeak-ng and Audacity carry LIST/fact chunks before "data".
 */
#include "wav.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "WAV samples are little-endian; add byte swapping for this target"
#endif

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static int fail(char *err, size_t errlen, int code, const char *path, const char *what)
{
	snprintf(err, errlen, "%s: %s", path, what);
	return code;
}

static int read_fmt(FILE *fp, uint32_t size, int *rate, char *err, size_t errlen,
		    const char *path)
{
	uint8_t fmt[16];

	if (size < 16 || fread(fmt, 1, 16, fp) != 16)
		return fail(err, errlen, -EINVAL, path, "short fmt chunk");
	if (le16(fmt) != 1)
		return fail(err, errlen, -EINVAL, path, "not PCM (format tag != 1)");
	if (le16(fmt + 2) != 1)
		return fail(err, errlen, -EINVAL, path, "not mono");
	if (le16(fmt + 14) != 16)
		return fail(err, errlen, -EINVAL, path, "not 16-bit");
	*rate = (int)le32(fmt + 4);
	if (*rate < 8000 || *rate > 192000)
		return fail(err, errlen, -EINVAL, path, "sample rate out of range");
	if (fseek(fp, (long)(size - 16 + (size & 1)), SEEK_CUR) != 0)
		return fail(err, errlen, -EINVAL, path, "truncated fmt chunk");
	return 0;
}

static int read_data(FILE *fp, uint32_t size, struct wav *w, char *err, size_t errlen,
		     const char *path)
{
	long here = ftell(fp);

	/*
	 * A recording whose writer never closed it says 0 (or garbage) for the
	 * size: take whatever the file holds instead.
	 */
	if (here >= 0 && fseek(fp, 0, SEEK_END) == 0) {
		long end = ftell(fp);
		if (end > here && (size == 0 || (long)size > end - here))
			size = (uint32_t)(end - here);
		if (fseek(fp, here, SEEK_SET) != 0)
			return fail(err, errlen, -EIO, path, "cannot seek");
	}
	w->nsamples = size / 2;
	w->samples = malloc(w->nsamples ? w->nsamples * 2 : 1);
	if (!w->samples)
		return fail(err, errlen, -ENOMEM, path, "out of memory");
	/* A data chunk cut short (a recording never closed) still plays. */
	w->nsamples = fread(w->samples, 2, w->nsamples, fp);
	return 0;
}

int wav_load(const char *path, struct wav *w, char *err, size_t errlen)
{
	uint8_t hdr[12], ch[8];
	int rate = 0, rc = 0;
	FILE *fp = fopen(path, "rb");

	memset(w, 0, sizeof(*w));
	if (!fp) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fread(hdr, 1, 12, fp) != 12 || memcmp(hdr, "RIFF", 4) || memcmp(hdr + 8, "WAVE", 4)) {
		rc = fail(err, errlen, -EINVAL, path, "not a RIFF/WAVE file");
		goto out;
	}
	for (;;) {
		if (fread(ch, 1, 8, fp) != 8) {
			rc = fail(err, errlen, -EINVAL, path, "no data chunk");
			goto out;
		}
		uint32_t size = le32(ch + 4);
		if (!memcmp(ch, "fmt ", 4)) {
			if ((rc = read_fmt(fp, size, &rate, err, errlen, path)) < 0)
				goto out;
		} else if (!memcmp(ch, "data", 4)) {
			if (!rate) {
				rc = fail(err, errlen, -EINVAL, path, "data before fmt");
				goto out;
			}
			rc = read_data(fp, size, w, err, errlen, path);
			w->rate = rate;
			goto out;
		} else if (fseek(fp, (long)size + (size & 1), SEEK_CUR) != 0) {
			rc = fail(err, errlen, -EINVAL, path, "truncated chunk");
			goto out;
		}
	}
out:
	fclose(fp);
	if (rc < 0)
		wav_free(w);
	return rc;
}

void wav_free(struct wav *w)
{
	if (!w)
		return;
	free(w->samples);
	memset(w, 0, sizeof(*w));
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

void wav_header(uint8_t h[WAV_HDR_LEN], int rate, int channels, size_t nsamples)
{
	uint32_t bytes = (uint32_t)(nsamples * 2);
	uint32_t align = (uint32_t)channels * 2;

	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + bytes);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	h[20] = 1; h[21] = 0;			/* PCM */
	h[22] = (uint8_t)channels; h[23] = 0;
	put32(h + 24, (uint32_t)rate);
	put32(h + 28, (uint32_t)rate * align);	/* bytes per second */
	h[32] = (uint8_t)align; h[33] = 0;	/* block align */
	h[34] = 16; h[35] = 0;			/* bits */
	memcpy(h + 36, "data", 4);
	put32(h + 40, bytes);
}

void wav_interleave(int16_t *dst, const int16_t *l, const int16_t *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = l ? l[i] : 0;
		dst[2 * i + 1] = r ? r[i] : 0;
	}
}

static int write_header(FILE *fp, int rate, int channels, size_t nsamples)
{
	uint8_t h[WAV_HDR_LEN];

	wav_header(h, rate, channels, nsamples);
	if (fseek(fp, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof(h), fp) != sizeof(h))
		return -EIO;
	return 0;
}

static int writer_start(struct wav_writer *ww, int rate, int channels)
{
	int rc;

	ww->rate = rate;
	ww->channels = channels;
	ww->nsamples = 0;
	if ((rc = write_header(ww->fp, rate, channels, 0)) < 0) {
		fclose(ww->fp);	/* on failure nothing is left open */
		ww->fp = NULL;
	}
	return rc;
}

int wav_writer_open(struct wav_writer *ww, const char *path, int rate)
{
	ww->fp = fopen(path, "w+b");
	if (!ww->fp)
		return -errno;
	return writer_start(ww, rate, 1);
}

int wav_writer_fdopen(struct wav_writer *ww, int fd, int rate, int channels)
{
	ww->fp = NULL;
	if (channels < 1 || channels > 2) {
		close(fd);
		return -EINVAL;
	}
	ww->fp = fdopen(fd, "w+b");
	if (!ww->fp) {
		int e = errno;
		close(fd);
		return -e;
	}
	return writer_start(ww, rate, channels);
}

int wav_writer_append(struct wav_writer *ww, const int16_t *s, size_t n)
{
	if (fwrite(s, 2, n, ww->fp) != n)
		return -EIO;
	ww->nsamples += n;
	return 0;
}

int wav_writer_close(struct wav_writer *ww)
{
	int rc;

	if (!ww->fp)
		return 0;
	rc = fflush(ww->fp) != 0 ? -errno : 0;
	if (write_header(ww->fp, ww->rate, ww->channels, ww->nsamples) < 0 && rc == 0)
		rc = -EIO;
	if (fclose(ww->fp) != 0 && rc == 0)
		rc = -errno;
	ww->fp = NULL;
	return rc;
}

int wav_save(const char *path, int rate, const int16_t *s, size_t n)
{
	struct wav_writer ww;
	int rc = wav_writer_open(&ww, path, rate);

	if (rc == 0)
		rc = wav_writer_append(&ww, s, n);
	int rc2 = wav_writer_close(&ww);
	return rc ? rc : rc2;
}
