/* Shared basics: the real type, status codes with a stored message, assertions, logging, allocation. */
#ifndef FCNET_COMMON_H
#define FCNET_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Written once, in CMakeLists.txt's project(VERSION); the build passes it on. */
#define FC_VERSION FC_PROGRAM_VERSION

/* The core computes in float; -DFC_REAL_DOUBLE builds it in double (used by the gradient checks). */
#ifdef FC_REAL_DOUBLE
typedef double fc_real;
#define FC_REAL_NAME "double"
#else
typedef float fc_real;
#define FC_REAL_NAME "float"
#endif

/* Status of anything a user can cause. Values double as process exit codes (the README's Exit codes). */
typedef enum fc_status {
    FC_OK = 0,
    FC_ERR_FAIL = 1,  /* runtime failure: I/O, MPI, numerical blow-up */
    FC_ERR_INPUT = 2  /* usage, config or data error, found before training */
} fc_status;

/* Records a one-line message for the current failure and returns code. The message should name
 * the file or flag, the field and the reason. Later calls overwrite earlier ones. */
fc_status fc_error_set(fc_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded by fc_error_set ("" when none). */
const char *fc_error_message(void);
void fc_error_clear(void);
/* Why path cannot be read as an input file (strerror text, "is a directory", "not a regular file ..."), or
 * NULL when it is a regular file. Only regular files are inputs: opening a FIFO would block forever. */
const char *fc_input_file_problem(const char *path);
/* A write past the file size limit (ulimit -f) fails with EFBIG, which the writer reports like a full disk
 * (removing its temporary file, keeping the previous output), instead of raising SIGXFSZ, whose default action
 * ends the process without a word (exit 153). Called first thing by each program. */
void fc_file_size_limit_as_error(void);
/* strerror(err), and for EFBIG under a file size limit that limit: "File too large (this process's file size limit,
 * ulimit -f, is 4.00 MiB)", where the bare words read as the file system's own limit; for EMFILE the open-file limit
 * (ulimit -n) alike. A value, as fc_format_size's. */
typedef struct fc_reason_text {
    char text[160];
} fc_reason_text;
fc_reason_text fc_errno_reason(int err);
/* fsync of a file, or of a directory (directory != 0), by name: 0, or the errno value of the failure. */
int fc_sync_path(const char *name, int directory);
/* A size for a message, with three significant digits in the largest unit up to GiB that keeps it at least 1:
 * "512 bytes", "98.0 MiB", "1.05 GiB", "18626 GiB" (never "0.0 GiB" for a small size). A struct, so that it
 * can stand inside a printf argument list: fc_format_size(n).text lives until the end of that call. */
typedef struct fc_size_text {
    char text[32];
} fc_size_text;
fc_size_text fc_format_size(double bytes);
/* The shortest %g text that reads back to the same double, into buf: "0.001" rather than
 * "0.0010000000000000000208", and "1.0000001" rather than "1". */
void fc_format_real(char *buf, size_t size, double v);
/* FNV-1a, 64 bit: any bit that differs changes the hash with overwhelming probability. */
uint64_t fc_hash_bytes(const void *data, size_t n);
/* A 64-bit fingerprint of n bytes, chained from seed (another call's result, or 0), for large arrays: four
 * independent lanes over 8-byte words run at memory speed, where fc_hash_bytes's dependent multiply per byte
 * takes 0.4 s for Fashion-MNIST's float rows (this one 9 ms). It tells apart copies that differ by accident (a stale
 * copy, another file of the same shape), not ones made to collide. */
uint64_t fc_hash_large(const void *data, size_t n, uint64_t seed);

/* Rank and size used to prefix diagnostics; set once by the dist module. */
void fc_log_set_rank(int rank, int size);
/* fflush(stdout) and printf, remembering the errno of the first flush or write that failed (fc_stdout_errno; 0
 * when none did): for output whose loss is a failure to report with its reason (eval, gradcheck, --help). */
void fc_flush_stdout(void);
void fc_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fc_stdout_errno(void);
/* Informational output: rank 0 only, stdout. */
void fc_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warnings and errors: stderr, any rank, prefixed with the rank when size > 1. */
void fc_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fc_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Holds this rank's warnings and info lines from now on, until fc_log_release_messages prints them (print != 0)
 * or drops them: a run refused before it starts must leave exactly one line, its error, on stderr and nothing on
 * stdout (README, Bad input), not a word about the run it never made. */
void fc_log_hold_messages(void);
void fc_log_release_messages(int print);
/* The line fc_log_warn/fc_log_error would print for kind "warning"/"error", newline included, into buf:
 * for a message that must be ready before it can be printed (from a signal handler). */
void fc_log_format(char *buf, size_t size, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* This process's rank as set by fc_log_set_rank (0 before). */
int fc_log_rank(void);

/* On the hot elementwise kernels: AVX-512 and AVX2 clones besides the baseline one, picked at load time by
 * the CPU. Only wider vectors: -ffp-contract=off keeps FMA out of every clone, nothing is reassociated and
 * division and sqrt round correctly at any width, so all clones give bitwise the same results (ranks on
 * different CPUs still agree: test_clones). The AVX-512 clone halves the instructions of the optimizer sweep,
 * whose division and sqrt bound it while its arrays are in cache (fmnist -n 1: update 0.068-0.075 -> 0.043-0.052
 * ms). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__OPTIMIZE__) && \
    !defined(FC_BASELINE_ONLY)
/* (GCC only: clang 14 leaves the clones of functions called from other files undefined at link time. Not in
 * unoptimised (Debug) builds: nothing is vectorised there, and a breakpoint on a cloned function would first
 * stop in its resolver, inside the dynamic loader, before main. FC_BASELINE_ONLY: the tests' build of the core
 * that runs only the baseline forms, here and in the Philox generator, whatever the CPU, so that test_clones
 * can compare them with the forms this CPU picks.) */
#define FC_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FC_VECTOR_CLONES
#endif

/* Programmer errors: always checked; prints "rank r/N file:line: expr" then aborts every rank. */
#define FC_ASSERT(cond)                                                                     \
    do {                                                                                    \
        if (!(cond)) fc_assert_fail(#cond, __FILE__, __LINE__);                             \
    } while (0)
_Noreturn void fc_assert_fail(const char *expr, const char *file, int line);
/* Called by an assertion or a failed allocation before abort(): the dist module sets one that ends every rank
 * (MPI_Abort) while MPI runs, so that no peer waits forever in a collective. A hook, not a call into MPI here,
 * so that the dataset tools, which use this module without MPI, link neither MPI nor OpenBLAS. */
void fc_set_abort_peers(void (*hook)(void));

/* 64-byte aligned, zero-filled (every page touched once), never NULL (out of memory aborts).
 * Free with fc_free. */
void *fc_alloc(size_t n_bytes);
void fc_free(void *p);

/* Counts calls to fc_alloc; the no-allocation test checks it does not move during a step. */
size_t fc_alloc_count(void);

#endif
