/*
 * arena.c: bump allocation for one compilation's AST, strings and tables.
 * Freed all at once (alc_arena_free); the searcher copies a tree it keeps
 * into a fresh arena instead of freeing nodes one by one.
 */
#include <stdlib.h>

#include "alc_common.h"

struct alc_arena_block {
    struct alc_arena_block *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    _Alignas(16) unsigned char data[];
};

void alc_arena_init(struct alc_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->used_total = 0;
}

void alc_arena_free(struct alc_arena *a)
{
    struct alc_arena_block *b = a->head;
    while (b != NULL) {
        struct alc_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void *alc_arena_alloc(struct alc_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) {
        n = 16;
    }
    struct alc_arena_block *b = a->head;
    if (b == NULL || b->size - b->used < n) {
        size_t size = a->block_size > n ? a->block_size : n;
        b = malloc(sizeof *b + size);
        if (b == NULL) {
            return NULL;
        }
        b->size = size;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

char *alc_arena_strndup(struct alc_arena *a, const char *s, size_t n)
{
    char *p = alc_arena_alloc(a, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *alc_arena_strdup(struct alc_arena *a, const char *s)
{
    return alc_arena_strndup(a, s, strlen(s));
}
