/* The two-level table of a file's chunks: leaf 0 growing by doubling, then a top array of
   fixed leaves (chunk_table.h says why, and how readers stay safe while it grows). */
#include "vfs/chunk_table.h"
#include "base/stop_test.h"

#define LEAF_BYTES (LEAF_SLOTS * (uint32_t)sizeof(uint8_t *))
/* Far leaves the largest file can have: its last chunk is below 2^28. */
#define MAX_FAR ((uint32_t)((MAX_FILE_SIZE - 1) >> (CHUNK_SHIFT + LEAF_SHIFT)))

static uint32_t pointer_bytes(uint32_t count) { return count * (uint32_t)sizeof(void *); }

static uint32_t leaf_index(uint32_t chunk) { return chunk >> LEAF_SHIFT; }

/* The block of a leaf 0 of slots: none for one slot, which is the file's own slot0, so a
   small file's first write takes no block for its table and its free gives none back. */
static uint32_t leaf0_bytes(uint32_t slots) { return slots > 1 ? pointer_bytes(slots) : 0; }

static void leaf0_put(uint8_t **leaf, uint32_t slots, struct lock_holder *shared) {
    if (leaf0_bytes(slots)) block_put(shared, leaf, leaf0_bytes(slots));
}

/* A count that only the file's one writer (or truncation) changes, while reclaim.c may
   read it in another thread. */
static void add_count(uint32_t *count, int32_t delta) {
    __atomic_store_n(count, __atomic_load_n(count, __ATOMIC_RELAXED) + (uint32_t)delta, __ATOMIC_RELAXED);
}

/* The leaf that has a slot for chunk i (*base: the leaf's first chunk; *count: its
   slots), or NULL. Each level is loaded with acquire after the count that bounds it: a writer
   under the lock shared publishes an array before its count, and a leaf or chunk only
   once zeroed. */
static uint8_t **leaf_at(const struct file_data *f, uint32_t i, uint32_t *base, uint32_t *count) {
    if (i < LEAF_SLOTS) {
        *base = 0;
        *count = __atomic_load_n(&f->chunk_slots, __ATOMIC_ACQUIRE);
        return i < *count ? __atomic_load_n(&f->chunks, __ATOMIC_ACQUIRE) : NULL;
    }
    *base = i & ~(LEAF_SLOTS - 1);
    *count = LEAF_SLOTS;
    uint32_t k = leaf_index(i) - 1;
    if (k >= __atomic_load_n(&f->far_count, __ATOMIC_ACQUIRE)) return NULL;
    return __atomic_load_n(&__atomic_load_n(&f->far, __ATOMIC_ACQUIRE)[k], __ATOMIC_ACQUIRE);
}

uint8_t *table_far_chunk(const struct file_data *f, uint32_t i) {
    uint32_t base, count;
    uint8_t **leaf = leaf_at(f, i, &base, &count);
    return leaf ? __atomic_load_n(&leaf[i - base], __ATOMIC_ACQUIRE) : NULL;
}

uint8_t **table_far_slot(struct file_data *f, uint32_t i) {
    uint32_t base, count;
    uint8_t **leaf = leaf_at(f, i, &base, &count);
    return leaf ? &leaf[i - base] : NULL;
}

void table_place(struct file_data *f, uint32_t i, uint8_t *chunk) {
    __atomic_store_n(table_slot(f, i), chunk, __ATOMIC_RELEASE); /* rare: once per chunk */
    if (i >= LEAF_SLOTS) add_count(&f->far_chunks, 1);
}

uint32_t table_missing_far(const struct file_data *f, uint32_t first, uint32_t last, uint32_t limit) {
    uint64_t n = 0;
    for (uint32_t i = first; i <= last && n <= limit;) {
        uint32_t base, count;
        uint8_t **leaf = leaf_at(f, i, &base, &count);
        uint32_t end = base + LEAF_SLOTS - 1 < last ? base + LEAF_SLOTS - 1 : last;
        if (!leaf) n += end - i + 1; /* a leaf that does not exist: all of it, at once */
        for (uint32_t s = i; leaf && s <= end && n <= limit; s++) n += s - base >= count || !leaf[s - base];
        if (end == last) break;
        i = end + 1;
    }
    return n > limit ? limit + 1 : (uint32_t)n;
}

