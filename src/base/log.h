/* Logging: one line per event on stderr, "TIME LEVEL message key=value...".
 * Each line is written with a single write(2) so lines from concurrent
 * threads never interleave. */
#ifndef CRISP_LOG_H
#define CRISP_LOG_H

enum crisp_log_level {
        CRISP_LOG_ERROR = 0,
        CRISP_LOG_WARN,
        CRISP_LOG_INFO,
        CRISP_LOG_DEBUG,
};

enum crisp_log_format {
        CRISP_LOG_TEXT = 0, /* TIME LEVEL message key=value... */
        CRISP_LOG_JSON,     /* one JSON object per line (log_json.c) */
};

void crisp_log_set_level(enum crisp_log_level level);
void crisp_log_set_format(enum crisp_log_format format);

/* Parses "text" or "json"; returns 0 or -EINVAL. */
int crisp_log_parse_format(const char *name, enum crisp_log_format *out);
int crisp_log_enabled(enum crisp_log_level level);

/* Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int crisp_log_parse_level(const char *name, enum crisp_log_level *out);

void crisp_log(enum crisp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) crisp_log(CRISP_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  crisp_log(CRISP_LOG_WARN, __VA_ARGS__)
#define log_info(...)  crisp_log(CRISP_LOG_INFO, __VA_ARGS__)
#define log_debug(...) crisp_log(CRISP_LOG_DEBUG, __VA_ARGS__)

#endif
