/* Reloading the config (SIGHUP, or the file changed): the command line is
 * parsed again, so the file is re-read and the flags still override it. A
 * new config that does not parse, whose defaultProfile would be refused, or
 * whose complain mode finds complainDir unusable (config/paths.h) leaves
 * the old one in force. Settings that cannot change while serving (sockets,
 * message size, threads, recording, complainDir) keep their running values;
 * the log says a restart is needed for them. */
#ifndef CRISP_RELOAD_H
#define CRISP_RELOAD_H

#include <stdint.h>

#include "base/error.h"
#include "config/options.h"

struct crisp_server;

/* Checks a defaultProfile Localhost file (no-op for RuntimeDefault); logs
 * names libseccomp does not know, loudly, by name. */
int crisp_check_default_profile(const struct crisp_policy *policy, crisp_error **err);

/* The FNV-1a hash of the config file's bytes (0 without a file). */
uint64_t crisp_config_file_hash(const char *path);

/* Returns 0 when the new policy is in force, else a negative errno with
 * *err saying why (the old one still is). Counts it in the metrics. */
int crisp_reload(int argc, char **argv, const struct crisp_options *running,
                 struct crisp_server *server, crisp_error **err);

#endif
