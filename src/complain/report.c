/* issue 14: complain mode's bounded tables behind one mutex, the /complain
 * JSON and the crisp_complain_* series; report.h. */
#include "complain/report.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct container {
        char id[65];
        struct crisp_workload w;
        uint32_t gen; /* bumped when the slot is reused */
        bool used;
};

struct finding {
        struct crisp_workload w;
        char syscall[48];
        uint64_t count;
        int64_t first, last;
};

struct pid_slot {
        int pid;
        int32_t container; /* index into containers, -1: none */
        uint32_t gen;
};

struct crisp_report {
        pthread_mutex_t mu;
        struct container containers[CRISP_REPORT_MAX_CONTAINERS];
        size_t n_containers, next_container;
        struct finding findings[CRISP_REPORT_MAX_FINDINGS];
        size_t n_findings;
        struct pid_slot *pids;
        struct crisp_report_counters c;
};

struct crisp_report *crisp_report_new(void)
{
        struct crisp_report *r = calloc(1, sizeof(*r));
        if (r == NULL)
                return NULL;
        r->pids = calloc(CRISP_REPORT_PID_SLOTS, sizeof(*r->pids));
        if (r->pids == NULL) {
                free(r);
                return NULL;
        }
        pthread_mutex_init(&r->mu, NULL);
        return r;
}

void crisp_report_free(struct crisp_report *r)
{
        if (r == NULL)
                return;
        pthread_mutex_destroy(&r->mu);
        free(r->pids);
        free(r);
}

static int find_container(const struct crisp_report *r, const char *id)
{
        for (size_t i = 0; i < r->n_containers; i++)
                if (r->containers[i].used && strcmp(r->containers[i].id, id) == 0)
                        return (int)i;
        return -1;
}

void crisp_report_add_container(struct crisp_report *r, const char *id,
                                const struct crisp_workload *w, int64_t now)
{
        (void)now;
        if (strlen(id) != 64)
                return;
        pthread_mutex_lock(&r->mu);
        int i = find_container(r, id);
        if (i < 0) {
                i = (int)r->next_container;
                r->next_container = (r->next_container + 1) % CRISP_REPORT_MAX_CONTAINERS;
                if (r->n_containers < CRISP_REPORT_MAX_CONTAINERS)
                        r->n_containers++;
        }
        struct container *c = &r->containers[i];
        c->gen++;
        c->used = true;
        memcpy(c->id, id, 65);
        c->w = *w;
        pthread_mutex_unlock(&r->mu);
}

bool crisp_report_knows(struct crisp_report *r, const char *id)
{
        pthread_mutex_lock(&r->mu);
        bool known = find_container(r, id) >= 0;
        pthread_mutex_unlock(&r->mu);
        return known;
}

void crisp_report_set_pid(struct crisp_report *r, int pid, const char *id)
{
        if (pid <= 0)
                return;
        pthread_mutex_lock(&r->mu);
        struct pid_slot *s = &r->pids[(unsigned)pid % CRISP_REPORT_PID_SLOTS];
        int i = id && id[0] ? find_container(r, id) : -1;
        s->pid = pid;
        s->container = i;
        s->gen = i >= 0 ? r->containers[i].gen : 0;
        pthread_mutex_unlock(&r->mu);
}

bool crisp_report_pid(struct crisp_report *r, int pid, char id[65])
{
        if (pid <= 0)
                return false;
        pthread_mutex_lock(&r->mu);
        const struct pid_slot *s = &r->pids[(unsigned)pid % CRISP_REPORT_PID_SLOTS];
        bool ok = s->pid == pid && s->container >= 0 && r->containers[s->container].used &&
                  r->containers[s->container].gen == s->gen;
        if (ok)
                memcpy(id, r->containers[s->container].id, 65);
        pthread_mutex_unlock(&r->mu);
        return ok;
}

static bool same_workload(const struct crisp_workload *a, const struct crisp_workload *b)
{
        return strcmp(a->namespace_, b->namespace_) == 0 && strcmp(a->pod, b->pod) == 0 &&
               strcmp(a->container, b->container) == 0;
}

