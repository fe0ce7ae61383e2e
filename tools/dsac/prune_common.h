/*
 * prune_common.h: what `dsac prune`, `dsac alloc` and `dsac tune` share:
 * their options (one table; each command accepts a subset), the help text
 * of the shared options, and setting up the session (runtime/session.h)
 * from them: backend, allocation program and params, model, calibration,
 * dense statistics and units view.
 */
#ifndef ALC_PRUNE_COMMON_H
#define ALC_PRUNE_COMMON_H

#include "allocfn.h"
#include "report.h"
#include "session.h"

/* Option groups; each command accepts some (PC_* bits). */
#define PC_ALLOC 1u   /* --alloc --sparsity --param --granularity --backend */
#define PC_CALIB 2u   /* --calib ... --dump-calib */
#define PC_METHOD 4u  /* --method --nm --blocksize --percdamp */
#define PC_EVAL 8u    /* --eval --eval-format --eval-seqlen ... */
#define PC_SAVE 16u   /* --out --force */
#define PC_TUNE 32u   /* --param NAME=LO:HI:STEP (grid), -o */

#define PC_MAX_PARAMS 32

struct pc_args {
    const char *cmd;            /* "prune", "alloc", "tune" */
    unsigned groups;
    const char *model;
    /* allocation */
    const char *alloc;          /* NULL: built-in uniform */
    double S;
    int have_S;
    const char *params[PC_MAX_PARAMS];
    int n_params;
    int gran;                   /* enum alc_gran */
    const char *backend;
    /* calibration */
    struct alc_calib_opts calib;
    long calib_batch;
    const char *dump_calib;
    /* method */
    struct alc_prune_opts prune;
    /* evaluation */
    const char *eval;
    int eval_fmt;
    long eval_seqlen;           /* 0: the calibration seqlen */
    long eval_chunks;
    int eval_dense;
    int allow_test;
    /* outputs */
    const char *out;
    int force;
    const char *report, *plot;
    int json, quiet;
    long threads;
    /* tune */
    const char *out_alloc;      /* -o FILE */
};

/* Parses argv for cmd. Returns 0, 1 after --help (printed), or CLI_USAGE
 * after printing a usage error. usage is the command's help text. */
int pc_parse(struct pc_args *a, const char *cmd, unsigned groups,
             const char *usage, int argc, char **argv);

/* The session and program of a command. */
struct pc_run {
    struct alc_session s;
    int have_s;
    struct alc_allocfn fn;
    int have_fn;
    enum alc_backend be;
    int eval_idx;               /* -1 without --eval */
    double t0;
};

/* Backend, program + params (unless skip_params), session, calibration
 * (when the program or method needs it, or --calib was given), pass 1 /
 * alpha and the units view; --eval tokenized. */
int pc_setup(const struct pc_args *a, struct pc_run *x, int skip_params,
             struct alc_diag *d);
void pc_free(struct pc_run *x);

/* A report of the run filled from a and x (the caller adds results). */
void pc_report_init(const struct pc_args *a, const struct pc_run *x,
                    struct alc_report_run *r);
/* --report / --plot files (atomic). */
int pc_write_outputs(const struct pc_args *a, const struct alc_report_run *r,
                     struct alc_diag *d);

/* The help text of the shared options, by group. */
extern const char pc_help_alloc[], pc_help_calib[], pc_help_method[],
    pc_help_eval[], pc_help_common[];

#endif /* ALC_PRUNE_COMMON_H */
