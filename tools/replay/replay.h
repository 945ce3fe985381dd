/* `crisp replay`: the subcommand that plays a recording back (see
 * README.md, "Recording and replaying"). */
#ifndef CRISP_REPLAY_H
#define CRISP_REPLAY_H

/* argv[0] is "replay". Returns the process exit code: 0 success, 1 a failed
 * replay, check or an unreadable recording, 2 a bad command line. */
int crisp_replay_main(int argc, char **argv);

#endif