uint64_t crisp_report_hit(struct crisp_report *r, const char *id, const char *syscall, int64_t now,
                          struct crisp_workload *w)
{
        pthread_mutex_lock(&r->mu);
        uint64_t count = 0;
        int i = find_container(r, id);
        if (i < 0) {
                r->c.unattributed++;
                goto out;
        }
        const struct crisp_workload *cw = &r->containers[i].w;
        if (w)
                *w = *cw;
        r->c.records++;
        struct finding *f = NULL;
        for (size_t k = 0; k < r->n_findings; k++)
                if (strcmp(r->findings[k].syscall, syscall) == 0 &&
                    same_workload(&r->findings[k].w, cw)) {
                        f = &r->findings[k];
                        break;
                }
        if (f == NULL) {
                if (r->n_findings == CRISP_REPORT_MAX_FINDINGS) {
                        r->c.dropped++;
                        goto out;
                }
                f = &r->findings[r->n_findings++];
                memset(f, 0, sizeof(*f));
                f->w = *cw;
                snprintf(f->syscall, sizeof(f->syscall), "%s", syscall);
                f->first = now;
        }
        f->count++;
        f->last = now;
        count = f->count;
out:
        pthread_mutex_unlock(&r->mu);
        return count;
}

void crisp_report_count(struct crisp_report *r, const struct crisp_report_counters *add)
{
        pthread_mutex_lock(&r->mu);
        r->c.records += add->records;
        r->c.unattributed += add->unattributed;
        r->c.unparsed += add->unparsed;
        r->c.lost += add->lost;
        r->c.dropped += add->dropped;
        r->c.twin_failures += add->twin_failures;
        pthread_mutex_unlock(&r->mu);
}

void crisp_report_counters(struct crisp_report *r, struct crisp_report_counters *out)
{
        pthread_mutex_lock(&r->mu);
        *out = r->c;
        pthread_mutex_unlock(&r->mu);
}

static int workload_cmp(const void *pa, const void *pb)
{
        const struct crisp_workload *a = pa, *b = pb;
        int c = strcmp(a->namespace_, b->namespace_);
        if (c == 0)
                c = strcmp(a->pod, b->pod);
        return c ? c : strcmp(a->container, b->container);
}

static json_object *workload_json(const struct crisp_workload *w)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "namespace", json_object_new_string(w->namespace_));
        json_object_object_add(o, "pod", json_object_new_string(w->pod));
        json_object_object_add(o, "container", json_object_new_string(w->container));
        json_object_object_add(o, "would_break", json_object_new_boolean(0));
        json_object_object_add(o, "syscalls", json_object_new_array());
        return o;
}

