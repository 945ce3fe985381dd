/* The config file (--config FILE): YAML, keys in the kubelet's camelCase
 * style; deploy/crisp.yaml lists every key with its default. Loading applies
 * the file's values onto options that already hold the defaults; flags are
 * applied afterwards and override it (options.c, which calls this; this
 * file needs only config/settings.h, never options.h). Unknown keys are errors;
 * every error names the file, the line and the key, and what is allowed. */
#ifndef CRISP_CONFIG_H
#define CRISP_CONFIG_H

#include <stddef.h>

#include "base/error.h"
#include "config/settings.h"

int crisp_config_load(const char *path, struct crisp_options *opts, crisp_error **err);

/* The same, from data[0..len) in memory; `name` stands for the file in error
 * messages. For tests and fuzzing (tests/fuzz/fuzz_config.c): what a file
 * holds, read from memory, gives the same options and the same errors. */
int crisp_config_load_buffer(const char *name, const char *data, size_t len,
                             struct crisp_options *opts, crisp_error **err);

#endif
