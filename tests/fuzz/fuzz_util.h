/*
 * Helpers shared by the libFuzzer harnesses in tests/fuzz/: an invariant
 * check that aborts (libFuzzer then saves the input as a crash), and a
 * reader for the line/field oriented text inputs of the harnesses.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#ifndef _FUZZ_UTIL_H_
#define _FUZZ_UTIL_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                          \
	do {                                                               \
		if(!(cond)) {                                                  \
			fprintf(stderr, "invariant failed at %s:%d: %s: ", __FILE__, \
					__LINE__, #cond);                                  \
			fprintf(stderr, __VA_ARGS__);                              \
			fputc('\n', stderr);                                       \
			abort();                                                   \
		}                                                              \
	} while(0)

/* a view of part of the input */
typedef struct fuzz_span
{
	const char *s;
	size_t len;
} fuzz_span_t;

/* the next line of *in (without its '\n'); 0 when *in is used up */
static inline int fuzz_line(fuzz_span_t *in, fuzz_span_t *line)
{
	const char *nl;

	if(in->len == 0)
		return 0;
	line->s = in->s;
	nl = memchr(in->s, '\n', in->len);
	line->len = nl ? (size_t)(nl - in->s) : in->len;
	in->s += line->len;
	in->len -= line->len;
	if(nl) {
		in->s++;
		in->len--;
	}
	return 1;
}

/* the next field of *in up to sep (all of *in if there is none) */
static inline fuzz_span_t fuzz_field(fuzz_span_t *in, char sep)
{
	fuzz_span_t f = {in->s, in->len};
	const char *c = memchr(in->s, sep, in->len);

	if(c) {
		f.len = (size_t)(c - in->s);
		in->s = c + 1;
		in->len -= f.len + 1;
	} else {
		in->s += in->len;
		in->len = 0;
	}
	return f;
}

/* lenient decimal: optional '-', then digits up to the first other byte;
 * wraps like the unsigned arithmetic it uses, so any value is reachable */
static inline long long fuzz_ll(fuzz_span_t f)
{
	unsigned long long v = 0;
	size_t i = 0;
	int neg = 0;

	if(f.len > 0 && f.s[0] == '-') {
		neg = 1;
		i = 1;
	}
	for(; i < f.len && f.s[i] >= '0' && f.s[i] <= '9'; i++)
		v = v * 10 + (unsigned long long)(f.s[i] - '0');
	return neg ? (long long)(0 - v) : (long long)v;
}

/* a NUL terminated malloc()ed copy of a span (the caller frees it) */
static inline char *fuzz_strdup(fuzz_span_t f)
{
	char *s = malloc(f.len + 1);

	if(s == NULL)
		abort();
	if(f.len)
		memcpy(s, f.s, f.len);
	s[f.len] = '\0';
	return s;
}

#endif
