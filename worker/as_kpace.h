/*
 * as_kpace.h - Linux's TCP paces an AudioSocket call's outbound frames.
 *
 * Owns: the socket side of writing a reply's frames ahead: the pacing
 * rate (SO_MAX_PACING_RATE, one frame per 20 ms), what the kernel has not
 * sent yet, and whether it paces this connection yet. With it a worker
 * tops the socket up once per batch while the agent speaks instead of
 * waking for each 20 ms frame, and each frame still leaves on time,
 * however late the worker runs (wrk_call.c, PROFILE.md).
 *
 * Kernel rules this relies on (Linux 4.20 on: TCP's own pacing, or the
 * fq qdisc's where one is set): each segment leaves its length over the
 * rate after the one before; the first 10 segments of a connection are
 * not paced; a segment sent after its slot had passed (nothing was
 * queued) lets the next leave up to half its own length early. A frame
 * is one segment only if each goes with MSG_EOR, else TCP joins frames
 * written together. A socket closed with the peer's data unread is reset,
 * and what it still held is lost: its owner waits for as_kpace_unacked
 * to reach 0 before it closes.
 *
 * Never: blocks, or fails a call: where the option is refused the call
 * is paced frame by frame as before.
 */
#ifndef VG_AS_KPACE_H
#define VG_AS_KPACE_H

#include <stdbool.h>
#include <stddef.h>

/* One message of frame_bytes every frame_ms on fd. 0 or -errno. */
int as_kpace_enable(int fd, size_t frame_bytes, int frame_ms);

/*
 * Frames leave as they are written again. The kernel applies a lower
 * rate at once but a higher one only from the peer's next
 * acknowledgement on (tcp_update_pacing_rate), and a frame never leaves
 * before the slot the one before it set: pause well before a frame must
 * go at once. as_kpace_enable paces again at once. 0 or -errno.
 */
int as_kpace_pause(int fd);

/* Bytes written to fd that have not left yet, or -errno. */
int as_kpace_unsent(int fd);

/* Bytes written to fd that the peer has not acknowledged yet (sent or not), or -errno. */
int as_kpace_unacked(int fd);

/* Past the segments the kernel sends unpaced: what is written ahead now keeps time. */
bool as_kpace_ready(int fd);

#endif
