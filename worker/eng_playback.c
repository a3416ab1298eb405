/*
 * eng_playback.c - the playback engine: plays the configured WAV, then
 * hangs up.
 *
 * For announcements ("we are closed") and for testing outbound pacing.
 * The file was loaded and checked with the configuration, so a call never
 * waits on the disk. A file at another rate than the call is converted
 * once at call start. Caller audio is discarded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/audio.h"
#include "../common/conf.h"
#include "../ipc/ring.h"
#include "call.h"
#include "engine.h"

struct playback {
	const int16_t *samples;
	size_t n, pos;
	int16_t *owned;		/* the converted copy, when the rates differ */
};

static int playback_start(struct call *c)
{
	const struct wav *src = &call_conf(c)->playback;
	struct playback *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	if (src->rate == call_rate(c)) {
		p->samples = src->samples;
		p->n = src->nsamples;
	} else {
		size_t cap = (size_t)((uint64_t)src->nsamples * (uint64_t)call_rate(c) /
				      (uint64_t)src->rate) + 1;
		p->owned = malloc(cap * sizeof(int16_t));
		if (!p->owned) {
			free(p);
			return -ENOMEM;
		}
		p->n = audio_resample(src->samples, src->nsamples, src->rate,
				      p->owned, cap, call_rate(c));
		p->samples = p->owned;
	}
	call_set_engine_state(c, p);
	return 0;
}

static void playback_on_audio(struct call *c, const uint8_t *pcm, size_t samples)
{
	(void)pcm;
	(void)samples;
	ring_flush(call_ring_in(c));
}

/* Keeps the outbound ring topped up; the pacer drains it at 20 ms a frame. */
static void playback_on_tick(struct call *c)
{
	struct playback *p = call_engine_state(c);

	if (p->pos < p->n)
		p->pos += ring_write(call_ring_out(c), p->samples + p->pos, p->n - p->pos);
	if (p->pos == p->n)
		call_hangup_after_playout(c, "playback finished");
}

static void playback_stop(struct call *c)
{
	struct playback *p = call_engine_state(c);

	if (p)
		free(p->owned);
	free(p);
	call_set_engine_state(c, NULL);
}

const struct engine_ops engine_playback = {
	.name = "playback",
	.silence_when_idle = false,
	.start = playback_start,
	.on_audio = playback_on_audio,
	.on_tick = playback_on_tick,
	.stop = playback_stop,
};
