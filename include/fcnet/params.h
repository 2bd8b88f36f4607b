/* One layout, several arenas: parameter values, gradients and each optimizer slot share the layout,
 * so the gradient reduction is one buffer and an optimizer is one loop. Views never own memory. */
#ifndef FCNET_PARAMS_H
#define FCNET_PARAMS_H

#include "fcnet/common.h"

#define FC_VIEW_NAME_MAX 24
#define FC_ARENA_ALIGN 16 /* views start on 16-element boundaries (64 bytes in float) */

typedef struct fc_view {
    char name[FC_VIEW_NAME_MAX]; /* "W1", "gamma2", "running_mean1": HDF5 name and test label */
    size_t offset;               /* elements from the arena base, FC_ARENA_ALIGN aligned       */
    int rows, cols;              /* cs231n shape; vectors: rows == 1, decay 0, stored 1-D      */
    int decay;                   /* 1 when L2 applies (weights only)                           */
} fc_view;

typedef struct fc_layout {
    fc_view *views; /* owned, n_views entries */
    int n_views;
    int capacity;
    size_t n_total; /* arena size in elements, including alignment padding */
} fc_layout;

void fc_layout_init(fc_layout *layout);
void fc_layout_free(fc_layout *layout);
/* Appends a view and returns its index. A vector is added with rows == 1. */
int fc_layout_add(fc_layout *layout, const char *name, int rows, int cols, int decay);
/* Index of the view called name, or -1. */
int fc_layout_find(const fc_layout *layout, const char *name);
static inline size_t fc_view_size(const fc_view *v) { return (size_t)v->rows * (size_t)v->cols; }
/* A vector (bias, gamma, beta, running statistic): stored 1-D. A weight keeps its two axes even at fan-in 1. */
static inline int fc_view_is_vector(const fc_view *v) { return v->rows == 1 && !v->decay; }

/* An arena for layout: n_total zeroed elements (padding stays zero forever). Free with fc_free. */
fc_real *fc_arena_alloc(const fc_layout *layout);

#endif
