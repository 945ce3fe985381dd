/* crisp's one error convention: an int result and an optional crisp_error
 * that says what failed (error.h). */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 4, 0))) static int
error_vset(crisp_error **err, int code, const char *suffix, const char *fmt, va_list ap)
{
        if (code <= 0)
                code = 1; /* a failure is never reported as success */
        if (err == NULL || *err != NULL)
                return -code; /* keep the first, most specific error */

        crisp_error *e = calloc(1, sizeof(*e));
        if (e == NULL)
                return -code;
        char buf[1024];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        size_t len = strlen(buf) + (suffix ? strlen(suffix) + 2 : 0) + 1;
        e->msg = malloc(len);
        if (e->msg == NULL) {
                free(e);
                return -code;
        }
        if (suffix)
                snprintf(e->msg, len, "%s: %s", buf, suffix);
        else
                snprintf(e->msg, len, "%s", buf);
        e->code = code;
        *err = e;
        return -code;
}

int crisp_error_set(crisp_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int crisp_error_set_errno(crisp_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, strerror(code), fmt, ap);
        va_end(ap);
        return r;
}

void crisp_error_free(crisp_error **err)
{
        if (err == NULL || *err == NULL)
                return;
        free((*err)->msg);
        free(*err);
        *err = NULL;
}
