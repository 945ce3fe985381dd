/* The CRI methods known to be unary (one request, one response), which the
 * relay serves on its fast path; every other method keeps the generic path. */
#ifndef CRISP_UNARY_METHODS_H
#define CRISP_UNARY_METHODS_H

#include <stddef.h>

/* The number of paths in the table. */
size_t crisp_unary_method_count(void);

/* The i-th path, e.g. "/runtime.v1.RuntimeService/Version". */
const char *crisp_unary_method_path(size_t i);

#endif
