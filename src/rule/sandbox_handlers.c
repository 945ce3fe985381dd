/* The runtime handler of each pod sandbox crisp saw created, for
 * CreateContainer exemptions (sandbox_handlers.h). */
#include "rule/sandbox_handlers.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct entry {
        char id[96];
        char handler[96];
};

/* A ring: `next` is where the next entry goes, overwriting the oldest. A
 * node runs a few hundred pods at most; a linear scan is cheap. */
static struct entry ring[CRISP_SANDBOX_HANDLERS_MAX];
static size_t next;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void crisp_sandbox_handlers_put(const char *id, const char *handler, size_t handler_len)
{
        if (id[0] == '\0' || handler_len == 0 || strlen(id) >= sizeof(ring[0].id) ||
            handler_len >= sizeof(ring[0].handler))
                return;
        pthread_mutex_lock(&mu);
        struct entry *e = &ring[next];
        next = (next + 1) % CRISP_SANDBOX_HANDLERS_MAX;
        snprintf(e->id, sizeof(e->id), "%s", id);
        memcpy(e->handler, handler, handler_len);
        e->handler[handler_len] = '\0';
        pthread_mutex_unlock(&mu);
}

bool crisp_sandbox_handlers_get(const char *id, char *out, size_t size)
{
        bool found = false;
        if (id[0] == '\0')
                return false;
        pthread_mutex_lock(&mu);
        for (size_t i = 0; i < CRISP_SANDBOX_HANDLERS_MAX && !found; i++) {
                if (strcmp(ring[i].id, id) == 0) {
                        snprintf(out, size, "%s", ring[i].handler);
                        found = true;
                }
        }
        pthread_mutex_unlock(&mu);
        return found;
}

void crisp_sandbox_handlers_clear(void)
{
        pthread_mutex_lock(&mu);
        memset(ring, 0, sizeof(ring));
        next = 0;
        pthread_mutex_unlock(&mu);
}
