/* fcnet_dist: orchestration only. Every rank parses the same arguments; every decision to stop is
 * agreed collectively so no rank is left waiting in a collective. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcnet/ckpt.h"
#include "fcnet/commands.h"
#include "fcnet/config.h"
#include "fcnet/dist.h"
#include "fcnet/h5quiet.h"
#include "fcnet/memory_limits.h"
#include "fcnet/output_aside.h"
#include "fcnet/train.h"
#include "fcnet/version.h"

/* First thing in main: SIGUSR1's default action kills, and Slurm/mpirun deliver it as the warning. */
static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fc_train_request_stop;
    sa.sa_flags = SA_RESTART;
    /* No stop signal inside another's handler: a Ctrl-C there would be overwritten by the SIGTERM it interrupted
     * (fc_train_request_stop keeps SIGINT over the others), so every signal waits for the handler to return. */
    sigfillset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* sig stops training (fc_train_request_stop) from now on, unless the process was started with it ignored (a
 * script's background job, nohup), which it keeps ignoring. */
static void stop_on_signal(int sig, int flags)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fc_train_request_stop;
    sa.sa_flags = SA_RESTART | flags;
    sigfillset(&sa.sa_mask); /* as install_signal_handlers */
    sigaction(sig, &sa, NULL);
}

/* Installed once training has started; before that (loading, setup) their default actions end the run at
 * once, since there is nothing to save. Each stops the run with the checkpoint at the next step boundary and
 * then makes the process die of its signal (main).
 * - Ctrl-C in a run started without mpirun (mpirun itself turns it into SIGTERM for the ranks); a second
 *   Ctrl-C kills at once (SA_RESETHAND).
 * - A hangup (the terminal or ssh session of a run started in the foreground without mpirun closes; mpirun,
 *   which gets it instead under a launcher, stops the job with SIGTERM), which killed the run with nothing saved
 *   since the last checkpoint: death by SIGHUP (129). Not reset after the first: the kernel signals the
 *   foreground process group and the session's shell passes the hangup on to its jobs, so one hangup often
 *   arrives twice.
 * - A closed standard output (`fcnet_dist train ... | head`, a `tee` or log reader that died) raises SIGPIPE at
 *   rank 0's next progress line, and its default action killed a run without mpirun silently: death by SIGPIPE
 *   (141), as a pipeline expects; later writes fail with EPIPE and are dropped. Not under a launcher: the ranks
 *   write to mpirun, which handles a closed output itself (it stops the job with SIGTERM), so a rank's SIGPIPE
 *   there comes from a socket (a peer or orted gone), not from a closed output; caught, it would claim one and
 *   end that rank alone with 141. */
static void install_stop_handlers(const fc_dist *dist)
{
    stop_on_signal(SIGINT, SA_RESETHAND);
    stop_on_signal(SIGHUP, 0);
    if (!dist->launched) stop_on_signal(SIGPIPE, 0);
    fc_output_aside_arm(dist->launched);
    if (fc_train_stop_requested()) fc_output_aside_now(); /* a stop during loading and setup */
}

/* eval, gradcheck and help save nothing, so SIGTERM and SIGUSR1 end them at once (the default action), as `kill`
 * and `timeout` expect; one that came while the command line was read ends them now. */
static void end_on_signals(void)
{
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    const int pending = fc_train_stop_requested();
    if (pending == SIGTERM || pending == SIGUSR1) raise(pending);
}

/* The input files named on the command line (or in --config) can be opened: checked before anything is read,
 * so that the line names the option ("--resume: run/checkpoint.h5: cannot open: No such file or directory"),
 * where the readers, which serve several options, can name only the file. */
static fc_status check_input_files(const fc_config *cfg)
{
    /* Only the files this command reads: one INI file serves train and eval runs, and its checkpoint =
     * run/checkpoint.h5, for eval, refused the train run that was to write it ("cannot open"). */
    const int train = cfg->command == FC_CMD_TRAIN, eval = cfg->command == FC_CMD_EVAL;
    const struct {
        const char *flag, *path;
        int read;
    } inputs[] = {{"--data", cfg->data, 1},
                  {"--resume", cfg->resume, train},
                  {"--init-from", cfg->init_from, train},
                  {"--checkpoint", cfg->checkpoint, eval}};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        const char *path = inputs[i].path;
        if (!path[0] || !inputs[i].read) continue;
        const char *problem = fc_input_file_problem(path);
        if (!problem && access(path, R_OK) != 0) problem = strerror(errno);
        if (problem) return fc_error_set(FC_ERR_INPUT, "%s: %s: cannot open: %s", inputs[i].flag, path, problem);
    }
    return FC_OK;
}

