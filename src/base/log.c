/* Logging: one line per event on stderr, text or JSON, each written with a
 * single write(2) (log.h). */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log_json.h"

static atomic_int current_level = CRISP_LOG_INFO;
static atomic_int current_format = CRISP_LOG_TEXT;

static const char *const level_names[] = {
    [CRISP_LOG_ERROR] = "error",
    [CRISP_LOG_WARN] = "warn",
    [CRISP_LOG_INFO] = "info",
    [CRISP_LOG_DEBUG] = "debug",
};

void crisp_log_set_level(enum crisp_log_level level)
{
        atomic_store(&current_level, (int)level);
}

void crisp_log_set_format(enum crisp_log_format format)
{
        atomic_store(&current_format, (int)format);
}

int crisp_log_parse_format(const char *name, enum crisp_log_format *out)
{
        if (strcmp(name, "text") == 0)
                *out = CRISP_LOG_TEXT;
        else if (strcmp(name, "json") == 0)
                *out = CRISP_LOG_JSON;
        else
                return -EINVAL;
        return 0;
}

int crisp_log_enabled(enum crisp_log_level level)
{
        return (int)level <= atomic_load(&current_level);
}

int crisp_log_parse_level(const char *name, enum crisp_log_level *out)
{
        for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
                if (strcmp(name, level_names[i]) == 0) {
                        *out = (enum crisp_log_level)i;
                        return 0;
                }
        }
        return -EINVAL;
}

void crisp_log(enum crisp_log_level level, const char *fmt, ...)
{
        if (!crisp_log_enabled(level))
                return;

        char line[4096];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %-5s ", now.tv_nsec / 1000000,
                      level_names[level]);

        va_list ap;
        if (atomic_load(&current_format) == CRISP_LOG_JSON) {
                char text[4096], stamp[64];
                va_start(ap, fmt);
                vsnprintf(text, sizeof(text), fmt, ap);
                va_end(ap);
                snprintf(stamp, sizeof(stamp), "%.*s", n - 7, line); /* without " LEVEL " */
                char *end = stamp + strlen(stamp);
                while (end > stamp && end[-1] == ' ')
                        *--end = '\0';
                size_t jl =
                    crisp_log_json_line(stamp, level_names[level], text, line, sizeof(line) - 1);
                line[jl++] = '\n';
                ssize_t ignored = write(STDERR_FILENO, line, jl);
                (void)ignored;
                return;
        }
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m < 0)
                m = 0;
        size_t len = (size_t)n + (size_t)m;
        if (len > sizeof(line) - 2)
                len = sizeof(line) - 2; /* truncated: still one whole line */
        line[len++] = '\n';

        /* One write per line; a short write to stderr is not worth retrying. */
        ssize_t ignored = write(STDERR_FILENO, line, len);
        (void)ignored;
}
