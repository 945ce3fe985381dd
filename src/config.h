/* The config file (--config FILE): YAML, keys in the kubelet's camelCase
 * style; deploy/crisp.yaml lists every key with its default. Loading applies
 * the file's values onto options that already hold the defaults; flags are
 * applied afterwards and override it (options.c). Unknown keys are errors;
 * every error names the file, the line and the key, and what is allowed. */
#ifndef CRISP_CONFIG_H
#define CRISP_CONFIG_H

#include "error.h"
#include "options.h"

int crisp_config_load(const char *path, struct crisp_options *opts, crisp_error **err);

#endif
