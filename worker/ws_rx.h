/*
 * ws_rx.h - one websocket message gathered from libwebsockets' fragments,
 * for the server side (ws_server.c); the clients parse their own frames
 * (ws_frame.h).
 *
 * Owns nothing: rx is the connection's buffer, capped by its own ceiling;
 * a message over it closes the connection with 1009 (too large).
 */
#ifndef VG_WS_RX_H
#define VG_WS_RX_H

#include <errno.h>
#include <libwebsockets.h>

#include "../common/buf.h"

/* 1: rx holds a whole message (the caller resets it), 0: more to come, -1: close. */
static inline int ws_rx_gather(struct buf *rx, struct lws *wsi, const void *in, size_t len)
{
	int rc = buf_append(rx, in, len);

	if (rc == -EMSGSIZE)
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
	if (rc < 0)
		return -1;
	return lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
}

#endif
