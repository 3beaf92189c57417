/*
 * Helpers shared by the sbc_tenant unit tests and the index benchmark.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#ifndef _SBCT_UNIT_UTIL_H_
#define _SBCT_UNIT_UTIL_H_

#include <stdint.h>
#include <time.h>

/* xorshift64: reproducible pseudo-random DIDs for a given seed in *state */
static inline uint64_t xorshift64(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: rates per core that do not depend on how
 * often a busy machine takes the core away */
static inline double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