static int run_train(fc_config *cfg, fc_dist *dist)
{
    fc_status st = FC_OK;
    /* The setup's warnings (a 1-row last batch, an unused --val-size, /dev/shm short on some node) and notes (the
     * leftovers removed from --out, going back to an older step) appear once the run is accepted; a refused run's
     * one line is its error. */
    fc_log_hold_messages();
    if (cfg->resume[0]) {
        /* Hyperparameters come from the checkpoint; only run control may differ. */
        st = fc_ckpt_check_resume(cfg->resume, cfg);
        if (st == FC_OK) st = fc_ckpt_read_config(cfg->resume, cfg, NULL, NULL);
        if (st == FC_OK && !cfg->opt_set[FC_OPT_DATA]) st = fc_ckpt_check_data_path(cfg->data, cfg->resume);
        if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) {
            fc_log_release_messages(0);
            return st;
        }
    }
    fc_trainer t;
    st = fc_train_setup(&t, cfg, dist);
    if (st == FC_OK) st = fc_train_check_out_dir(&t);
    fc_log_release_messages(st == FC_OK);
    int rc = st;
    if (st == FC_OK) {
        char saved_by[64] = "";
        if (cfg->resume[0])
            snprintf(saved_by, sizeof saved_by, " (step %lld, saved by %lld rank(s))", (long long)t.step,
                     (long long)t.world_size_at_save);
        fc_log_info("fcnet %s: %d rank(s), %lld training rows, %d features, %d classes, %lld steps per epoch, "
                    "%s%s%s",
                    FC_VERSION, fc_dist_size(dist), (long long)t.data.train.n, t.data.n_features,
                    t.data.n_classes, (long long)t.steps_per_epoch, cfg->resume[0] ? "resuming from " : "fresh start",
                    cfg->resume[0] ? cfg->resume : "", saved_by);
        install_stop_handlers(dist);
        rc = fc_train_run(&t);
    }
    fc_train_free(&t);
    return rc;
}

/* 1 when what was printed to standard output did not all reach it; reason gets " (<strerror>)" of the first
 * write or flush that failed (a closed file, a full disk), or "" when none said why. */
static int stdout_lost(char *reason, size_t size)
{
    fc_flush_stdout();
    const int err = fc_stdout_errno();
    reason[0] = '\0';
    if (err == 0 && !ferror(stdout)) return 0;
    if (err) snprintf(reason, size, " (%s)", strerror(err));
    return 1;
}

/* The usage is composed in memory and printed with fc_print, which keeps the errno of a write that fails
 * (unbuffered, `stdbuf -o0`, nothing is left for the final flush to report). */
static void print_help(fc_command command)
{
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    if (mem) fc_config_print_help(mem, command);
    if (mem && fclose(mem) == 0) fc_print("%s", text);
    else fc_config_print_help(stdout, command); /* no memory for it: printed as it is made */
    free(text);
}

