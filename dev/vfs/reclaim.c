#include "vfs/reclaim.h"
#include "base/alloc.h"

#define PRESSING_BYTES (4u << 20)

/* Changed under the allocator's mutex (shared lock) or the exclusive lock. A dentry that
   waits is left exactly as it was (a reader may still compare its name or follow its
   node), so the list of them is an array of its own, from the host's reserve. */
static struct {
    struct dentry **dentries;
    uint32_t count, cap;
    struct inode *inodes;         /* linked through next_dead, which no reader reads */
    uint64_t bytes;               /* what waits, read without a lock by reclaim_pressing */
} OWN_CACHE_LINES waiting;

bool reclaim_reserve(uint32_t dentries) {
    if (dentries <= waiting.cap - waiting.count) return true;
    uint32_t cap = waiting.cap ? waiting.cap * 2 : 64; /* dentries is 1 or 2 */
    struct dentry **grown = mem_alloc_reserve(cap * (uint32_t)sizeof *grown);
    if (!grown) return false;
    mem_copy(grown, waiting.dentries, waiting.count * (uint32_t)sizeof *grown);
    mem_free_reserve(waiting.dentries, waiting.cap * (uint32_t)sizeof *grown);
    waiting.dentries = grown;
    waiting.cap = cap;
    return true;
}

static uint32_t dentry_bytes(const struct dentry *entry) {
    return (uint32_t)sizeof(struct dentry) + entry->name_len;
}

void reclaim_dentry(struct dentry *entry) {
    waiting.dentries[waiting.count++] = entry;
    __atomic_add_fetch(&waiting.bytes, dentry_bytes(entry), __ATOMIC_RELAXED);
}

void reclaim_inode(struct inode *file) {
    file->dead_pending = true;
    file->next_dead = waiting.inodes;
    waiting.inodes = file;
    /* At most chunk 0 and a whole chunk per further slot: an fd may still be writing the
       file (never its size here, a plain store of the writer's; the slot count is published
       by exchanges). Counting chunk 0 as whole made a small file weigh 64 KiB, and so 64
       shared unlinks of small files called for an exclusive hold. */
    uint64_t slots = __atomic_load_n(&file->file.chunk_slots, __ATOMIC_SEQ_CST);
    uint64_t first = __atomic_load_n(&file->file.first_cap, __ATOMIC_RELAXED);
    uint64_t bytes = slots ? (slots - 1) * CHUNK_SIZE + first + slots * sizeof(uint8_t *) : 0;
    __atomic_add_fetch(&waiting.bytes, bytes + sizeof *file, __ATOMIC_RELAXED);
}

bool reclaim_pressing(void) { return __atomic_load_n(&waiting.bytes, __ATOMIC_RELAXED) > PRESSING_BYTES; }

void reclaim_now(void) {
    if (!waiting.count && !waiting.inodes) return; /* every exclusive hold asks: no store */
    for (uint32_t i = 0; i < waiting.count; i++) mem_free(waiting.dentries[i], dentry_bytes(waiting.dentries[i]));
    waiting.count = 0;
    while (waiting.inodes) {
        struct inode *file = waiting.inodes;
        waiting.inodes = file->next_dead;
        file->next_dead = NULL;
        file->dead_pending = false;
        inode_release_if_unused(file); /* an fd may have got it meanwhile: then its last close */
    }
    waiting.bytes = 0;
}
