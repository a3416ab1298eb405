/*
 * ctl_http.c - one blocking HTTP request for vagentctl (see ctl_http.h).
 *
 * A handle per request: these commands make one or two requests and exit,
 * so there is nothing to gain from keeping connections.
 */
#include "ctl_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_S 10L
#define TIMEOUT_S 30L
#define ANSWER_MAX (1u << 20)

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

int ctl_http_post(const struct ctl_http_req *r, long *status, struct buf *answer,
		  char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "", ctype[128];
	struct curl_slist *h = NULL;
	CURL *curl = curl_easy_init();
	CURLcode rc;

	*status = 0;
	buf_free(answer);
	buf_init(answer, ANSWER_MAX);
	if (!curl) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", r->content_type);
	h = curl_slist_append(h, ctype);
	h = curl_slist_append(h, "Accept: application/json");
	if (r->header)
		h = curl_slist_append(h, r->header);
	curl_easy_setopt(curl, CURLOPT_URL, r->url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->body);
	if (r->user) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, r->user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, r->password ? r->password : "");
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "vagentctl/" VAGENT_VERSION);
	if (getenv("SSL_CERT_FILE"))
		curl_easy_setopt(curl, CURLOPT_CAINFO, getenv("SSL_CERT_FILE"));
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", answer->len >= ANSWER_MAX ? "answer too large" :
			 cerr[0] ? cerr : curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}
