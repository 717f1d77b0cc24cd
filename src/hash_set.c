/* See hash_set.h. Linear probing, FNV-1a for strings, a multiplicative mix for pointers; the
 * table doubles at half full. */
#include "hash_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t hash_of(const rnn_hash_set *s, const void *key) {
    uint64_t h;
    if (s->strings) {
        h = 1469598103934665603ull;
        for (const unsigned char *p = key; *p; p++) h = (h ^ *p) * 1099511628211ull;
    } else {
        h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    return (size_t)h;
}

static int same(const rnn_hash_set *s, const void *a, const void *b) {
    return s->strings ? strcmp(a, b) == 0 : a == b;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const rnn_hash_set *s, const void *key) {
    size_t i = hash_of(s, key) & (s->cap - 1);
    while (s->slots[i] && !same(s, s->slots[i], key)) i = (i + 1) & (s->cap - 1);
    return i;
}

int rnn__set_has(const rnn_hash_set *s, const void *key) {
    return s->cap && s->slots[find(s, key)] != NULL;
}

int rnn__set_add(rnn_hash_set *s, const void *key) {
    if (2 * (s->count + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        const void **old = s->slots;
        size_t old_cap = s->cap;
        s->slots = calloc(cap, sizeof *s->slots);
        if (!s->slots) {
            s->slots = old;
            return -1;
        }
        s->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i]) s->slots[find(s, old[i])] = old[i];
        free(old);
    }
    size_t i = find(s, key);
    if (s->slots[i]) return 1;
    s->slots[i] = key;
    s->count++;
    return 0;
}

void rnn__set_free(rnn_hash_set *s) {
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}
