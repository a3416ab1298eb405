/*
 * as_kpace.c - the pacing rate, the unsent bytes and the unpaced start of
 * an AudioSocket connection (as_kpace.h).
 */
#include "as_kpace.h"

#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>		/* tcp_info with tcpi_data_segs_out (Linux 4.6) */
#include <netinet/in.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* Segments a connection sends before TCP starts to pace it (tcp_output.c). */
#define UNPACED_SEGS 10

int as_kpace_enable(int fd, size_t frame_bytes, int frame_ms)
{
	/* Bytes a second; TCP counts the segment's payload, our whole message. */
	unsigned int rate = (unsigned int)(frame_bytes * 1000 / (size_t)frame_ms);

	if (setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate)) < 0)
		return -errno;
	return 0;
}

int as_kpace_pause(int fd)
{
	unsigned int unlimited = ~0U;

	if (setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &unlimited, sizeof(unlimited)) < 0)
		return -errno;
	return 0;
}

/* One of the socket's output queue counts (bytes), or -errno. */
static int outq_bytes(int fd, unsigned long req)
{
	int n = 0;

	if (ioctl(fd, req, &n) < 0)
		return -errno;
	return n;
}

int as_kpace_unsent(int fd)
{
	return outq_bytes(fd, SIOCOUTQNSD);
}

int as_kpace_unacked(int fd)
{
	return outq_bytes(fd, SIOCOUTQ);
}

bool as_kpace_ready(int fd)
{
	struct tcp_info ti = { 0 };
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_data_segs_out) + sizeof(ti.tcpi_data_segs_out))
		return false;
	return ti.tcpi_data_segs_out >= UNPACED_SEGS;
}
