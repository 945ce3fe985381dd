/* Scope-bound cleanup helpers: a variable declared with one of these is
 * released when it leaves scope, so error paths need no goto ladders. */
#ifndef CRISP_CLEANUP_H
#define CRISP_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void crisp_freep(void *p)
{
        free(*(void **)p);
}

static inline void crisp_closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

static inline void crisp_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_free_   __attribute__((cleanup(crisp_freep)))
#define _cleanup_close_  __attribute__((cleanup(crisp_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(crisp_fclosep)))

/* Hand ownership out of a cleanup-managed variable. */
static inline void *crisp_steal_ptr(void *pp)
{
        void **p = pp;
        void *v = *p;
        *p = NULL;
        return v;
}
#define steal_pointer(pp) crisp_steal_ptr(pp)

#endif
