/*
 * progress.c: one progress line with rate and ETA on stderr for every long
 * step (evaluation, calibration, pruning, search). On a terminal the line is
 * redrawn in place; otherwise a line is printed every 10 % so logs stay short.
 */
#include <unistd.h>

#include "alc_common.h"

static int g_quiet;

void alc_progress_set_quiet(int quiet)
{
    g_quiet = quiet;
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) {
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    } else {
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    }
}

void alc_progress_begin(struct alc_progress *p, const char *label,
                        int64_t total)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->t0 = alc_now();
    p->tty = isatty(2);
    p->quiet = g_quiet;
    p->last_pct = -1;
}

static void draw(struct alc_progress *p, const char *extra, int final)
{
    double now = alc_now();
    double el = now - p->t0;
    int pct = p->total > 0 ? (int)(100.0 * (double)p->done / (double)p->total)
                           : 100;
    if (p->quiet) {
        return;
    }
    if (!final) {
        if (p->tty && now - p->last_print < 0.2) {
            return;
        }
        if (!p->tty && pct / 10 == p->last_pct / 10) {
            return;
        }
    }
    p->last_print = now;
    p->last_pct = pct;
    char eta[32], els[32];
    double rate = el > 0 ? (double)p->done / el : 0;
    double left = rate > 0 ? (double)(p->total - p->done) / rate : -1;
    fmt_time(eta, sizeof eta, left);
    fmt_time(els, sizeof els, el);
    fprintf(stderr, "%s%s %lld/%lld (%3d%%) %s elapsed, ETA %s%s%s%s",
            p->tty ? "\r\033[K" : "", p->label, (long long)p->done,
            (long long)p->total, pct, els, final ? "0:00" : eta,
            extra ? "  " : "", extra ? extra : "",
            p->tty && !final ? "" : "\n");
    fflush(stderr);
}

void alc_progress_step(struct alc_progress *p, int64_t n)
{
    p->done += n;
    draw(p, NULL, 0);
}

void alc_progress_stepf(struct alc_progress *p, int64_t n, const char *fmt,
                        ...)
{
    struct alc_sb sb;
    va_list ap;
    alc_sb_init(&sb);
    va_start(ap, fmt);
    alc_sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    p->done += n;
    draw(p, alc_sb_str(&sb), 0);
    alc_sb_free(&sb);
}

void alc_progress_end(struct alc_progress *p)
{
    if (p->tty || p->last_pct != 100) {
        draw(p, NULL, 1);
    }
}
