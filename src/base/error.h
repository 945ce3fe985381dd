/* The one error convention of crisp (after crun's libcrun_error_t):
 *
 *   int crisp_do_thing(..., crisp_error **err);
 *
 * returns 0 (or a non-negative value) on success. On failure it returns a
 * negative errno-style value and, when err is not NULL, sets *err to an error
 * the caller owns: its code (positive errno) and a message that says what
 * failed and with which input. Declare the caller's variable with
 * _cleanup_error_ so it is freed on every path. */
#ifndef CRISP_ERROR_H
#define CRISP_ERROR_H

typedef struct crisp_error {
        int code;  /* positive errno value, e.g. EINVAL */
        char *msg; /* never NULL once set */
} crisp_error;

/* Sets *err (if err and *err is NULL) and returns -code. */
int crisp_error_set(crisp_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like crisp_error_set, appending ": strerror(code)". */
int crisp_error_set_errno(crisp_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void crisp_error_free(crisp_error **err);

#define _cleanup_error_ __attribute__((cleanup(crisp_error_free)))

#endif