int main(int argc, char **argv)
{
    fc_h5_no_exit_cleanup();
    fc_file_size_limit_as_error();
    install_signal_handlers();
    /* Under a memory limit too small for OpenBLAS's worker threads, a worker retries its buffer forever from the
     * moment the library loaded, and any exit or fork would wait for it: refused here, and left by _exit. Alone
     * at once, as MPI_Init would fork; under a launcher once every rank agrees, like any other refusal. */
    char blas_why[400] = "";
    const int blas_stuck = fc_memory_blas_threads_lack_room(blas_why, sizeof blas_why);
    if (blas_stuck && (!fc_dist_started_by_launcher() || (argc == 2 && strcmp(argv[1], "--version") == 0))) {
        fprintf(stderr, "fcnet_dist: error: %s\n", blas_why);
        _exit(FC_ERR_INPUT);
    }
    /* Before MPI_Init: it answers on a login node, and the launch scripts start it under mpirun to learn
     * whether mpirun can start the program at all. With other arguments the parser refuses it. */
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        char text[FC_VERSION_REPORT_MAX];
        fc_version_text(text, sizeof text);
        fc_print("%s", text);
        char reason[128];
        if (!stdout_lost(reason, sizeof reason)) return 0;
        fprintf(stderr, "fcnet_dist: error: --version: cannot write to standard output%s\n", reason);
        return 1;
    }
    fc_dist dist;
    if (fc_dist_init(&dist, &argc, &argv) != FC_OK) {
        fprintf(stderr, "fcnet_dist: error: %s\n", fc_error_message());
        return 1;
    }
    static fc_config cfg;
    fc_status st = blas_stuck ? fc_error_set(FC_ERR_INPUT, "%s", blas_why) : fc_config_parse(&cfg, argc, argv);
    if (st == FC_OK && cfg.command != FC_CMD_HELP) st = check_input_files(&cfg);
    int rc = fc_dist_agree(&dist, st, 1);
    /* Ranks started with different commands (MPMD launches), or a train run that resumes, starts from
     * --init-from or starts fresh on some ranks only, would each wait in collectives the others never enter. */
    /* Ranks running another build (fcnet_dist and fcnet_dist_f64 in one MPMD job, another version earlier
     * on one node's PATH) exchange buffers of other element sizes in every collective after this one: an
     * assertion deep in the setup or a silent MPI abort. Compared first, with the command and the start. */
    char build[64] = {0};
    snprintf(build, sizeof build, "%s %s", FC_VERSION, FC_REAL_NAME);
    const int32_t start[2] = {cfg.resume[0] != 0, cfg.init_from[0] != 0};
    const fc_tensor_ref launch[3] = {{"the build", build, sizeof build},
                                     {"the command", &cfg.command, sizeof cfg.command},
                                     {"how the run starts", start, sizeof start}};
    int other_rank, index;
    if (rc == FC_OK && fc_dist_find_mismatch(&dist, launch, 3, &other_rank, &index)) {
        if (dist.rank == 0 && index == 0)
            fc_log_error("rank %d was started with another build of fcnet_dist than rank 0's (%s): every rank must "
                         "run the same program (float fcnet_dist or double fcnet_dist_f64, of one version)",
                         other_rank, build);
        else if (dist.rank == 0 && index == 1)
            fc_log_error("rank %d was started with another command than rank 0 (train, eval or gradcheck): every "
                         "rank must run the same one",
                         other_rank);
        else if (dist.rank == 0)
            fc_log_error("rank %d was started with other --resume/--init-from options than rank 0 (one resumes, "
                         "starts from --init-from or starts fresh, the other does not): every rank must be given "
                         "the same",
                         other_rank);
        rc = FC_ERR_INPUT;
    }
    if (rc == FC_OK) {
        if (cfg.command != FC_CMD_TRAIN) end_on_signals(); /* only training has work to save first */
        switch (cfg.command) {
        case FC_CMD_HELP:
            if (dist.rank == 0) print_help(cfg.help_command);
            break;
        case FC_CMD_TRAIN: rc = run_train(&cfg, &dist); break;
        case FC_CMD_EVAL: rc = fc_cmd_eval(&cfg, &dist); break;
        case FC_CMD_GRADCHECK: rc = fc_cmd_gradcheck(&cfg, &dist); break;
        }
        /* help, eval and gradcheck exist for what they print: a report lost to a full disk or a closed
         * file (`eval ... > report.txt`) is a failure, as for --version. Training goes on without its log. */
        char reason[128];
        if (rc == 0 && cfg.command != FC_CMD_TRAIN && dist.rank == 0 && stdout_lost(reason, sizeof reason)) {
            fc_log_error("cannot write to standard output%s: the %s output is lost", reason,
                         cfg.command == FC_CMD_HELP ? "--help" : cfg.command == FC_CMD_EVAL ? "eval" : "gradcheck");
            rc = FC_ERR_FAIL;
        }
    }
    fc_dist_free(&dist);
    if (blas_stuck) {
        fflush(NULL);
        _exit(rc);
    }
    /* Stopped early by Ctrl-C (or a closed output, a hangup), checkpoint written: die of that signal as the shell
     * expects, so that a script or loop around this command stops too (a plain exit status would look like a
     * handled interrupt). A run that finished, or failed, keeps its own exit status. */
    const int sig = fc_train_stop_signal();
    if (rc == 0 && (sig == SIGINT || sig == SIGPIPE || sig == SIGHUP)) {
        signal(sig, SIG_DFL);
        raise(sig);
        /* Still here: a debugger kept the signal (gdb's `continue` does not pass SIGINT on). Exit with the
         * shell's status for that death, not 0, which would read as a run that finished. */
        rc = 128 + sig;
    }
    return rc;
}