char *crisp_report_json(struct crisp_report *r)
{
        /* Copied out under the lock (a few MiB at most), built without it:
         * the kernel reader and CreateContainer calls never wait for a report. */
        size_t n_w = 0, n_f;
        struct crisp_workload *ws =
            malloc((CRISP_REPORT_MAX_CONTAINERS + CRISP_REPORT_MAX_FINDINGS) * sizeof(*ws));
        struct finding *fs = malloc(CRISP_REPORT_MAX_FINDINGS * sizeof(*fs));
        if (ws == NULL || fs == NULL) {
                free(ws);
                free(fs);
                return NULL;
        }
        struct crisp_report_counters counters;
        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < r->n_containers; i++)
                if (r->containers[i].used)
                        ws[n_w++] = r->containers[i].w;
        n_f = r->n_findings;
        memcpy(fs, r->findings, n_f * sizeof(*fs));
        counters = r->c;
        pthread_mutex_unlock(&r->mu);
        for (size_t k = 0; k < n_f; k++)
                ws[n_w++] = fs[k].w; /* a workload whose containers were forgotten */
        qsort(ws, n_w, sizeof(*ws), workload_cmp);
        size_t n_unique = 0;
        for (size_t i = 0; i < n_w; i++)
                if (n_unique == 0 || workload_cmp(&ws[n_unique - 1], &ws[i]) != 0)
                        ws[n_unique++] = ws[i];

        json_object *root = json_object_new_object();
        json_object *rows = json_object_new_array();
        json_object_object_add(root, "workloads", rows);
        for (size_t i = 0; i < n_unique; i++)
                json_object_array_add(rows, workload_json(&ws[i]));
        for (size_t k = 0; k < n_f; k++) {
                const struct finding *f = &fs[k];
                const struct crisp_workload *at =
                    bsearch(&f->w, ws, n_unique, sizeof(*ws), workload_cmp);
                json_object *row = json_object_array_get_idx(rows, (size_t)(at - ws));
                json_object_object_add(row, "would_break", json_object_new_boolean(1));
                json_object *list, *s = json_object_new_object();
                json_object_object_get_ex(row, "syscalls", &list);
                json_object_object_add(s, "name", json_object_new_string(f->syscall));
                json_object_object_add(s, "count", json_object_new_uint64(f->count));
                json_object_object_add(s, "first_seen", json_object_new_int64(f->first));
                json_object_object_add(s, "last_seen", json_object_new_int64(f->last));
                json_object_array_add(list, s);
        }
        free(ws);
        free(fs);
        json_object *c = json_object_new_object();
        json_object_object_add(c, "records", json_object_new_uint64(counters.records));
        json_object_object_add(c, "unattributed", json_object_new_uint64(counters.unattributed));
        json_object_object_add(c, "unparsed", json_object_new_uint64(counters.unparsed));
        json_object_object_add(c, "lost", json_object_new_uint64(counters.lost));
        json_object_object_add(c, "dropped", json_object_new_uint64(counters.dropped));
        json_object_object_add(c, "twin_failures", json_object_new_uint64(counters.twin_failures));
        json_object_object_add(root, "counters", c);
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
        char *out = text ? strdup(text) : NULL;
        json_object_put(root);
        return out;
}

bool crisp_report_empty(struct crisp_report *r)
{
        pthread_mutex_lock(&r->mu);
        bool empty = r->n_containers == 0;
        pthread_mutex_unlock(&r->mu);
        return empty;
}

/* Prometheus label values: backslash, quote and newline escaped. */
static void label(FILE *out, const char *s)
{
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', out);
                if (*s == '\n')
                        fputs("\\n", out);
                else
                        fputc(*s, out);
        }
}

void crisp_report_metrics(struct crisp_report *r, FILE *out)
{
        pthread_mutex_lock(&r->mu);
        fputs("# HELP crisp_complain_syscalls_total Syscalls RuntimeDefault would have denied, "
              "seen under a complain-mode twin (at most "
              "1024 series).\n# TYPE crisp_complain_syscalls_total counter\n",
              out);
        for (size_t k = 0; k < r->n_findings; k++) {
                const struct finding *f = &r->findings[k];
                fputs("crisp_complain_syscalls_total{namespace=\"", out);
                label(out, f->w.namespace_);
                fputs("\",pod=\"", out);
                label(out, f->w.pod);
                fputs("\",container=\"", out);
                label(out, f->w.container);
                fputs("\",syscall=\"", out);
                label(out, f->syscall);
                fprintf(out, "\"} %llu\n", (unsigned long long)f->count);
        }
        const struct {
                const char *name, *help;
                uint64_t v;
        } counters[] = {
            {"crisp_complain_records_unattributed_total",
             "Seccomp LOG records crisp could not attribute to a complain-mode container.",
             r->c.unattributed},
            {"crisp_complain_records_unparsed_total",
             "Kernel seccomp records crisp could not parse (skipped).", r->c.unparsed},
            {"crisp_complain_records_lost_total",
             "Kernel audit records lost to the printk rate limiter.", r->c.lost},
            {"crisp_complain_findings_dropped_total",
             "Records of new (workload, syscall) pairs beyond the table's 1024 entries.",
             r->c.dropped},
            {"crisp_complain_twin_failures_total",
             "Security contexts complain mode could not give a twin (enforce's decision "
             "applied).",
             r->c.twin_failures},
        };
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
                fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
                        counters[i].help, counters[i].name, counters[i].name,
                        (unsigned long long)counters[i].v);
        pthread_mutex_unlock(&r->mu);
}
