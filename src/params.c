#include "fcnet/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fc_layout_init(fc_layout *layout) { memset(layout, 0, sizeof *layout); }

void fc_layout_free(fc_layout *layout)
{
    free(layout->views);
    memset(layout, 0, sizeof *layout);
}

int fc_layout_add(fc_layout *layout, const char *name, int rows, int cols, int decay)
{
    FC_ASSERT(rows >= 1 && cols >= 1 && strlen(name) < FC_VIEW_NAME_MAX);
    if (layout->n_views == layout->capacity) {
        int cap = layout->capacity ? 2 * layout->capacity : 16;
        fc_view *grown = realloc(layout->views, (size_t)cap * sizeof *grown);
        FC_ASSERT(grown != NULL);
        layout->views = grown;
        layout->capacity = cap;
    }
    fc_view *v = &layout->views[layout->n_views];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->rows = rows;
    v->cols = cols;
    v->decay = decay;
    v->offset = layout->n_total;
    size_t size = fc_view_size(v);
    layout->n_total += (size + FC_ARENA_ALIGN - 1) / FC_ARENA_ALIGN * FC_ARENA_ALIGN;
    return layout->n_views++;
}

int fc_layout_find(const fc_layout *layout, const char *name)
{
    for (int i = 0; i < layout->n_views; i++)
        if (strcmp(layout->views[i].name, name) == 0) return i;
    return -1;
}

fc_real *fc_arena_alloc(const fc_layout *layout)
{
    return fc_alloc((layout->n_total ? layout->n_total : 1) * sizeof(fc_real));
}
