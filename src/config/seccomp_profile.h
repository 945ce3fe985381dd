/* Validation of a seccomp profile file (the OCI/Docker JSON format) the way
 * the runtimes read it (/work/shared/design/seccomp-profiles.md): parsed with
 * json-c, every name resolved and the filter built with libseccomp — never
 * loaded. Used for defaultProfile Localhost at start and on every reload,
 * and by `crisp check-profile FILE`. */
#ifndef CRISP_SECCOMP_PROFILE_H
#define CRISP_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

#define CRISP_PROFILE_N_ACTIONS 9

struct crisp_profile_summary {
        char default_action[32];
        char architectures[256]; /* "native(x86_64) x86 x32" */
        /* syscall names per action, in crisp_profile_action_names order */
        unsigned names_per_action[CRISP_PROFILE_N_ACTIONS];
        unsigned n_rules;
        /* names the local libseccomp cannot resolve: skipped by the runtimes
         * too, so not an error, but a typo silently disables a rule */
        unsigned n_unresolved;
        char unresolved[1024]; /* space-separated, cut with "..." when long */
};

extern const char *const crisp_profile_action_names[CRISP_PROFILE_N_ACTIONS];

/* Returns 0 when the runtime would load the profile (summary filled), or a
 * negative errno with *err naming the file, the key and what is wrong. */
int crisp_seccomp_profile_check(const char *path, struct crisp_profile_summary *summary,
                                crisp_error **err);

/* The same for a profile's bytes data[0..len) in memory; `name` stands for
 * the file in error messages. For tests and fuzzing
 * (tests/fuzz/fuzz_seccomp_profile.c). */
int crisp_seccomp_profile_check_buffer(const char *name, const char *data, size_t len,
                                       struct crisp_profile_summary *sum, crisp_error **err);

void crisp_profile_summary_print(FILE *out, const char *path,
                                 const struct crisp_profile_summary *summary);

#endif
