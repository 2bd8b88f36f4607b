#include "fcnet/common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Room for a message naming several paths of up to PATH_MAX (4096) bytes each. */
enum { MESSAGE_MAX = 16384 };

static char error_message[MESSAGE_MAX];
static int log_rank = 0, log_size = 1;
static size_t alloc_calls = 0;
static void (*abort_peers)(void);

fc_status fc_error_set(fc_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    /* One line on stderr is the contract: fold any newline a message picked up from a value. */
    for (char *p = error_message; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return code;
}

const char *fc_error_message(void) { return error_message; }

void fc_error_clear(void) { error_message[0] = '\0'; }

uint64_t fc_hash_bytes(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t rotate_left(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Every input bit reaches every output bit (the finaliser of SplitMix64). */
static uint64_t mix_bits(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t fc_hash_large(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    /* Each lane's step, xor a word then multiply by an odd constant then rotate, is a bijection of the lane:
     * two inputs that differ in one word leave that lane different, whatever follows. */
    const uint64_t odd = 0x9e3779b97f4a7c15ULL;
    uint64_t lane[4] = {seed ^ 1, seed ^ 2, seed ^ 3, seed ^ 4};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++) {
            uint64_t word;
            memcpy(&word, p + i + 8 * (size_t)j, sizeof word);
            lane[j] = rotate_left((lane[j] ^ word) * odd, 31);
        }
    uint64_t h = mix_bits(seed ^ (uint64_t)n) ^ (n > i ? fc_hash_bytes(p + i, n - i) : 0);
    for (int j = 0; j < 4; j++) h = mix_bits(h ^ lane[j]);
    return h;
}

void fc_format_real(char *buf, size_t size, double v)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

fc_size_text fc_format_size(double bytes)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB"};
    fc_size_text out;
    int u = 0;
    double v = bytes > 0 ? bytes : 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    /* Decided on the value as printed: 1023.6 KiB would print "1024 KiB" (1.00 MiB), 99.97 MiB "100.0 MiB". */
    if (v >= 1023.5 && u < 3) {
        v /= 1024;
        u++;
    }
    if (v >= 1e6) { /* sizes no machine has (a refused --hidden): %.0f would run past the buffer */
        snprintf(out.text, sizeof out.text, "%.3g %s", v, units[u]);
        return out;
    }
    const int decimals = u == 0 || v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2;
    snprintf(out.text, sizeof out.text, "%.*f %s", decimals, v, units[u]);
    return out;
}

void fc_file_size_limit_as_error(void) { signal(SIGXFSZ, SIG_IGN); }

fc_reason_text fc_errno_reason(int err)
{
    fc_reason_text out;
    struct rlimit limit;
    if (err == EFBIG && getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        snprintf(out.text, sizeof out.text, "%s (this process's file size limit, ulimit -f, is %s)", strerror(err),
                 fc_format_size((double)limit.rlim_cur).text);
    else if (err == EMFILE && getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        snprintf(out.text, sizeof out.text, "%s (this process's open-file limit, ulimit -n, is %llu)", strerror(err),
                 (unsigned long long)limit.rlim_cur);
    else
        snprintf(out.text, sizeof out.text, "%s", strerror(err));
    return out;
}

const char *fc_input_file_problem(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return strerror(errno);
    if (S_ISDIR(sb.st_mode)) return "is a directory";
    if (!S_ISREG(sb.st_mode)) return "not a regular file (a FIFO, socket or device)";
    return NULL;
}

int fc_sync_path(const char *name, int directory)
{
    int fd = open(name, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return errno;
    int err = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return err;
}

void fc_log_set_rank(int rank, int size)
{
    log_rank = rank;
    log_size = size;
}


/* The errno of the first write or flush of standard output that failed (0: none, or none said why): the report
 * of a command that failed to reach a closed file or a full disk is named with its reason, also when the flush
 * that failed was an earlier one and the last finds nothing left to write, or when nothing was buffered
 * (`stdbuf -o0`: the write itself fails, and no flush can say why). */
static int stdout_errno;

static void note_stdout_failure(int failed)
{
    if (failed && stdout_errno == 0) stdout_errno = errno;
}

void fc_flush_stdout(void)
{
    errno = 0;
    note_stdout_failure(fflush(stdout) != 0);
}

static void vprint_stdout(const char *fmt, va_list ap)
{
    errno = 0;
    note_stdout_failure(vprintf(fmt, ap) < 0);
}

void fc_print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_stdout(fmt, ap);
    va_end(ap);
}

int fc_stdout_errno(void)
{
    return stdout_errno;
}

static int hold_line(const char *line, int to_stdout);

void fc_log_info(const char *fmt, ...)
{
    if (log_rank != 0) return;
    char buf[MESSAGE_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    strcat(buf, "\n");
    if (hold_line(buf, 1)) return;
    fc_print("%s", buf);
    fc_flush_stdout();
}

static void format_line(char *buf, size_t size, const char *kind, const char *fmt, va_list ap)
{
    char line[MESSAGE_MAX + 64];
    vsnprintf(line, sizeof line, fmt, ap);
    if (log_size > 1)
        snprintf(buf, size, "fcnet_dist: [rank %d/%d] %s: %s\n", log_rank, log_size, kind, line);
    else
        snprintf(buf, size, "fcnet_dist: %s: %s\n", kind, line);
}

static void log_stderr(const char *kind, const char *fmt, va_list ap)
{
    char buf[MESSAGE_MAX + 128];
    format_line(buf, sizeof buf, kind, fmt, ap);
    fputs(buf, stderr);
    fflush(stderr);
}

void fc_log_format(char *buf, size_t size, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_line(buf, size, kind, fmt, ap);
    va_end(ap);
}

int fc_log_rank(void) { return log_rank; }

/* Lines held by fc_log_hold_messages until fc_log_release_messages, each with its stream; past HELD_MAX (or
 * without memory) a line is printed at once. */
enum { HELD_MAX = 16 };
static char *held[HELD_MAX];
static int held_stdout[HELD_MAX];
static int holding = 0, n_held = 0;

/* 1 when line (newline included) is held for later, else 0: print it now. */
static int hold_line(const char *line, int to_stdout)
{
    if (!holding || n_held == HELD_MAX || (held[n_held] = strdup(line)) == NULL) return 0;
    held_stdout[n_held++] = to_stdout;
    return 1;
}

void fc_log_hold_messages(void) { holding = 1; }

void fc_log_release_messages(int print)
{
    for (int i = 0; i < n_held; i++) {
        if (print && held_stdout[i]) fc_print("%s", held[i]);
        if (print && !held_stdout[i]) fputs(held[i], stderr);
        free(held[i]);
        held[i] = NULL;
    }
    if (print && n_held > 0) {
        fc_flush_stdout();
        fflush(stderr);
    }
    holding = n_held = 0;
}

void fc_log_warn(const char *fmt, ...)
{
    char buf[MESSAGE_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    format_line(buf, sizeof buf, "warning", fmt, ap);
    va_end(ap);
    if (hold_line(buf, 0)) return;
    fputs(buf, stderr);
    fflush(stderr);
}

void fc_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_stderr("error", fmt, ap);
    va_end(ap);
}

void fc_set_abort_peers(void (*hook)(void)) { abort_peers = hook; }

/* Ends this process, and through abort_peers every rank. Alone, abort() itself: a debugger stops at the failing
 * frame and a core file can be written, where MPI_Abort would only exit with status 1. */
static _Noreturn void abort_job(void)
{
    if (abort_peers) abort_peers();
    abort();
}

_Noreturn void fc_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "fcnet_dist: rank %d/%d %s:%d: assertion failed: %s\n", log_rank, log_size, file, line,
            expr);
    fflush(stderr);
    abort_job();
}

void *fc_alloc(size_t n_bytes)
{
    alloc_calls++;
    size_t rounded = (n_bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) {
        fc_log_error("out of memory allocating %zu bytes", n_bytes); /* a stack buffer: no allocation */
        abort_job();
    }
    memset(p, 0, rounded); /* touch every page now, not inside a training step */
    return p;
}

void fc_free(void *p) { free(p); }

size_t fc_alloc_count(void) { return alloc_calls; }
