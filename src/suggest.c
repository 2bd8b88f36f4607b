/* The nearest known name to a misspelt one (suggest.h). */
#include "fcnet/suggest.h"

#include <stdint.h>
#include <string.h>

#define MAX_NAME 63

/* Levenshtein distance between a[0..la) and b, in one row of the table; SIZE_MAX past MAX_NAME characters. */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b), row[MAX_NAME + 1];
    if (la > MAX_NAME || lb > MAX_NAME) return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

int fc_nearest_name(const char *word, size_t len, const char *const names[], int n, size_t skip)
{
    int best = -1;
    size_t best_d = SIZE_MAX;
    for (int k = 0; k < n; k++) {
        size_t d = edit_distance(word, len, names[k] + skip);
        if (d < best_d) best_d = d, best = k;
    }
    /* Two edits catch a transposition (btach) without suggesting unrelated short names. */
    return best >= 0 && best_d <= 2 && best_d < len ? best : -1;
}
