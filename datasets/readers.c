/* IDX and CIFAR-10 binary parsing. Files are read whole through zlib (gzip or plain), then the
 * header is checked against the byte count, so truncation and trailing garbage in the data are both
 * caught. (Bytes after a gzip stream's end are zlib's to skip: the data inside is whole.) */
#include "readers.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CIFAR_PIXELS 3072
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10
/* No real IDX file comes near this; it bounds what a corrupt header can make us allocate. */
#define MAX_INPUT_BYTES ((size_t)1 << 34)

/* Reads all of path (decompressing gzip) into a malloc'ed buffer. */
static fc_status read_all(uint8_t **out, size_t *size, const char *path)
{
    *out = NULL;
    *size = 0;
    /* Only regular files: a FIFO would block the open for good and /dev/zero would be read for 16 GiB
     * before the size bound below refuses it, as fcnet_dist refuses them (fc_input_file_problem). */
    const char *problem = fc_input_file_problem(path);
    if (problem) return fc_error_set(FC_ERR_INPUT, "%s: cannot open: %s", path, problem);
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return fc_error_set(FC_ERR_INPUT, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, 1 << 18);
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    fc_status st = buf ? FC_OK : fc_error_set(FC_ERR_FAIL, "%s: out of memory", path);
    while (st == FC_OK) {
        if (len == cap) {
            if (cap >= MAX_INPUT_BYTES) {
                st = fc_error_set(FC_ERR_INPUT, "%s: larger than %zu bytes: not a dataset file", path, cap);
                break;
            }
            uint8_t *grown = realloc(buf, cap * 2);
            if (!grown) {
                st = fc_error_set(FC_ERR_FAIL, "%s: out of memory", path);
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t want = cap - len > (1u << 30) ? (1u << 30) : cap - len;
        int got = gzread(gz, buf + len, (unsigned)want);
        if (got < 0) {
            int errnum = 0;
            const char *msg = gzerror(gz, &errnum);
            /* zlib's message starts with the path ("F: incorrect data check"): named once is enough. */
            const size_t plen = strlen(path);
            if (strncmp(msg, path, plen) == 0 && msg[plen] == ':' && msg[plen + 1] == ' ') msg += plen + 2;
            st = fc_error_set(FC_ERR_INPUT, "%s: corrupt gzip data: %s",
                              path, errnum == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    /* A gzip stream cut short reads as a clean end of file; zlib reports it only here. */
    int rc = gzclose_r(gz);
    if (st == FC_OK && rc == Z_BUF_ERROR)
        st = fc_error_set(FC_ERR_INPUT, "%s: truncated gzip data (the compressed stream ends early)", path);
    else if (st == FC_OK && rc != Z_OK)
        st = fc_error_set(FC_ERR_INPUT, "%s: read error: %s", path,
                          rc == Z_ERRNO ? strerror(errno) : "zlib failure");
    if (st != FC_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *size = len;
    return FC_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks an IDX header of ndims dimensions holding unsigned bytes and that the data that follows is
 * exactly as long as the dimensions say; dims[] receives them. */
static fc_status idx_header(uint32_t dims[3], const uint8_t *buf, size_t size, const char *path, int ndims,
                            const char *what)
{
    const uint32_t want_magic = 0x800u | (uint32_t)ndims;
    if (size < 4)
        return fc_error_set(FC_ERR_INPUT, "%s: truncated: %zu bytes, too short for an IDX header", path, size);
    const uint32_t magic = be32(buf);
    if (buf[0] != 0 || buf[1] != 0)
        return fc_error_set(FC_ERR_INPUT, "%s: bad magic 0x%08x: not an IDX file (expected 0x%08x for %s)", path,
                            magic, want_magic, what);
    if (buf[2] != 0x08)
        return fc_error_set(FC_ERR_INPUT, "%s: bad magic 0x%08x: element type 0x%02x is not unsigned byte (0x08)",
                            path, magic, buf[2]);
    if (buf[3] != ndims)
        return fc_error_set(FC_ERR_INPUT, "%s: bad magic 0x%08x: %d dimensions, expected %d for %s", path, magic,
                            buf[3], ndims, what);
    const size_t header = 4 + 4 * (size_t)ndims;
    if (size < header)
        return fc_error_set(FC_ERR_INPUT, "%s: truncated: %zu bytes, the IDX header needs %zu", path, size,
                            header);
    uint64_t count = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        if (dims[i] == 0) return fc_error_set(FC_ERR_INPUT, "%s: dimension %d is 0", path, i);
        /* Compared before multiplying: three 32-bit dimensions can wrap a 64-bit product past the check. */
        if (dims[i] > MAX_INPUT_BYTES / count)
            return fc_error_set(FC_ERR_INPUT, "%s: dimensions too large for a dataset", path);
        count *= dims[i];
    }
    if (size - header < count)
        return fc_error_set(FC_ERR_INPUT,
                            "%s: truncated: the header promises %llu bytes of data, the file has %zu", path,
                            (unsigned long long)count, size - header);
    if (size - header > count)
        return fc_error_set(FC_ERR_INPUT,
                            "%s: %zu trailing bytes after the %llu bytes of data the header promises", path,
                            size - header - (size_t)count, (unsigned long long)count);
    return FC_OK;
}

fc_status fc_idx_read_images(fc_raw *images, const char *path)
{
    memset(images, 0, sizeof *images);
    uint8_t *buf;
    size_t size;
    fc_status st = read_all(&buf, &size, path);
    if (st != FC_OK) return st;
    uint32_t dims[3] = {0, 0, 0};
    st = idx_header(dims, buf, size, path, 3, "images");
    if (st == FC_OK && (uint64_t)dims[1] * dims[2] > INT_MAX)
        st = fc_error_set(FC_ERR_INPUT, "%s: images of %u x %u pixels: more features than a row holds", path,
                          (unsigned)dims[1], (unsigned)dims[2]);
    if (st == FC_OK) {
        images->n = dims[0];
        images->rows = (int)dims[1];
        images->cols = (int)dims[2];
        images->d = (int)((uint64_t)dims[1] * dims[2]);
        /* The data is already in row-major (n, rows*cols) order: slide it to the front. */
        memmove(buf, buf + 16, (size_t)images->n * (size_t)images->d);
        images->data = buf;
        return FC_OK;
    }
    free(buf);
    return st;
}

fc_status fc_idx_read_labels(fc_raw *labels, const char *path, int n_classes)
{
    memset(labels, 0, sizeof *labels);
    uint8_t *buf;
    size_t size;
    fc_status st = read_all(&buf, &size, path);
    if (st != FC_OK) return st;
    uint32_t dims[3] = {0, 0, 0};
    st = idx_header(dims, buf, size, path, 1, "labels");
    for (uint32_t i = 0; st == FC_OK && i < dims[0]; i++)
        if (buf[8 + i] >= n_classes)
            st = fc_error_set(FC_ERR_INPUT, "%s: label %d at index %u out of range [0, %d)", path, buf[8 + i], i,
                              n_classes);
    if (st != FC_OK) {
        free(buf);
        return st;
    }
    labels->n = dims[0];
    labels->d = 1;
    memmove(buf, buf + 8, dims[0]);
    labels->data = buf;
    return FC_OK;
}

/* Appends n rows of d bytes to raw, growing it. */
static fc_status raw_append(fc_raw *raw, int d, int64_t n, const char *path)
{
    FC_ASSERT(raw->n == 0 || raw->d == d);
    uint8_t *grown = realloc(raw->data, (size_t)(raw->n + n) * (size_t)d);
    if (!grown) return fc_error_set(FC_ERR_FAIL, "%s: out of memory", path);
    raw->data = grown;
    raw->d = d;
    return FC_OK;
}

fc_status fc_cifar_read_batch(fc_raw *images, fc_raw *labels, const char *path)
{
    uint8_t *buf;
    size_t size;
    fc_status st = read_all(&buf, &size, path);
    if (st != FC_OK) return st;
    const int64_t n = (int64_t)(size / CIFAR_RECORD);
    if (size == 0 || size % CIFAR_RECORD != 0)
        st = fc_error_set(FC_ERR_INPUT,
                          "%s: size %zu is not a positive multiple of %d-byte records (1 label + %d pixels): "
                          "truncated or not a CIFAR-10 batch",
                          path, size, CIFAR_RECORD, CIFAR_PIXELS);
    for (int64_t i = 0; st == FC_OK && i < n; i++)
        if (buf[(size_t)i * CIFAR_RECORD] >= CIFAR_CLASSES)
            st = fc_error_set(FC_ERR_INPUT,
                              "%s: label %d in record %lld out of range [0, %d): not a CIFAR-10 batch", path,
                              buf[(size_t)i * CIFAR_RECORD], (long long)i, CIFAR_CLASSES);
    if (st == FC_OK) st = raw_append(images, CIFAR_PIXELS, n, path);
    if (st == FC_OK) st = raw_append(labels, 1, n, path);
    if (st == FC_OK) {
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *rec = buf + (size_t)i * CIFAR_RECORD;
            labels->data[labels->n + i] = rec[0];
            memcpy(images->data + (size_t)(images->n + i) * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
        }
        images->n += n;
        labels->n += n;
        images->rows = images->cols = 0;
    }
    free(buf);
    return st;
}

void fc_raw_free(fc_raw *raw)
{
    if (!raw) return;
    free(raw->data);
    memset(raw, 0, sizeof *raw);
}
