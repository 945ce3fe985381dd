/* Process-wide settings of the libraries under gRPC, made once before
 * grpc_init(). */
#ifndef CRISP_GRPC_TUNING_H
#define CRISP_GRPC_TUNING_H

/* Turns off Abseil's mutex deadlock detection where it is on. */
void crisp_grpc_tune(void);

#endif
