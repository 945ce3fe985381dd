/* `crisp check-profile FILE`: the subcommand that validates a seccomp profile
 * as the runtime will load it (check_profile.c). */
#ifndef CRISP_CHECK_PROFILE_H
#define CRISP_CHECK_PROFILE_H

/* argv[0] is "check-profile". */
int crisp_check_profile_main(int argc, char **argv);

#endif
