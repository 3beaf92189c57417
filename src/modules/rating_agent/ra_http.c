/*
 * rating_agent module - HTTP client on libcurl multi, one per process
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <string.h>
#include <poll.h>

#include <curl/curl.h>

#include "../../core/dprint.h"
#include "../../core/mem/mem.h"

#include "ra_mod.h"
#include "ra_http.h"

/* the agent's answers are small; anything bigger is not the agent */
#define RA_HTTP_MAX_BODY (64 * 1024)

typedef struct ra_http_req {
	CURL *easy;
	ra_http_done_f cb;
	void *arg;
	char *buf;
	size_t len;
	size_t size;
	int overflow;
	char errbuf[CURL_ERROR_SIZE];
	struct ra_http_req *next_free;
} ra_http_req_t;

static CURLM *ra_multi = NULL;
static struct curl_slist *ra_headers = NULL;
static ra_http_req_t *ra_free_reqs = NULL;
static int ra_inflight = 0;

int ra_http_global_init(void)
{
	if(curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		LM_ERR("curl_global_init failed\n");
		return -1;
	}
	return 0;
}

int ra_http_init(void)
{
	ra_multi = curl_multi_init();
	if(ra_multi == NULL) {
		LM_ERR("curl_multi_init failed\n");
		return -1;
	}
	/* Bounded connections per process: beyond that requests wait inside
	 * curl for a free connection (their timeout still runs) instead of
	 * flooding the agent's accept queue; idle ones are kept open. */
	curl_multi_setopt(ra_multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			(long)ra_set.max_connections);
	curl_multi_setopt(ra_multi, CURLMOPT_MAXCONNECTS,
			(long)ra_set.max_connections);
	/* the agent branches on the content type (422 on form bodies);
	 * no "Expect: 100-continue" round trip */
	ra_headers = curl_slist_append(NULL, "Content-Type: application/json");
	ra_headers = curl_slist_append(ra_headers, "Accept: application/json");
	ra_headers = curl_slist_append(ra_headers, "Expect:");
	if(ra_headers == NULL) {
		LM_ERR("no memory for headers\n");
		return -1;
	}
	return 0;
}

void ra_http_destroy(void)
{
	ra_http_req_t *r;

	while((r = ra_free_reqs) != NULL) {
		ra_free_reqs = r->next_free;
		curl_easy_cleanup(r->easy);
		if(r->buf)
			pkg_free(r->buf);
		pkg_free(r);
	}
	if(ra_multi) {
		curl_multi_cleanup(ra_multi);
		ra_multi = NULL;
	}
	curl_slist_free_all(ra_headers);
	ra_headers = NULL;
}

