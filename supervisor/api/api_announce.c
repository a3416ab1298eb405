/*
 * api_announce.c - GET /announce/<name>.wav: the one-way messages
 * `vagentctl announce` synthesised, fetched by Twilio when it <Play>s them.
 *
 * Served without the key, because Twilio cannot send it: the name is 128
 * random bits written by vagentctl (ctl_announce.c), so knowing the URL is
 * the capability, as with a signed link. The name must be exactly 32
 * lower-case hex digits and ".wav", so no path (no '/', no "..") can ever
 * be formed from a request; the file is opened without following a link,
 * must be a regular file, and is refused (and removed) once a day old.
 *
 * Never: list the directory; say whether an expired name ever existed.
 * Fails: every refusal is the same 404.
 */
#include "api.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/conf.h"
#include "../../common/log.h"

#define ANNOUNCE_TTL_S (24 * 3600)
#define ANNOUNCE_MAX (16u << 20)	/* minutes of 8 kHz audio */

bool api_announce_name_ok(const char *name)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return !strcmp(name + 32, ".wav");
}

void api_announce(struct api *a, struct evhttp_request *req, const char *name, int64_t t0)
{
	char path[PATH_MAX + 64];
	struct stat st;
	int fd = -1;

	if (!api_announce_name_ok(name) || !a->conf->api_announce_dir[0])
		goto not_found;
	snprintf(path, sizeof(path), "%s/%s", a->conf->api_announce_dir, name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size <= 44 || (size_t)st.st_size > ANNOUNCE_MAX)
		goto not_found;
	if (time(NULL) - st.st_mtime > ANNOUNCE_TTL_S) {
		unlink(path);	/* best effort: vagentctl also sweeps */
		goto not_found;
	}
	struct evbuffer *out = evbuffer_new();
	if (!out || evbuffer_add_file(out, fd, 0, st.st_size) < 0) {
		if (out)
			evbuffer_free(out);
		api_error(a, req, 503, API_EP_ANNOUNCE, t0, "cannot read the announcement");
		close(fd);
		return;
	}
	/* evbuffer_add_file owns fd now */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "audio/wav");
	api_send(a, req, 200, out);
	evbuffer_free(out);
	api_count(a, API_EP_ANNOUNCE, 200, t0);
	return;
not_found:
	if (fd >= 0)
		close(fd);
	api_error(a, req, 404, API_EP_ANNOUNCE, t0, "not found");
}
