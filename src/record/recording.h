/* Reading a recording file (one JSON object per line, the format of
 * tests/fixtures/README.md) into memory, validating everything first: a
 * truncated line, invalid JSON, invalid base64, a missing or ill-typed key, an
 * unknown key or method, or an empty file is an error naming FILE:LINE and
 * what is wrong. Nothing is acted on until the whole file has been read.
 * No gRPC here. */
#ifndef CRISP_RECORDING_H
#define CRISP_RECORDING_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "record/record.h"

struct crisp_recording {
        char *path;
        struct crisp_call_record **calls; /* in file order */
        size_t n;
};

/* Reads and validates `path`. Returns 0 with *out set (free it with
 * crisp_recording_free), or a negative errno value with *err saying
 * "PATH:LINE: what is wrong". */
int crisp_recording_load(const char *path, struct crisp_recording **out, crisp_error **err);

void crisp_recording_free(struct crisp_recording *r);

/* Parses one line (text[0..len), without its newline). `file` and `line` only
 * name the place in error messages; `complete` is false when the line was the
 * last of the file and had no newline (so a JSON object cut short there is
 * reported as a truncated file). */
int crisp_recording_parse_line(const char *file, unsigned line, const char *text, size_t len,
                               bool complete, struct crisp_call_record **out, crisp_error **err);

/* Whether `method` is a gRPC method path, "/package.Service/Method". */
bool crisp_method_path_valid(const char *method);

#endif
