/* issue 14: `crisp report`, what complain mode learned, read from a running
 * crisp's metrics listener (GET /complain). */
#ifndef CRISP_REPORT_MAIN_H
#define CRISP_REPORT_MAIN_H

/* argv[0] is "report". Exit status: 0, or 1 with --fail-on-break when a
 * workload would break; 2 when crisp cannot be asked or answers nonsense. */
int crisp_report_main(int argc, char **argv);

#endif
