/* The call observer (call_observer.h) that feeds the recorder: it copies each call's
 * messages, identity and status into a crisp_call_record and submits it when
 * the call ends. Its callbacks run on the relay's loop, so they only copy
 * bytes (within the recorder's memory budget) and never block or log;
 * everything else happens on the recorder's thread. */
#ifndef CRISP_RECORD_TAP_H
#define CRISP_RECORD_TAP_H

#include "record/recorder.h"
#include "call_observer.h"

struct crisp_record_tap {
        struct crisp_call_observer observer; /* give &tap->observer to the server */
        struct crisp_recorder *recorder;
        unsigned max_messages; /* stored per call and direction; the rest is counted */
};

void crisp_record_tap_init(struct crisp_record_tap *tap, struct crisp_recorder *recorder,
                           unsigned max_messages);

#endif
