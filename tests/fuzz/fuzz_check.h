/* CHECK(cond, fmt, ...): the invariant check every fuzz target uses. When
 * `cond` does not hold it prints "<target>: invariant violated at FILE:LINE:"
 * and the message (hack/fuzz.sh greps for it), then traps, so libFuzzer
 * saves the input as a finding. Define FUZZ_TARGET (the target's name, a
 * string) before including this. */
#ifndef CRISP_FUZZ_CHECK_H
#define CRISP_FUZZ_CHECK_H

#include <stdio.h>

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET, the target's name, before including fuzz_check.h"
#endif

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, FUZZ_TARGET ": invariant violated at %s:%d: ", __FILE__,   \
                                __LINE__);                                                         \
                        fprintf(stderr, __VA_ARGS__);                                              \
                        fputc('\n', stderr);                                                       \
                        __builtin_trap();                                                          \
                }                                                                                  \
        } while (0)

#endif
