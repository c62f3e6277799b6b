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
} waiting;

bool reclaim_reserve(void) {
    if (waiting.count < waiting.cap) return true;
    uint32_t cap = waiting.cap ? waiting.cap * 2 : 64;
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
    /* At most a chunk per slot: an fd may still be writing the file (never its size here,
       a plain store of the writer's; the slot count is published by exchanges). */
    uint64_t chunks = __atomic_load_n(&file->file.chunk_slots, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&waiting.bytes, chunks * CHUNK_SIZE + sizeof *file, __ATOMIC_RELAXED);
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
