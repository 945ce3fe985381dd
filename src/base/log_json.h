/* log.format: json. A text line "message key=value key=\"v w\"..." becomes
 * {"time":...,"level":...,"msg":"message","key":"value",...}: the call sites
 * stay the same for both formats, and values crisp logs from requests are
 * already made safe to print (no quotes, backslashes or control bytes). */
#ifndef CRISP_LOG_JSON_H
#define CRISP_LOG_JSON_H

#include <stddef.h>

/* Writes the JSON object (no newline) into out; returns its length. */
size_t crisp_log_json_line(const char *time, const char *level, const char *text, char *out,
                           size_t size);

#endif