/* Slots leaf 0 needs to hold chunk last (all of its own, when last is further out). */
static uint32_t leaf0_slots_for(const struct file_data *f, uint32_t last) {
    uint32_t top = last < LEAF_SLOTS ? last : LEAF_SLOTS - 1;
    uint32_t count = table_leaf0_start(f);
    while (count <= top) count *= 2;
    return count;
}

/* The whole block the allocator gives for count entries: what it costs anyway. */
static uint32_t fit(uint32_t count) {
    uint32_t entries = mem_block_size(pointer_bytes(count)) / (uint32_t)sizeof(void *);
    return entries < MAX_FAR ? entries : MAX_FAR;
}

/* Top-array entries needed to hold chunk last: at least twice as many as before, so
   appends past 64 MiB replace the array a logarithmic number of times. */
static uint32_t far_count_for(const struct file_data *f, uint32_t last) {
    uint32_t need = leaf_index(last); /* far[need - 1] is chunk last's leaf */
    if (need <= f->far_count) return f->far_count;
    return fit(f->far_count * 2 > need ? f->far_count * 2 : need);
}

/* A leaf 0 that holds no chunk: none, or slot0 empty (slot0 lives as long as the inode, and
   a reader that loaded it finds a hole there, as before the write). */
static bool leaf0_empty(const struct file_data *f) { return f->chunk_slots <= 1 && !f->slot0; }

bool table_in_place_far(const struct file_data *f, uint32_t first, uint32_t last) {
    bool leaf0 = first >= LEAF_SLOTS || leaf0_empty(f) || leaf0_slots_for(f, last) == f->chunk_slots;
    return leaf0 && (!f->far_count || far_count_for(f, last) == f->far_count);
}

/* Far leaves of chunks first..last, as leaf numbers: from the first one's (at least 1). */
static uint32_t first_far(uint32_t first) { return leaf_index(first) ? leaf_index(first) : 1; }

static bool has_leaf(const struct file_data *f, uint32_t j) { return j <= f->far_count && f->far[j - 1]; }

errno_t table_reserve_far(const struct file_data *f, uint32_t first, uint32_t last, struct table_growth *g,
                          struct lock_holder *shared) {
    mem_zero(g, sizeof *g);
    uint32_t leaf0_slots = first < LEAF_SLOTS ? leaf0_slots_for(f, last) : f->chunk_slots;
    if (leaf0_slots != f->chunk_slots) {
        g->leaf0_slots = leaf0_slots;
        if (leaf0_bytes(leaf0_slots) && !(g->leaf0 = block_take(shared, leaf0_bytes(leaf0_slots)))) goto fail;
    }
    if (last < LEAF_SLOTS) return E_SUCCESS; /* a small file's: no far leaf */
    if (far_count_for(f, last) != f->far_count) {
        g->far_count = far_count_for(f, last);
        if (!(g->far = block_take(shared, pointer_bytes(g->far_count)))) goto fail;
    }
    /* As many as the range has chunks missing at most: the caller checked the budget. */
    for (uint32_t j = first_far(first); j <= leaf_index(last); j++) {
        if (!has_leaf(f, j) && !spare_add(&g->leaves, shared, LEAF_BYTES)) goto fail;
    }
    return E_SUCCESS;
fail:
    table_release(g, shared);
    return E_NOSPC;
}

void table_release(struct table_growth *g, struct lock_holder *shared) {
    leaf0_put(g->leaf0, g->leaf0_slots, shared);
    block_put(shared, g->far, pointer_bytes(g->far_count));
    spare_free_all(&g->leaves, shared, LEAF_BYTES);
    mem_zero(g, sizeof *g);
}

