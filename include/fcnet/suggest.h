/* "Did you mean": the known name nearest to a misspelt one, for fcnet_dist's options and INI keys and the dataset
 * tools' flags, so that every program offers the same near misses and none of the far ones. */
#ifndef FCNET_SUGGEST_H
#define FCNET_SUGGEST_H

#include <stddef.h>

/* Index k of the name nearest to word[0..len), comparing names[k] + skip (skip 2 leaves out a "--" the word was
 * given without), or -1 when the nearest is no near miss. Near: at most 2 edits (insert, delete or replace a
 * character: Levenshtein distance), and fewer edits than word has characters, so that a short word rewritten
 * whole is not offered whatever name it happens to be as far from. Of equally near names, the first. Names and
 * words longer than 63 characters are never near. */
int fc_nearest_name(const char *word, size_t len, const char *const names[], int n, size_t skip);

#endif
