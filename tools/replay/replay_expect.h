/* Checking what the runtime received against a fixture's `expect`
 * (tests/fixtures/README.md): byte for byte for {"unchanged": true}; for
 * named security contexts, their seccomp values after the rewrite, that the
 * seccomp field is on the wire exactly once, and that every other field
 * (including those crisp's schema does not know) came through unchanged. */
#ifndef CRISP_REPLAY_EXPECT_H
#define CRISP_REPLAY_EXPECT_H

#include <stddef.h>
#include <stdio.h>

#include "record/record.h"

/* Checks `received` (what the runtime got) against rec->requests and
 * rec->expect. Prints one line per failure to `out`, each starting with
 * `where`; returns the number of failures. */
int replay_expect_check(const struct crisp_call_record *rec, const struct crisp_msg_list *received,
                        const char *where, FILE *out);

#endif