/* Leaf 0 replaced by leaf (of slots, holding the first ones of the old), and the old one
   given back: the array, then its length, so that a reader bounds its index by the length
   it loaded. Under the lock shared only where the old one held no chunk (table_in_place) or
   by the file's only holder, so no reader loses a chunk. slot0 is cleared when it stops
   being leaf 0, so that a chunk's pointer is in one place (fsck checks it). */
static void replace_leaf0(struct file_data *f, uint8_t **leaf, uint32_t slots, struct lock_holder *shared) {
    uint8_t **old = f->chunks;
    uint32_t old_count = f->chunk_slots;
    (void)__atomic_exchange_n(&f->chunks, leaf, __ATOMIC_SEQ_CST);
    (void)__atomic_exchange_n(&f->chunk_slots, slots, __ATOMIC_SEQ_CST);
    if (old == &f->slot0) __atomic_store_n(&f->slot0, NULL, __ATOMIC_RELAXED); /* a reader may load it */
    leaf0_put(old, old_count, shared);
}

static void publish_leaf0(struct file_data *f, struct table_growth *g, struct lock_holder *shared) {
    uint8_t **leaf = g->leaf0 ? g->leaf0 : &f->slot0;
    mem_copy(leaf, f->chunks, pointer_bytes(f->chunk_slots));
    mem_zero(leaf + f->chunk_slots, pointer_bytes(g->leaf0_slots - f->chunk_slots));
    replace_leaf0(f, leaf, g->leaf0_slots, shared);
}

static void publish_far(struct file_data *f, struct table_growth *g, struct lock_holder *shared) {
    mem_copy(g->far, f->far, pointer_bytes(f->far_count));
    mem_zero(g->far + f->far_count, pointer_bytes(g->far_count - f->far_count));
    uint8_t ***old = f->far;
    uint32_t old_count = f->far_count;
    (void)__atomic_exchange_n(&f->far, g->far, __ATOMIC_SEQ_CST);
    (void)__atomic_exchange_n(&f->far_count, g->far_count, __ATOMIC_SEQ_CST);
    block_put(shared, old, pointer_bytes(old_count));
}

void table_commit_far(struct file_data *f, uint32_t first, uint32_t last, struct table_growth *g,
                      struct lock_holder *shared) {
    if (g->leaf0_slots) publish_leaf0(f, g, shared);
    if (g->far) publish_far(f, g, shared);
    for (uint32_t j = first_far(first); g->leaves && j <= leaf_index(last); j++) {
        if (f->far[j - 1]) continue;
        void *b = spare_next(&g->leaves);
        mem_zero(b, LEAF_BYTES); /* a reader may follow it at once: its slots must be empty */
        __atomic_store_n(&f->far[j - 1], (uint8_t **)b, __ATOMIC_RELEASE);
        add_count(&f->far_leaves, 1);
    }
    mem_zero(g, sizeof *g);
}

/* One past the last chunk the table has a slot for, as it is now. */
static uint32_t table_end(const struct file_data *f) {
    uint32_t far = __atomic_load_n(&f->far_count, __ATOMIC_ACQUIRE);
    return far ? (far + 1) << LEAF_SHIFT : LEAF_SLOTS;
}

/* Leaves that do not exist are skipped whole: a sparse file costs a look at each top-array
   entry (one per 64 MiB) and at the slots of the leaves it has. */
uint32_t table_next_chunk(const struct file_data *f, uint32_t i) {
    for (uint32_t end = table_end(f); i < end;) {
        uint32_t base, count;
        uint8_t **leaf = leaf_at(f, i, &base, &count);
        for (uint32_t s = i - base; leaf && s < count; s++)
            if (__atomic_load_n(&leaf[s], __ATOMIC_ACQUIRE)) return base + s;
        i = base + LEAF_SLOTS;
    }
    return NO_CHUNK;
}

