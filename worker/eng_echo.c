/*
 * eng_echo.c - the echo engine: plays the caller's audio back.
 *
 * Like Asterisk's Echo(), for testing a line end to end before any AI is
 * involved. Output starts once prebuffer_ms of audio has arrived, so that
 * ordinary network jitter on the way in does not become gaps on the way
 * out; after that every sample goes straight back, unchanged.
 */
#include <errno.h>
#include <stdlib.h>

#include "../common/conf.h"
#include "../ipc/ring.h"
#include "call.h"
#include "engine.h"

struct echo {
	size_t prebuffer;	/* samples to collect before output starts */
	bool flowing;
};

static int echo_start(struct call *c)
{
	struct echo *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->prebuffer = (size_t)call_rate(c) * (size_t)call_conf(c)->echo_prebuffer_ms / 1000;
	call_set_engine_state(c, e);
	return 0;
}

static void echo_on_audio(struct call *c, const uint8_t *pcm, size_t samples)
{
	struct echo *e = call_engine_state(c);
	struct ring *in = call_ring_in(c), *out = call_ring_out(c);
	int16_t buf[1024];
	size_t n;

	(void)pcm;
	(void)samples;
	if (!e->flowing) {
		if (ring_avail(in) < e->prebuffer)
			return;
		e->flowing = true;
	}
	while ((n = ring_avail(in)) > 0) {
		size_t space = ring_space(out);
		if (n > space)
			n = space;	/* the caller outruns the pacer: keep the rest queued */
		if (n > sizeof(buf) / sizeof(buf[0]))
			n = sizeof(buf) / sizeof(buf[0]);
		if (n == 0)
			break;
		ring_read(in, buf, n);
		ring_write(out, buf, n);
	}
}

static void echo_stop(struct call *c)
{
	free(call_engine_state(c));
	call_set_engine_state(c, NULL);
}

const struct engine_ops engine_echo = {
	.name = "echo",
	.silence_when_idle = false,
	.start = echo_start,
	.on_audio = echo_on_audio,
	.stop = echo_stop,
};
