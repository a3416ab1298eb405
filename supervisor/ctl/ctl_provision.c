/*
 * ctl_provision.c - vagentctl provision elevenlabs (see ctl_provision.h).
 *
 * Idempotent by name, as an administrator re-running it after changing the
 * prompt or the public URL expects: list, then PATCH what exists and POST
 * what does not. The tools come first because the agent names their IDs.
 * Plain blocking libcurl easy calls: this is a command run by hand, one
 * request at a time, each bounded by a connect and a total timeout.
 * libcurl does not read $SSL_CERT_FILE itself; we pass it on, as OpenSSL
 * (and vagentd's workers) would use it.
 */
#include "ctl_provision.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/conf.h"
#include "../../common/file_replace.h"
#include "ctl_xi_json.h"

#define XI_MAX_BODY (4u << 20)		/* a list of tools or agents, with slack */
#define XI_CONNECT_S 10L
#define XI_TIMEOUT_S 30L
#define JSON_SEND (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))
#define JSON_OUT (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

struct xi_conn {
	CURL *curl;
	const char *base;
	char key_header[300];		/* "xi-api-key: ..." */
	char *body;			/* the last answer */
	size_t len;
	bool too_big;
};

/* ---- HTTP ---- */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct xi_conn *x = arg;
	size_t add = size * n;
	char *nb;

	if (x->len + add > XI_MAX_BODY) {
		x->too_big = true;
		return 0;
	}
	if (!(nb = realloc(x->body, x->len + add + 1)))
		return 0;
	memcpy(nb + x->len, p, add);
	x->body = nb;
	x->len += add;
	x->body[x->len] = '\0';
	return add;
}

/*
 * One request; on 2xx *out (may be NULL) owns the parsed answer. Anything
 * else is reported here, once, and returns -1.
 */
static int xi_call(struct xi_conn *x, const char *method, const char *path, json_t *body,
		   json_t **out)
{
	char url[1024], err[CURL_ERROR_SIZE] = "", why[512];
	struct curl_slist *h = NULL;
	char *text = body ? json_dumps(body, JSON_SEND) : NULL;
	long status = 0;
	CURLcode rc;

	if (out)
		*out = NULL;
	free(x->body);
	x->body = NULL;
	x->len = 0;
	x->too_big = false;
	snprintf(url, sizeof(url), "%s%s", x->base, path);
	h = curl_slist_append(h, x->key_header);
	h = curl_slist_append(h, "Accept: application/json");
	if (text)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_reset(x->curl);
	curl_easy_setopt(x->curl, CURLOPT_URL, url);
	curl_easy_setopt(x->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, h);
	if (text)
		curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->curl, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT, XI_CONNECT_S);
	curl_easy_setopt(x->curl, CURLOPT_TIMEOUT, XI_TIMEOUT_S);
	curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->curl, CURLOPT_USERAGENT, "vagentctl/" VAGENT_VERSION);
	if (getenv("SSL_CERT_FILE"))
		curl_easy_setopt(x->curl, CURLOPT_CAINFO, getenv("SSL_CERT_FILE"));
	rc = curl_easy_perform(x->curl);
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	free(text);
	if (rc != CURLE_OK) {
		fprintf(stderr, "vagentctl: ElevenLabs: %s %s: %s\n", method, url,
			x->too_big ? "answer too large" : err[0] ? err : curl_easy_strerror(rc));
		return -1;
	}
	if (status == 401) {
		xi_error_text(x->body, x->len, why, sizeof(why));
		fprintf(stderr, "vagentctl: ElevenLabs refused the API key ([elevenlabs] "
			"api_key_file): %s\n", why);
		return -1;
	}
	if (status < 200 || status > 299) {
		xi_error_text(x->body, x->len, why, sizeof(why));
		fprintf(stderr, "vagentctl: ElevenLabs: %s %s: %ld: %s\n", method, path, status, why);
		return -1;
	}
	json_t *j = json_loadb(x->body ? x->body : "", x->len, 0, NULL);
	if (!json_is_object(j)) {
		fprintf(stderr, "vagentctl: ElevenLabs: %s %s: the answer is not a JSON object\n",
			method, path);
		json_decref(j);
		return -1;
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	return 0;
}

/* ---- tools and agent ---- */

/*
 * Makes tool name look like body: PATCH the one that exists, else POST.
 * id (idlen bytes) gets its ID. 0 or -1 (reported).
 */
static int put_tool(struct xi_conn *x, const json_t *list, const char *name, json_t *body,
		    char *id, size_t idlen)
{
	char path[512];
	int n = 0, rc;
	const char *have = xi_find_tool(list, name, &n);
	json_t *ans = NULL;

	if (n > 1)
		fprintf(stderr, "vagentctl: warning: %d tools are called %s; updating %s\n", n,
			name, have);
	if (have) {
		snprintf(path, sizeof(path), "/v1/convai/tools/%s", have);
		rc = xi_call(x, "PATCH", path, body, &ans);
	} else {
		rc = xi_call(x, "POST", "/v1/convai/tools", body, &ans);
	}
	const char *got = json_string_value(json_object_get(ans, "id"));
	if (rc == 0 && !got)
		fprintf(stderr, "vagentctl: ElevenLabs: tool %s: the answer has no id\n", name);
	if (rc == 0 && got)
		snprintf(id, idlen, "%s", got);
	if (rc == 0 && got)
		printf("%s tool %s: %s\n", have ? "updated" : "created", name, id);
	json_decref(ans);
	return rc == 0 && got ? 0 : -1;
}

