/* The runtime handler of each pod sandbox crisp saw created, so that a
 * CreateContainer (which does not carry it) can be matched against
 * exemptions.runtimeHandlers. Bounded: the oldest entry is forgotten first.
 *
 * After a crisp restart the map is empty: a container created in a sandbox
 * crisp did not see created is judged by namespace and labels only (its
 * handler is unknown, so a runtimeHandlers exemption does not apply and it
 * is defaulted as usual). README.md, "Configuration", says so. */
#ifndef CRISP_SANDBOX_HANDLERS_H
#define CRISP_SANDBOX_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>

#define CRISP_SANDBOX_HANDLERS_MAX 1024

/* Remembers that sandbox `id` runs with `handler` (non-empty). Thread-safe. */
void crisp_sandbox_handlers_put(const char *id, const char *handler, size_t handler_len);

/* Copies the handler of sandbox `id` into out; false when not known. */
bool crisp_sandbox_handlers_get(const char *id, char *out, size_t size);

/* Forgets everything (tests). */
void crisp_sandbox_handlers_clear(void);

#endif
