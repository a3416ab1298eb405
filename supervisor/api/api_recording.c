/*
 * api_recording.c - GET /api/bookings/{id}/recording: the WAV of the call
 * a booking came from, for the board (session) or a client (key).
 *
 * The client names a booking, never a file: the path comes from the calls
 * row the booking-writer filled in from the worker, looked up on the
 * database thread. Even so it is input: only a regular file directly
 * inside [call] recording_dir is served, opened without following a link.
 * A recording removed by retention (or never made) is 404.
 */
#include "api.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/booking/record.h"
#include "../../common/conf.h"

#define REC_WAIT_MS 3000

static const char SQL_PATH[] =
	"SELECT c.recording_path FROM ai_agent_bookings b JOIN calls c ON c.uuid = b.call_uuid "
	"WHERE b.id = ?";

struct rec_job {
	struct api_job j;
	struct evhttp_request *req;
	int64_t t0;
	long long id;
	char path[REC_RECORDING_MAX + 1];	/* run's result; "" if none */
};

/* On the database thread. */
static int rec_run(struct api_dbconn *c, struct api_job *job)
{
	struct rec_job *r = (struct rec_job *)job;
	MYSQL_STMT *st = mysql_stmt_init(c->db);
	MYSQL_BIND in, out;
	unsigned long len = 0;
	my_bool nul = 1;
	int rc = -EIO;

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	in.buffer_type = MYSQL_TYPE_LONGLONG;
	in.buffer = &r->id;
	out.buffer_type = MYSQL_TYPE_STRING;
	out.buffer = r->path;
	out.buffer_length = sizeof(r->path) - 1;
	out.length = &len;
	out.is_null = &nul;
	if (st && !mysql_stmt_prepare(st, SQL_PATH, strlen(SQL_PATH)) &&
	    !mysql_stmt_bind_param(st, &in) && !mysql_stmt_execute(st) &&
	    !mysql_stmt_bind_result(st, &out)) {
		int f = mysql_stmt_fetch(st);
		/* No row, NULL, or longer than the column allows (truncated): no recording. */
		r->path[f == 0 && !nul && len < sizeof(r->path) ? len : 0] = '\0';
		rc = f == 0 || f == MYSQL_NO_DATA || f == MYSQL_DATA_TRUNCATED ? 0 : -EIO;
	}
	if (rc < 0)
		rc = api_db_fail(c, st, "looking up a recording");
	if (st)
		mysql_stmt_close(st);
	return rc;
}

/* path names a file directly inside dir: no "..", no subdirectory. */
static bool inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n && !strncmp(path, dir, n) && path[n] == '/' && path[n + 1] &&
	       !strchr(path + n + 1, '/') && strcmp(path + n + 1, "..") && path[n + 1] != '.';
}

static void rec_done(struct api *a, struct api_job *job, int rc)
{
	struct rec_job *r = (struct rec_job *)job;
	struct evbuffer *out;
	struct stat st;
	char disp[64];
	int fd = -1;

	if (rc < 0) {
		api_error(a, r->req, 503, API_EP_BOOKING, r->t0, "database unavailable; try again");
		return;
	}
	if (r->path[0] && inside(r->path, a->conf->recording_dir))
		fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(out = evbuffer_new())) {
		if (fd >= 0)
			close(fd);
		api_error(a, r->req, 404, API_EP_BOOKING, r->t0, "no recording for booking %lld",
			  r->id);
		return;
	}
	evbuffer_add_file(out, fd, 0, st.st_size);	/* takes fd */
	snprintf(disp, sizeof(disp), "inline; filename=\"booking-%lld.wav\"", r->id);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type", "audio/wav");
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Disposition", disp);
	api_send(a, r->req, 200, out);
	evbuffer_free(out);
	api_count(a, API_EP_BOOKING, 200, r->t0);
}

void api_recording(struct api *a, struct evhttp_request *req, const char *id, int64_t t0)
{
	struct rec_job *r = (struct rec_job *)api_job_new(sizeof(*r), rec_run, rec_done, NULL);

	if (!r) {
		api_error(a, req, 503, API_EP_BOOKING, t0, "database unavailable; try again");
		return;
	}
	r->req = req;
	r->t0 = t0;
	r->id = strtoll(id, NULL, 10);
	if (r->id <= 0) {
		api_job_free(&r->j);
		api_error(a, req, 404, API_EP_BOOKING, t0, "no booking %s", id);
		return;
	}
	if (api_db_submit(a, &r->j, REC_WAIT_MS) < 0) {
		api_job_free(&r->j);
		api_error(a, req, 503, API_EP_BOOKING, t0, "database unavailable; try again");
	}
}