uint32_t table_next_hole(const struct file_data *f, uint32_t i) {
    for (;;) {
        uint32_t base, count;
        uint8_t **leaf = leaf_at(f, i, &base, &count);
        if (!leaf) return i;
        for (uint32_t s = i - base; s < count; s++)
            if (!__atomic_load_n(&leaf[s], __ATOMIC_ACQUIRE)) return base + s;
        if (count < LEAF_SLOTS) return base + count; /* past a short leaf 0 */
        i = base + LEAF_SLOTS;
    }
}

/* Frees the chunks in slots from..count-1 of a leaf whose first chunk is base. Each slot
   is emptied before its chunk goes back: a truncation stopped in between (a terminated
   Worker, at mem_free_shared's unlock) leaves a chunk that is never freed, not a slot
   naming a chunk that the next file to get it fills. */
static void free_slots(struct file_data *f, uint8_t **leaf, uint32_t base, uint32_t from, uint32_t count,
                       struct lock_holder *shared) {
    for (uint32_t s = from; s < count; s++) {
        uint8_t *chunk = leaf[s];
        if (!chunk) continue;
        if (base + s == 0) {
            table_free_chunk0(f, &leaf[0], shared);
            continue;
        }
        leaf[s] = NULL;
        if (base) add_count(&f->far_chunks, -1);
        block_put(shared, chunk, CHUNK_SIZE);
        STOP_TEST(STOP_CHUNK_FREED, shared); /* as at mem_free_shared's unlock */
    }
}

static bool leaf_empty(uint8_t *const *leaf) {
    for (uint32_t s = 0; s < LEAF_SLOTS; s++)
        if (leaf[s]) return false;
    return true;
}

/* Top down, from the last entry to the leaf of chunk keep: a sparse file's truncation ends
   when the count says no far leaf is left, not after every empty entry below it. */
static void truncate_far(struct file_data *f, uint32_t keep, struct lock_holder *shared) {
    uint32_t lowest = keep < LEAF_SLOTS ? 0 : leaf_index(keep) - 1;
    for (uint32_t k = f->far_count; k-- > lowest && f->far_leaves;) {
        uint8_t **leaf = f->far[k];
        if (!leaf) continue;
        uint32_t base = (k + 1) << LEAF_SHIFT;
        uint32_t from = keep > base ? keep - base : 0;
        free_slots(f, leaf, base, from, LEAF_SLOTS, shared);
        if (from && !leaf_empty(leaf)) continue;
        f->far[k] = NULL;
        block_put(shared, leaf, LEAF_BYTES);
        add_count(&f->far_leaves, -1);
    }
}

/* An array much larger than keep needs gives its memory back (kept as it is if the
   smaller one cannot be had); the length is published as commit publishes it. Leaf 0 keeps
   one slot at least: slot0 costs no block, and an emptied file written again (O_TRUNC)
   need not publish a leaf 0 again. */
static void shrink_leaf0(struct file_data *f, uint32_t keep, struct lock_holder *shared) {
    uint32_t want = keep < LEAF_SLOTS ? keep : LEAF_SLOTS;
    uint32_t count = 1;
    while (count < want) count *= 2;
    if (count * 2 > f->chunk_slots) return;
    uint8_t **slots = count == 1 ? &f->slot0 : block_take(shared, pointer_bytes(count));
    if (!slots) return;
    mem_copy(slots, f->chunks, pointer_bytes(count));
    replace_leaf0(f, slots, count, shared);
}

