/* `crisp check-profile FILE`: validates a seccomp profile as crisp does for
 * defaultProfile Localhost (src/config/seccomp_profile.h) and prints a summary.
 * Exit status: 0 accepted, 1 refused, 2 usage. */
#include "check_profile.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "config/seccomp_profile.h"

int crisp_check_profile_main(int argc, char **argv)
{
        if (argc != 2 || strcmp(argv[1], "--help") == 0 || argv[1][0] == '-') {
                fputs("usage: crisp check-profile FILE\n"
                      "\n"
                      "Checks a seccomp profile (OCI/Docker JSON) the way the runtime will load\n"
                      "it: every action, argument rule and architecture known, every syscall\n"
                      "name resolved and the filter built with libseccomp (not loaded). Names\n"
                      "libseccomp does not know are listed but, as for the runtime, no error.\n"
                      "Exits 1 when the runtime would refuse the profile.\n",
                      argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
                return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
        }
        struct crisp_profile_summary sum;
        _cleanup_error_ crisp_error *err = NULL;
        if (crisp_seccomp_profile_check(argv[1], &sum, &err) < 0) {
                fprintf(stderr, "REFUSED: %s\n", err->msg);
                return 1;
        }
        crisp_profile_summary_print(stdout, argv[1], &sum);
        return 0;
}
