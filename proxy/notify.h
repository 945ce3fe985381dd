/* Readiness for systemd (Type=notify): the sd_notify(3) datagram protocol,
 * spoken directly so crisp needs no libsystemd (its static build for kind
 * nodes keeps only glibc, libstdc++ and libgcc_s dynamic).
 *
 * Each call is a no-op when NOTIFY_SOCKET is unset: outside systemd, or
 * under a unit that is not Type=notify. */
#ifndef CRISP_NOTIFY_H
#define CRISP_NOTIFY_H

/* Sends `state` (newline-separated VAR=VALUE assignments, e.g. "READY=1")
 * to $NOTIFY_SOCKET. Returns 1 if sent, 0 if NOTIFY_SOCKET is unset or
 * empty, or a negative errno value (nothing is logged). */
int crisp_notify(const char *state);

/* Call once the listening socket accepts connections: systemd then starts
 * the units ordered after crisp (the kubelet). Logs a warning on failure. */
void crisp_notify_ready(void);

/* Call when a shutdown begins (first SIGTERM/SIGINT). Logs on failure. */
void crisp_notify_stopping(void);

#endif
