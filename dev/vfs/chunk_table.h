/* Where a file's chunks are: a table in two levels, so that a file costs what it holds.
   Leaf 0 (file_data.chunks) has the slots of chunks 0..LEAF_SLOTS-1 and grows by doubling
   as a small file grows, as one dense array did before: fixed leaves would add 4 KiB to
   every file between 64 KiB and 64 MiB. A leaf 0 of one slot is the inode's own slot0, so
   a file of up to 64 KiB takes no block for its table (its alloc and free were most of
   what the table added to a small file's create and unlink), and a truncation keeps it.
   Past it, the top array (file_data.far) has one entry per 64 MiB of offset, each NULL or
   a far leaf of LEAF_SLOTS slots; a far leaf exists only while it holds a chunk. One byte
   written at 1 TiB takes a 64 KiB top array, a 4 KiB leaf and the chunk (with one dense
   array: a 64 MiB one), and a truncation looks at each top-array entry and at the slots of
   the leaves that exist, never at each 64 KiB of offset.

   Readers under the VFS lock shared read a file while its writer (the lock shared, and the
   file's data mutex if another fd could write) adds leaves and chunks: at every level a new
   block is zeroed before a release store makes it reachable (an array and its length by
   exchanges, the array first), and readers load level by level with acquire. Memory a
   reader may hold (a leaf 0 or a top array replaced by a larger one) is replaced only where
   no reader can be: with the lock exclusive (table_in_place tells a writer whether its
   change needs that), or by the file's only holder while its count says OPEN_EMPTYING
   (ftruncate and fallocate under the lock shared: inode_begin_emptying_shared), which is
   also where truncations (table_truncate) run. A new leaf in an empty top-array entry, the
   first top array, and a leaf 0 replacing one that holds no chunk (none, or slot0 empty)
   lose a reader nothing and so need only the shared lock. */
#ifndef VFS_CHUNK_TABLE_H
#define VFS_CHUNK_TABLE_H

#include "base/alloc.h"
#include "vfs/vfs.h"
#include "base/stop_test.h"

#define LEAF_SHIFT 10
#define LEAF_SLOTS (1u << LEAF_SHIFT)
#define NO_CHUNK UINT32_MAX

/* A block for a writer holding the lock shared (shared: its holder, whose block cache
   serves small blocks, alloc.h), or under the lock exclusive (shared NULL). */
static inline void *block_take(struct lock_holder *shared, uint32_t size) {
    return shared ? mem_alloc_shared(shared, size) : mem_alloc(size);
}

static inline void block_put(struct lock_holder *shared, void *p, uint32_t size) {
    if (shared) mem_free_shared(shared, p, size);
    else mem_free(p, size);
}

/* Blocks taken but not yet placed, linked through their first bytes. */
struct spare_block { struct spare_block *next; };

/* One more block of size on the list; false: none to take. */
static inline bool spare_add(struct spare_block **list, struct lock_holder *shared, uint32_t size) {
    struct spare_block *b = block_take(shared, size);
    if (!b) return false;
    b->next = *list;
    *list = b;
    return true;
}

/* The list's first block, off it (the list is not empty). */
static inline void *spare_next(struct spare_block **list) {
    struct spare_block *b = *list;
    *list = b->next;
    return b;
}

static inline void spare_free_all(struct spare_block **list, struct lock_holder *shared, uint32_t size) {
    while (*list) block_put(shared, spare_next(list), size);
}

/* What the table needs to cover a range of chunks, taken before the file changes. */
struct table_growth {
    uint8_t **leaf0;          /* a new, larger leaf 0, or NULL */
    uint32_t leaf0_slots;
    uint8_t ***far;           /* a new, larger top array, or NULL */
    uint32_t far_count;
    struct spare_block *leaves; /* one per far leaf the range needs and the file lacks */
};

/* The writer's questions, with plain loads (only it changes the table meanwhile). Each is
   answered inline for a range inside leaf 0 as it is: every write of a small file asks
   both, and a call into this file cost more than the answer (wasm operations per pwrite of
   16 bytes: 869 with one dense array, 892 with these out of line, 858 inline). */
uint32_t table_missing_far(const struct file_data *f, uint32_t first, uint32_t last, uint32_t limit);
bool table_in_place_far(const struct file_data *f, uint32_t first, uint32_t last);

/* Chunks in [first, last] that do not exist, counting no further than limit + 1. */
static inline uint32_t table_missing(const struct file_data *f, uint32_t first, uint32_t last, uint32_t limit) {
    if (first > last) return 0;
    if (last >= f->chunk_slots) return table_missing_far(f, first, last, limit);
    uint32_t n = 0;
    for (uint32_t i = first; i <= last && n <= limit; i++) n += !f->chunks[i];
    return n;
}

/* Whether covering chunks first..last replaces nothing a reader may hold: nothing does
   inside leaf 0 as it is, or for a file without a table. */
static inline bool table_in_place(const struct file_data *f, uint32_t first, uint32_t last) {
    return last < f->chunk_slots || (!f->chunk_slots && !f->far_count) || table_in_place_far(f, first, last);
}

/* The slots leaf 0 has, or the one (slot0) that a file without leaf 0 starts with. */
static inline uint32_t table_leaf0_start(const struct file_data *f) { return f->chunk_slots ? f->chunk_slots : 1; }

/* Takes what covering chunks first..last needs (nothing changes); ENOSPC: nothing taken.
   Inside leaf 0 as it is or starts, which a small file's every write is, there is nothing
   to take (at most slot0 to publish): answered inline, as a call cost more than that
   (operations per O_TRUNC rewrite of 100 bytes: 2942 with the call, 2894 inline). */