/* An agent search term, URL-encoded. */
static int agents_path(struct xi_conn *x, const char *name, char *out, size_t len)
{
	char *q = curl_easy_escape(x->curl, name, 0);

	if (!q)
		return -1;
	snprintf(out, len, "/v1/convai/agents?search=%s&page_size=100", q);
	curl_free(q);
	return 0;
}

static int put_agent(struct xi_conn *x, const char *name, json_t *body, char *id, size_t idlen)
{
	char path[1024];
	json_t *list = NULL, *ans = NULL;
	int n = 0, rc;

	if (agents_path(x, name, path, sizeof(path)) < 0 || xi_call(x, "GET", path, NULL, &list) < 0)
		return -1;
	const char *have = xi_find_agent(list, name, &n);
	if (n > 1)
		fprintf(stderr, "vagentctl: warning: %d agents are called %s; updating %s\n", n,
			name, have);
	if (have) {
		snprintf(path, sizeof(path), "/v1/convai/agents/%s", have);
		snprintf(id, idlen, "%s", have);	/* PATCH answers the agent */
		rc = xi_call(x, "PATCH", path, body, &ans);
	} else {
		rc = xi_call(x, "POST", "/v1/convai/agents/create", body, &ans);
		const char *got = json_string_value(json_object_get(ans, "agent_id"));
		if (rc == 0 && !got) {
			fprintf(stderr, "vagentctl: ElevenLabs: the new agent has no agent_id\n");
			rc = -1;
		} else if (rc == 0) {
			snprintf(id, idlen, "%s", got);
		}
	}
	if (rc == 0)
		printf("%s agent %s: %s\n", have ? "updated" : "created", name, id);
	json_decref(ans);
	json_decref(list);
	return rc;
}

/* ---- the command ---- */

