/* Parsers for the raw formats fcnet_convert reads: IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary
 * batches. Every input may be gzip-compressed or plain (zlib reads both). Failures return FC_ERR_INPUT
 * with a one-line message "<file>: <reason>" (fc_error_message). */
#ifndef FCNET_DATASETS_READERS_H
#define FCNET_DATASETS_READERS_H

#include <stdint.h>

#include "fcnet/common.h"

/* n images of d uint8 pixels, or n labels (d == 1), in file order. */
typedef struct fc_raw {
    int64_t n;
    int d;
    int rows, cols; /* IDX images only: the image shape (rows * cols == d) */
    uint8_t *data;  /* owned (n, d), malloc'ed */
} fc_raw;

/* Reads an IDX3 image file (magic 0x00000803: n, rows, cols, then n*rows*cols bytes). */
fc_status fc_idx_read_images(fc_raw *images, const char *path);
/* Reads an IDX1 label file (magic 0x00000801: n, then n bytes), each label < n_classes. */
fc_status fc_idx_read_labels(fc_raw *labels, const char *path, int n_classes);

/* Reads a CIFAR-10 binary batch (records of 1 label byte + 3072 pixel bytes, channel-major R, G, B
 * planes of 32x32) and APPENDS its records to images (d = 3072) and labels (d = 1). Labels < 10. */
fc_status fc_cifar_read_batch(fc_raw *images, fc_raw *labels, const char *path);

void fc_raw_free(fc_raw *raw);

#endif
