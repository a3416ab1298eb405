/*
 * xi_agent_audio.c - format and rate conversion for the ElevenLabs bridge.
 * See xi_agent_audio.h.
 */
#include "xi_agent_audio.h"

#include <errno.h>
#include <speex/speex_resampler.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/ulaw.h"

/* Voice on a phone line: 4 is speexdsp's VoIP default, cheap and clean. */
#define RESAMPLE_QUALITY 4
#define STEP 1024		/* samples converted per pass */

struct xa_conv {
	struct xa_fmt from, to;
	SpeexResamplerState *rs;	/* NULL: same rate */
	uint8_t odd;			/* a PCM sample's first byte, waiting */
	bool has_odd;
	int16_t ulaw[256];		/* from.ulaw: each byte's sample */
};

int16_t xa_ulaw_decode(uint8_t u)
{
	return ulaw_decode(u);
}

uint8_t xa_ulaw_encode(int16_t s)
{
	return ulaw_encode(s);
}

int xa_conv_new(struct xa_conv **out, struct xa_fmt from, struct xa_fmt to)
{
	struct xa_conv *c = calloc(1, sizeof(*c));
	int err = 0;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	for (int i = 0; from.ulaw && i < 256; i++)
		c->ulaw[i] = xa_ulaw_decode((uint8_t)i);
	c->from = from;
	c->to = to;
	if (from.rate != to.rate) {
		c->rs = speex_resampler_init(1, (spx_uint32_t)from.rate, (spx_uint32_t)to.rate,
					     RESAMPLE_QUALITY, &err);
		if (!c->rs) {
			free(c);
			return err == RESAMPLER_ERR_ALLOC_FAILED ? -ENOMEM : -EINVAL;
		}
		speex_resampler_skip_zeros(c->rs);	/* no filter delay at the start */
	}
	*out = c;
	return 0;
}

void xa_conv_free(struct xa_conv *c)
{
	if (!c)
		return;
	if (c->rs)
		speex_resampler_destroy(c->rs);
	free(c);
}

/* n samples at the target rate into out, in the target encoding. */
static int emit(struct xa_conv *c, const int16_t *s, size_t n, struct buf *out)
{
	uint8_t *p;
	size_t width = c->to.ulaw ? 1 : 2;
	int rc = buf_reserve(out, n * width, &p);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (c->to.ulaw) {
			p[i] = xa_ulaw_encode(s[i]);
		} else {
			p[2 * i] = (uint8_t)(s[i] & 0xff);
			p[2 * i + 1] = (uint8_t)((uint16_t)s[i] >> 8);
		}
	}
	buf_commit(out, n * width);
	return 0;
}

/* n samples at the source rate: resampled (if need be) and emitted. */
static int convert(struct xa_conv *c, const int16_t *s, size_t n, struct buf *out)
{
	int16_t o[STEP * 6 + 16];	/* 8 to 48 kHz at most */
	int rc = 0;

	if (!c->rs)
		return emit(c, s, n, out);
	while (n && rc == 0) {
		spx_uint32_t in_len = n > STEP ? STEP : (spx_uint32_t)n;
		spx_uint32_t out_len = sizeof(o) / sizeof(o[0]);
		speex_resampler_process_int(c->rs, 0, s, &in_len, o, &out_len);
		if (!in_len && !out_len)
			break;
		s += in_len;
		n -= in_len;
		rc = emit(c, o, out_len, out);
	}
	return rc;
}

int xa_conv_run(struct xa_conv *c, const uint8_t *in, size_t n, struct buf *out)
{
	int16_t s[STEP];
	size_t k = 0;
	int rc = 0;

	while (n && rc == 0) {
		if (c->from.ulaw) {
			s[k++] = c->ulaw[*in++];
			n--;
		} else if (c->has_odd) {
			s[k++] = (int16_t)(c->odd | in[0] << 8);
			c->has_odd = false;
			in++;
			n--;
		} else if (n == 1) {
			c->odd = *in;
			c->has_odd = true;
			n = 0;
		} else {
			s[k++] = (int16_t)(in[0] | in[1] << 8);
			in += 2;
			n -= 2;
		}
		if (k == STEP) {
			rc = convert(c, s, k, out);
			k = 0;
		}
	}
	return rc == 0 && k ? convert(c, s, k, out) : rc;
}