static void shrink_far(struct file_data *f, uint32_t keep, struct lock_holder *shared) {
    uint32_t need = keep > LEAF_SLOTS ? leaf_index(keep - 1) : 0;
    if (!f->far_count || need * 2 > f->far_count) return;
    uint32_t count = need ? fit(need) : 0;
    if (count >= f->far_count) return;
    uint8_t ***far = count ? block_take(shared, pointer_bytes(count)) : NULL;
    if (count && !far) return;
    if (count) mem_copy(far, f->far, pointer_bytes(count));
    /* The old array goes back last, the smaller count first: stopped in between, the file
       names its old array (still allocated, its first count entries the same) with the new
       count, or the new one, and a later free of it gives back less than it is (a leak),
       never an array that the next block taken becomes. */
    uint8_t ***old = f->far;
    uint32_t old_count = f->far_count;
    (void)__atomic_exchange_n(&f->far_count, count, __ATOMIC_SEQ_CST);
    f->far = far;
    block_put(shared, old, pointer_bytes(old_count));
    STOP_TEST(STOP_TOP_FREED, shared); /* as at mem_free_shared's unlock */
}

void table_truncate_far(struct file_data *f, uint32_t keep, struct lock_holder *shared) {
    if (f->far_count) truncate_far(f, keep, shared);
    if (keep < f->chunk_slots) free_slots(f, f->chunks, 0, keep, f->chunk_slots, shared);
    if (f->far_count) shrink_far(f, keep, shared);
    shrink_leaf0(f, keep, shared);
}

/* Without table_truncate's publishing and shrinking: nothing reads a file being freed. */
void table_free_far(struct file_data *f) {
    if (f->far_count) truncate_far(f, 0, NULL);
    free_slots(f, f->chunks, 0, 0, f->chunk_slots, NULL);
    leaf0_put(f->chunks, f->chunk_slots, NULL);
    block_put(NULL, f->far, pointer_bytes(f->far_count));
}

uint64_t table_weight_far(const struct file_data *f) {
    uint64_t slots = __atomic_load_n(&f->chunk_slots, __ATOMIC_SEQ_CST);
    uint64_t bytes = slots ? (slots - 1) * CHUNK_SIZE + __atomic_load_n(&f->first_cap, __ATOMIC_RELAXED) : 0;
    bytes += leaf0_bytes((uint32_t)slots);
    uint64_t far = __atomic_load_n(&f->far_count, __ATOMIC_SEQ_CST);
    if (!far) return bytes;
    return bytes + far * sizeof(void *) + (uint64_t)__atomic_load_n(&f->far_leaves, __ATOMIC_RELAXED) * LEAF_BYTES +
           (uint64_t)__atomic_load_n(&f->far_chunks, __ATOMIC_RELAXED) * CHUNK_SIZE;
}

/* Chunks in a far leaf whose first chunk is base, and how many lie at or past keep. */
static uint32_t leaf_chunks(uint8_t *const *leaf, uint32_t base, uint32_t keep, uint32_t *past) {
    uint32_t held = 0;
    for (uint32_t s = 0; s < LEAF_SLOTS; s++) {
        if (!leaf[s]) continue;
        held++;
        *past += base + s >= keep;
    }
    return held;
}

uint32_t table_check(const struct file_data *f, uint32_t keep) {
    uint32_t problems = (!f->chunk_slots != !f->chunks) + (f->chunk_slots > LEAF_SLOTS) +
                        ((f->chunk_slots == 1) != (f->chunks == &f->slot0)) + (f->chunks != &f->slot0 && f->slot0) +
                        (!f->far_count != !f->far) + (f->far_count > MAX_FAR);
    if (problems) return problems; /* not safe to walk */
    for (uint32_t i = keep; i < f->chunk_slots; i++) problems += f->chunks[i] != NULL;
    uint32_t leaves = 0, chunks = 0;
    for (uint32_t k = 0; k < f->far_count; k++) {
        if (!f->far[k]) continue;
        uint32_t held = leaf_chunks(f->far[k], (k + 1) << LEAF_SHIFT, keep, &problems);
        problems += held == 0; /* a leaf exists only while it holds a chunk */
        leaves++;
        chunks += held;
    }
    return problems + (leaves != f->far_leaves) + (chunks != f->far_chunks);
}
