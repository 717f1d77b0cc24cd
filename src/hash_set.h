/* Small open-addressing sets for the model's bookkeeping (layer names, visited layers), so that
 * building or loading a model of n layers costs O(n), not O(n^2): a 20,000-layer config took
 * seconds when every new layer was compared with every earlier one. Keys are borrowed: the
 * caller keeps them alive while they are in the set. */
#ifndef RNN_HASH_SET_H
#define RNN_HASH_SET_H

#include <stddef.h>

typedef struct {
    const void **slots;
    size_t cap, count; /* cap is a power of two, or 0 */
    int strings;       /* keys are NUL-terminated strings, else pointers compared as such */
} rnn_hash_set;

static inline void rnn__set_init_strings(rnn_hash_set *s) { *s = (rnn_hash_set){0, 0, 0, 1}; }
static inline void rnn__set_init_pointers(rnn_hash_set *s) { *s = (rnn_hash_set){0, 0, 0, 0}; }
/* 1 when key was there already, 0 when it was added, -1 when memory ran out. */
int rnn__set_add(rnn_hash_set *s, const void *key);
int rnn__set_has(const rnn_hash_set *s, const void *key);
void rnn__set_free(rnn_hash_set *s);

#endif
