/* Who a recorded call is about, read from its first request: the pod
 * (namespace, name, uid) of RunPodSandbox and CreateContainer, and the
 * container's name for CreateContainer. The recorder uses it on its own
 * thread for calls the rewriter did not describe (crisp --no-default). */
#ifndef CRISP_RECORD_IDENTITY_H
#define CRISP_RECORD_IDENTITY_H

#include "record/record.h"

/* Fills r->pod_* and r->container where the request carries them and they
 * are not set yet. A request that does not decode is left alone. Returns 0
 * or -ENOMEM. */
int crisp_record_fill_identity(struct crisp_call_record *r);

#endif
