/* The crisp-replay binary: `crisp replay` runs it (proxy/main.c execs it).
 * It is a binary of its own because it is the one part of crisp built on
 * gRPC core (a real gRPC client and server are its point): the daemon then
 * loads no gRPC, Abseil or C++ runtime, which saves memory on every node
 * and most of the static build's size. */
#include "replay.h"

int main(int argc, char **argv)
{
        /* As `crisp replay ...` passes it: argv[0] stands for "replay". */
        return crisp_replay_main(argc, argv);
}