errno_t table_reserve_far(const struct file_data *f, uint32_t first, uint32_t last, struct table_growth *g,
                          struct lock_holder *shared);
static inline errno_t table_reserve(const struct file_data *f, uint32_t first, uint32_t last,
                                    struct table_growth *g, struct lock_holder *shared) {
    uint32_t slots = table_leaf0_start(f);
    if (last >= slots) return table_reserve_far(f, first, last, g, shared);
    mem_zero(g, sizeof *g);
    if (slots != f->chunk_slots) g->leaf0_slots = slots;
    return E_SUCCESS;
}
void table_release(struct table_growth *g, struct lock_holder *shared);
/* Puts g in place: afterwards every chunk in first..last has a slot, and g is empty. A
   growth with nothing in it (a small file's write inside leaf 0) makes no call. */
void table_commit_far(struct file_data *f, uint32_t first, uint32_t last, struct table_growth *g,
                      struct lock_holder *shared);
static inline void table_commit(struct file_data *f, uint32_t first, uint32_t last, struct table_growth *g,
                                struct lock_holder *shared) {
    if (g->leaf0_slots || g->far || g->leaves) table_commit_far(f, first, last, g, shared);
}

/* Chunk i, or NULL (a hole); safe for readers under the lock shared. Leaf 0 is looked at
   here, inline: every small read and write goes through it. */
uint8_t *table_far_chunk(const struct file_data *f, uint32_t i);
static inline uint8_t *table_chunk(const struct file_data *f, uint32_t i) {
    if (i < __atomic_load_n(&f->chunk_slots, __ATOMIC_ACQUIRE)) /* at most LEAF_SLOTS */
        return __atomic_load_n(&__atomic_load_n(&f->chunks, __ATOMIC_ACQUIRE)[i], __ATOMIC_ACQUIRE);
    return i < LEAF_SLOTS ? NULL : table_far_chunk(f, i);
}

/* The writer's: the slot of chunk i, NULL if no leaf has one. */
uint8_t **table_far_slot(struct file_data *f, uint32_t i);
static inline uint8_t **table_slot(struct file_data *f, uint32_t i) {
    if (i >= LEAF_SLOTS) return table_far_slot(f, i);
    return i < f->chunk_slots ? &f->chunks[i] : NULL;
}

/* The writer's: chunk, zeroed or fully written, into chunk i's empty slot (release). */
void table_place(struct file_data *f, uint32_t i, uint8_t *chunk);
/* The first chunk at or after i that exists, or NO_CHUNK; the first one that does not. */
uint32_t table_next_chunk(const struct file_data *f, uint32_t i);
uint32_t table_next_hole(const struct file_data *f, uint32_t i);
/* A small file's table: leaf 0 of one slot (slot0) at most, no far leaves. */
static inline bool table_small(const struct file_data *f) { return f->chunk_slots <= 1 && !f->far_count; }

/* Gives back chunk 0 (first_cap bytes) from its slot; first_cap goes to 0 with it. The
   slot is emptied first (free_slots says why). */
static inline void table_free_chunk0(struct file_data *f, uint8_t **slot, struct lock_holder *shared) {
    uint8_t *chunk = *slot;
    uint32_t cap = f->first_cap;
    *slot = NULL;
    __atomic_store_n(&f->first_cap, 0, __ATOMIC_RELAXED); /* reclaim.c reads it */
    block_put(shared, chunk, cap);
    STOP_TEST(STOP_CHUNK0_FREED, shared); /* as at mem_free_shared's unlock (past 512 bytes) */
}

/* Frees every chunk from keep on and the far leaves left empty; leaf 0 and the top array
   shrink when twice as large as keep needs. keep 0 leaves at most leaf 0 of one slot
   (slot0, no block). A small file's, which an O_TRUNC of it and its free meet, is inline:
   only its chunk 0 can go (operations per O_TRUNC rewrite of 100 bytes: 2894 with the
   call, 2849 inline). */
void table_truncate_far(struct file_data *f, uint32_t keep, struct lock_holder *shared);
static inline void table_truncate(struct file_data *f, uint32_t keep, struct lock_holder *shared) {
    if (!table_small(f)) table_truncate_far(f, keep, shared);
    else if (!keep && f->slot0) table_free_chunk0(f, &f->slot0, shared);
}

/* Frees the whole table and its chunks, lock exclusive: the file is being freed. */
void table_free_far(struct file_data *f);
static inline void table_free(struct file_data *f) {
    if (table_small(f)) table_truncate(f, 0, NULL); /* chunk 0 is all it holds */
    else table_free_far(f);
}

/* At most what the file's table and chunks hold, from counts only: reclaim.c weighs a dead
   file that an fd may still be writing or truncating. A small file, which every unlink of
   one weighs, weighs its chunk 0: answered inline (26 operations less per create, write,
   close and unlink than the call). */
uint64_t table_weight_far(const struct file_data *f);
static inline uint64_t table_weight(const struct file_data *f) {
    if (__atomic_load_n(&f->chunk_slots, __ATOMIC_SEQ_CST) > 1 || __atomic_load_n(&f->far_count, __ATOMIC_SEQ_CST))
        return table_weight_far(f);
    return __atomic_load_n(&f->first_cap, __ATOMIC_RELAXED);
}
/* Inconsistencies, for fsck: a chunk or a far leaf at or past chunk keep (the truncation
   that should have freed it did not), a far leaf without chunks, counts that disagree. */
uint32_t table_check(const struct file_data *f, uint32_t keep);

#endif
