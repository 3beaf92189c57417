/*
 * rating_agent module - HTTP client on libcurl multi, one per process
 *
 * Used by the authorization workers and by the outbox sender, each in its
 * own process with its own multi handle: connections to the agent are kept
 * alive and reused across requests, and nothing is shared between
 * processes.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_HTTP_H_
#define _RA_HTTP_H_

#include <stddef.h>

/* Completion of one request. status: the HTTP status, or 0 when there was
 * no HTTP answer, then err says why ("timeout", "connect", ...). body is
 * NUL terminated and only valid during the call. */
typedef void (*ra_http_done_f)(void *arg, long status, const char *body,
		size_t len, const char *err);

/* once per process, after fork */
int ra_http_init(void);
void ra_http_destroy(void);

/* POST body (JSON) to <agent_url><path>; the callback always runs exactly
 * once, from ra_http_run(), unless this returns -1. */
int ra_http_post(const char *path, const char *body, size_t len,
		int timeout_ms, ra_http_done_f cb, void *arg);

/* Drive transfers for up to wait_ms, also waking when wake_fd (-1: none) is
 * readable. Returns 1 if wake_fd is readable, 0 if not, -1 on error. */
int ra_http_run(int wake_fd, int wait_ms);

int ra_http_inflight(void);

/* global curl setup, in mod_init */
int ra_http_global_init(void);

#endif