/* The prompt file's text (malloc'd), or NULL with the reason printed. */
static char *read_prompt(const char *path)
{
	FILE *fp = fopen(path, "r");
	struct buf b;
	char chunk[4096];
	size_t n;

	if (!fp) {
		fprintf(stderr, "vagentctl: [elevenlabs] prompt_file: %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	buf_init(&b, 1u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			break;
	fclose(fp);
	if (!b.len) {
		fprintf(stderr, "vagentctl: [elevenlabs] prompt_file: %s is empty\n", path);
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static int check_settings(const struct conf *c)
{
	if (strncmp(c->xi_public_url, "https://", 8) && strncmp(c->xi_public_url, "http://", 7)) {
		fprintf(stderr, "vagentctl: [elevenlabs] public_url: set it to the URL where "
			"ElevenLabs reaches this vagentd's api (https://...)\n");
		return -1;
	}
	if (!c->xi_voice[0] || !c->xi_agent_name[0]) {
		fprintf(stderr, "vagentctl: [elevenlabs] voice and agent_name must not be empty\n");
		return -1;
	}
	return 0;
}

/* --dry-run: every body, keys and IDs as placeholders; no network, no files written. */
static int dry_run(const struct conf *c, struct xi_spec *s)
{
	json_t *t1, *t2, *agent;
	char *a, *b, *d;
	int rc;

	s->api_key = "<[api] api_key_file>";
	t1 = xi_tool_context(s);
	t2 = xi_tool_booking(s);
	agent = xi_agent(s, "<" XI_TOOL_CONTEXT " id>", "<" XI_TOOL_BOOKING " id>");
	a = json_dumps(t1, JSON_OUT);
	b = json_dumps(t2, JSON_OUT);
	d = json_dumps(agent, JSON_OUT);
	rc = a && b && d ? 0 : -1;
	if (rc == 0)
		printf("# %s/v1/convai/tools (POST, or PATCH /v1/convai/tools/ID if it exists)\n%s\n"
		       "# %s/v1/convai/tools (POST, or PATCH /v1/convai/tools/ID if it exists)\n%s\n"
		       "# %s/v1/convai/agents/create (POST, or PATCH /v1/convai/agents/ID if it "
		       "exists)\n%s\n# IDs to %s\n", c->xi_url, a, c->xi_url, b, c->xi_url, d,
		       c->xi_ids_file);
	else
		fprintf(stderr, "vagentctl: out of memory\n");
	free(a);
	free(b);
	free(d);
	json_decref(t1);
	json_decref(t2);
	json_decref(agent);
	return rc;
}

static int write_ids(const char *file, const char *agent, const char *t1, const char *t2)
{
	char dir[PATH_MAX], name[PATH_MAX], text[1024];
	int rc;

	snprintf(dir, sizeof(dir), "%s", file);
	snprintf(name, sizeof(name), "%s", file);
	int n = snprintf(text, sizeof(text),
			 "# vagentctl provision elevenlabs\n"
			 "XI_AGENT_ID=%s\nXI_TOOL_GET_CALL_CONTEXT=%s\nXI_TOOL_CREATE_BOOKING=%s\n",
			 agent, t1, t2);
	/* The IDs steer live calls: durable, as a configuration file would be. */
	if ((rc = file_replace(dirname(dir), basename(name), text, (size_t)n, 0600, true)) < 0) {
		fprintf(stderr, "vagentctl: [elevenlabs] ids_file %s: %s\n", file, strerror(-rc));
		return -1;
	}
	printf("IDs written to %s\n", file);
	return 0;
}

/* Loads both keys into secrets (never printed). 0 or -1 (reported). */
static int load_keys(const struct conf *c, struct conf_secrets *k)
{
	char err[PATH_MAX + 256];

	if (conf_read_secret(c->xi_key_file, "VAGENT_ELEVENLABS_API_KEY", k->xi_key, sizeof(k->xi_key),
			     "[elevenlabs] api_key_file", err, sizeof(err)) < 0 ||
	    conf_read_secret(c->api_key_file, "VAGENT_API_KEY", k->api_key, sizeof(k->api_key),
			     "[api] api_key_file", err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: %s\n", err);
		return -1;
	}
	if (!k->xi_key[0]) {
		fprintf(stderr, "vagentctl: no ElevenLabs API key: set [elevenlabs] api_key_file "
			"or VAGENT_ELEVENLABS_API_KEY\n");
		return -1;
	}
	if (strlen(k->api_key) < 16) {
		fprintf(stderr, "vagentctl: the tools need this vagentd's api key: [api] "
			"api_key_file (or VAGENT_API_KEY), at least 16 characters\n");
		return -1;
	}
	return 0;
}

static int provision(const struct conf *c, struct xi_spec *s)
{
	struct conf_secrets *k = c->secrets;	/* on the loader's no-dump pages */
	struct xi_conn x = { .base = c->xi_url };
	json_t *list = NULL, *t1 = NULL, *t2 = NULL, *agent = NULL;
	char id1[128] = "", id2[128] = "", ida[128] = "";
	int rc = -1;

	if (load_keys(c, k) < 0)
		return -1;
	s->api_key = k->api_key;
	snprintf(x.key_header, sizeof(x.key_header), "xi-api-key: %s", k->xi_key);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(x.curl = curl_easy_init())) {
		fprintf(stderr, "vagentctl: cannot start libcurl\n");
		goto out;
	}
	t1 = xi_tool_context(s);
	t2 = xi_tool_booking(s);
	if (!t1 || !t2 || xi_call(&x, "GET", "/v1/convai/tools", NULL, &list) < 0 ||
	    put_tool(&x, list, XI_TOOL_CONTEXT, t1, id1, sizeof(id1)) < 0 ||
	    put_tool(&x, list, XI_TOOL_BOOKING, t2, id2, sizeof(id2)) < 0)
		goto out;
	if (!(agent = xi_agent(s, id1, id2)) ||
	    put_agent(&x, c->xi_agent_name, agent, ida, sizeof(ida)) < 0)
		goto out;
	rc = write_ids(c->xi_ids_file, ida, id1, id2);
out:
	explicit_bzero(x.key_header, sizeof(x.key_header));
	explicit_bzero(k, sizeof(*k));
	free(x.body);
	json_decref(list);
	json_decref(t1);
	json_decref(t2);
	json_decref(agent);
	curl_easy_cleanup(x.curl);
	curl_global_cleanup();
	return rc;
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: vagentctl [-c FILE] provision elevenlabs [--dry-run]\n");
}

int ctl_provision(const struct conf *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool dry = false;
	int opt;

	optind = 0;	/* GNU: start over (vagentctl's own options were parsed already) */
	while ((opt = getopt_long(argc, argv, "+nh", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': dry = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || argc < 1 || strcmp(argv[0], "elevenlabs")) {
		usage(stderr);
		return 2;
	}
	/* A dry run shows the bodies even before the URL is known. */
	const char *url = c->xi_public_url;
	if (dry && !url[0]) {
		fprintf(stderr, "vagentctl: note: [elevenlabs] public_url is not set; a real run "
			"refuses to start without it\n");
		url = "https://<[elevenlabs] public_url>";
	} else if (check_settings(c) < 0) {
		return 1;
	}
	char *prompt = read_prompt(c->xi_prompt_file);
	if (!prompt)
		return 1;
	struct xi_spec s = {
		.public_url = url, .agent_name = c->xi_agent_name,
		.voice = c->xi_voice, .model = c->xi_model, .llm = c->xi_llm, .prompt = prompt,
		.booking_client = c->xi_booking_client,
	};
	int rc = dry ? dry_run(c, &s) : provision(c, &s);
	free(prompt);
	return rc < 0 ? 1 : 0;
}
