/* crisp's command line. Flag names follow the kubelet's and containerd's. */
#ifndef CRISP_OPTIONS_H
#define CRISP_OPTIONS_H

#include <stdio.h>

#include "base/error.h"
#include "config/settings.h"

enum crisp_options_result {
        CRISP_OPTIONS_RUN = 0,
        CRISP_OPTIONS_EXIT_OK, /* --help or --version was printed */
};

/* Parses argv. Returns CRISP_OPTIONS_RUN or CRISP_OPTIONS_EXIT_OK, or a
 * negative value with *err saying which flag is wrong and why. */
int crisp_options_parse(struct crisp_options *opts, int argc, char **argv, crisp_error **err);

void crisp_options_usage(FILE *out);

#endif
