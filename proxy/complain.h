/* issue 14 (complain mode), the daemon's side:
 *   - the twin maker the rewriter calls (rewrite.h crisp_twin_fn): it
 *     writes, validated, the twin of the container's default profile for
 *     its capabilities into the complain folder (src/complain/twin.h);
 *   - a call observer that learns, from each CreateContainer crisp gave a
 *     twin, the container id (its response) and the pod identity;
 *   - the kernel reader (proxy/complain_kernel.c): seccomp records from
 *     the audit socket or /dev/kmsg, attributed to containers
 *     (src/complain/report.h).
 * The reader starts with the first twin, so a reload into complain mode
 * needs no restart. */
#ifndef CRISP_COMPLAIN_H
#define CRISP_COMPLAIN_H

#include <stdio.h>

#include "complain/report.h"
#include "call_observer.h"
#include "rule/rewrite.h"

struct crisp_complain;

/* `dir`: where twins go (the options' complain_dir); `source`: where the
 * kernel's records are read (enum crisp_complain_source). */
struct crisp_complain *crisp_complain_new(const char *dir, int source);
/* Stops the kernel reader and frees everything (NULL is fine). */
void crisp_complain_free(struct crisp_complain *cx);

/* The twin maker, for crisp_policy_set_twin_hook(crisp_complain_twin, cx). */
int crisp_complain_twin(void *cx, const struct crisp_twin_request *req, char *path, size_t size);

/* The call observer. */
const struct crisp_call_observer *crisp_complain_observer(struct crisp_complain *cx);

struct crisp_report *crisp_complain_report(struct crisp_complain *cx);

/* ---- the kernel reader (complain_kernel.c) ---- */
struct crisp_kernel_reader;
/* Starts reading /dev/kmsg (new records only) and the process events
 * that keep pid -> container current. */
/* `source`: enum crisp_complain_source (config/settings.h). */
int crisp_kernel_reader_start(struct crisp_report *report, int source,
                              struct crisp_kernel_reader **out, crisp_error **err);
void crisp_kernel_reader_stop(struct crisp_kernel_reader *kr);

#endif