int ra_http_inflight(void)
{
	return ra_inflight;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	ra_http_req_t *r = userdata;
	size_t n = size * nmemb;
	size_t want;
	char *nb;

	if(r->len + n + 1 > RA_HTTP_MAX_BODY) {
		r->overflow = 1;
		return 0; /* aborts the transfer */
	}
	if(r->len + n + 1 > r->size) {
		want = r->size ? r->size : 1024;
		while(want < r->len + n + 1)
			want *= 2;
		nb = pkg_realloc(r->buf, want);
		if(nb == NULL) {
			PKG_MEM_ERROR;
			return 0;
		}
		r->buf = nb;
		r->size = want;
	}
	memcpy(r->buf + r->len, ptr, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

static ra_http_req_t *req_get(void)
{
	ra_http_req_t *r = ra_free_reqs;

	if(r != NULL) {
		ra_free_reqs = r->next_free;
		/* keeps the easy handle's DNS cache and session ids */
		curl_easy_reset(r->easy);
	} else {
		r = pkg_malloc(sizeof(*r));
		if(r == NULL) {
			PKG_MEM_ERROR;
			return NULL;
		}
		memset(r, 0, sizeof(*r));
		r->easy = curl_easy_init();
		if(r->easy == NULL) {
			pkg_free(r);
			return NULL;
		}
	}
	r->len = 0;
	r->overflow = 0;
	r->errbuf[0] = '\0';
	r->next_free = NULL;
	return r;
}

static void req_put(ra_http_req_t *r)
{
	r->cb = NULL;
	r->arg = NULL;
	r->next_free = ra_free_reqs;
	ra_free_reqs = r;
}

int ra_http_post(const char *path, const char *body, size_t len,
		int timeout_ms, ra_http_done_f cb, void *arg)
{
	ra_http_req_t *r;
	char url[1024];
	CURL *e;
	int n;

	n = snprintf(url, sizeof(url), "%.*s%s", ra_set.agent_url.len,
			ra_set.agent_url.s, path);
	if(n < 0 || n >= (int)sizeof(url)) {
		LM_ERR("agent url too long\n");
		return -1;
	}
	r = req_get();
	if(r == NULL)
		return -1;
	e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, ra_headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	/* the agent has no timeout of its own towards its engine */
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			(long)(ra_set.connect_timeout_ms < timeout_ms
							? ra_set.connect_timeout_ms
							: timeout_ms));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	r->cb = cb;
	r->arg = arg;
	if(curl_multi_add_handle(ra_multi, e) != CURLM_OK) {
		LM_ERR("curl_multi_add_handle failed\n");
		req_put(r);
		return -1;
	}
	ra_inflight++;
	return 0;
}

static const char *curl_reason(ra_http_req_t *r, CURLcode rc)
{
	switch(rc) {
		case CURLE_OPERATION_TIMEDOUT:
			return "timeout";
		case CURLE_COULDNT_CONNECT:
			return "connect";
		case CURLE_COULDNT_RESOLVE_HOST:
			return "resolve";
		case CURLE_GOT_NOTHING:
			return "empty reply";
		case CURLE_WRITE_ERROR:
			if(r->overflow)
				return "reply too large";
			break;
		default:
			break;
	}
	return r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
}

static void finish(CURLMsg *m)
{
	ra_http_req_t *r = NULL;
	long status = 0;
	const char *err = NULL;

	curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
	curl_multi_remove_handle(ra_multi, m->easy_handle);
	ra_inflight--;
	if(r == NULL)
		return;
	if(m->data.result == CURLE_OK)
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
	else
		err = curl_reason(r, m->data.result);
	if(r->cb)
		r->cb(r->arg, status, r->buf ? r->buf : "", r->len, err);
	req_put(r);
}

int ra_http_run(int wake_fd, int wait_ms)
{
	struct curl_waitfd wfd;
	CURLMsg *m;
	int running = 0, numfds = 0, left, woke = 0;
	CURLMcode mc;

	memset(&wfd, 0, sizeof(wfd));
	wfd.fd = wake_fd;
	wfd.events = CURL_WAIT_POLLIN;
#if LIBCURL_VERSION_NUM >= 0x074200
	mc = curl_multi_poll(
			ra_multi, wake_fd >= 0 ? &wfd : NULL, wake_fd >= 0, wait_ms, &numfds);
#else
	mc = curl_multi_wait(
			ra_multi, wake_fd >= 0 ? &wfd : NULL, wake_fd >= 0, wait_ms, &numfds);
	/* curl_multi_wait() does not sleep when it has nothing to wait on */
	if(mc == CURLM_OK && numfds == 0)
		poll(NULL, 0, wait_ms < 50 ? wait_ms : 50);
#endif
	if(mc != CURLM_OK) {
		LM_ERR("curl multi wait failed: %s\n", curl_multi_strerror(mc));
		return -1;
	}
	if(wake_fd >= 0 && (wfd.revents & CURL_WAIT_POLLIN))
		woke = 1;
	curl_multi_perform(ra_multi, &running);
	while((m = curl_multi_info_read(ra_multi, &left)) != NULL) {
		if(m->msg == CURLMSG_DONE)
			finish(m);
	}
	return woke;
}
