/*
 * api_static.c - the dispatch board's files: GET /board (the page),
 * /board/login (the login form), /board/board.css, /board/board.js.
 *
 * Owns: which URL serves which file of www/ (built in by api_www.S) with
 * which type, and who may have it. The login form and the style are for
 * anyone (the form must show before a login, and neither holds data); the
 * page and its script need a session or the key: without one, the page
 * sends the browser to the login form and the script answers 401.
 *
 * Paths are looked up whole in a fixed table, so "/board/../x" or an
 * encoded dot is simply not found (404): no file is ever opened.
 */
#include "api.h"

#include <event2/http.h>
#include <string.h>

#define WWW(sym) extern const unsigned char sym[], sym##_end[]
WWW(www_board_html);
WWW(www_login_html);
WWW(www_board_css);
WWW(www_board_js);
#undef WWW

struct www_file {
	const char *path;
	const char *type;
	const unsigned char *start, *end;
	bool open;		/* served without a session */
};

static const struct www_file FILES[] = {
	{ "/board", "text/html; charset=utf-8", www_board_html, www_board_html_end, false },
	{ "/board/login", "text/html; charset=utf-8", www_login_html, www_login_html_end, true },
	{ "/board/board.css", "text/css; charset=utf-8", www_board_css, www_board_css_end, true },
	{ "/board/board.js", "text/javascript; charset=utf-8", www_board_js, www_board_js_end,
	  false },
};

static const struct www_file *lookup(const char *path)
{
	for (size_t i = 0; i < sizeof(FILES) / sizeof(FILES[0]); i++)
		if (!strcmp(FILES[i].path, path))
			return &FILES[i];
	return NULL;
}

static void see_other(struct api *a, struct evhttp_request *req, const char *to, int64_t t0)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", to);
	api_send(a, req, 303, NULL);
	api_count(a, API_EP_BOARD, 303, t0);
}

static bool allowed(struct api *a, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);

	return api_session_ok(a, req) || api_key_ok(a, evhttp_find_header(in, "X-API-Key"));
}

bool api_static(struct api *a, struct evhttp_request *req, const char *path, int64_t t0)
{
	const struct www_file *f = lookup(path);

	if (!f)
		return false;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		api_error(a, req, 405, API_EP_BOARD, t0, "method not allowed");
		return true;
	}
	if (!f->open && !allowed(a, req)) {
		if (!strcmp(f->path, "/board"))
			see_other(a, req, "/board/login", t0);
		else
			api_error(a, req, 401, API_EP_BOARD, t0, "Unauthorized");
		return true;
	}
	if (!strcmp(f->path, "/board/login") && api_session_ok(a, req)) {
		see_other(a, req, "/board", t0);
		return true;
	}
	api_send_bytes(a, req, 200, f->type, f->start, (size_t)(f->end - f->start), API_EP_BOARD,
		       t0);
	return true;
}
