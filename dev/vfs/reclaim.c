#include "vfs/reclaim.h"
#include "base/alloc.h"
#include "base/lock.h"
#include "vfs/chunk_table.h"
#include "base/stop_test.h"


/* Per process. Small enough that what waits is still in the cache when it is freed, and the
   allocator gives it to the next creates; the fuzzers build with a tiny one, so that their
   short runs free lists under the lock shared too. */
#ifndef RECLAIM_PRESSING_BYTES
#define RECLAIM_PRESSING_BYTES (256u << 10)
#endif

static struct {
    struct reclaim_list *lists;   /* changed under the lock exclusive */
} OWN_CACHE_LINES registry;

void reclaim_register(struct reclaim_list *list) {
    list->next = registry.lists;
    registry.lists = list;
}

static void reclaim_list_now(struct reclaim_list *list);

void reclaim_unregister(struct reclaim_list *list) {
    reclaim_list_now(list);
    for (struct reclaim_list **link = &registry.lists; *link; link = &(*link)->next) {
        if (*link == list) {
            *link = list->next;
            break;
        }
    }
    mem_free_reserve(list->dentries, list->cap * (uint32_t)sizeof *list->dentries);
    list->dentries = NULL;
    list->cap = 0;
}

/* The list takes the new array before the old one goes back: stopped in between (a
   terminated Worker, at the allocator's unlock), it named the freed array, whose first
   word the allocator had made a free-list link, and the reap's reclaim_list_now freed
   that link as a dentry (a block freed twice) along with what the array held. */
bool reclaim_reserve(struct reclaim_list *list, struct lock_holder *holder, uint32_t dentries) {
    if (dentries <= list->cap - list->count) return true;
    uint32_t cap = list->cap ? list->cap * 2 : 64; /* dentries is 1 or 2 */
    mem_lock_shared(holder);
    struct dentry **grown = mem_alloc_reserve(cap * (uint32_t)sizeof *grown);
    if (grown) {
        struct dentry **old = list->dentries;
        uint32_t old_cap = list->cap;
        mem_copy(grown, old, list->count * (uint32_t)sizeof *grown);
        list->dentries = grown;
        list->cap = cap;
        mem_free_reserve(old, old_cap * (uint32_t)sizeof *grown);
    }
    STOP_TEST(STOP_RECLAIM_GROWN, grown && cap > 64); /* as at mem_unlock_shared's entry */
    mem_unlock_shared(holder);
    return grown != NULL;
}

static uint32_t dentry_bytes(const struct dentry *entry) {
    return (uint32_t)sizeof(struct dentry) + entry->name_len;
}

void reclaim_dentry(struct reclaim_list *list, struct dentry *entry) {
    list->dentries[list->count++] = entry;
    list->bytes += dentry_bytes(entry);
}

/* What a dead node holds besides itself. A file: at most chunk 0, a whole chunk per
   further slot of leaf 0, and what its far leaves hold (table_weight: an fd may still be
   writing it, so from counts, never its size, a plain store of the writer's). Counting
   chunk 0 as whole made a small file weigh 64 KiB, and so 64 shared unlinks of small files
   called for an exclusive hold. A directory (removed empty, so no writer changes it): its
   arrays. A symlink: its target. */
static uint64_t weight(const struct inode *node) {
    if (node->type == FILETYPE_DIRECTORY)
        return (uint64_t)node->dir.cap * sizeof(struct dir_slot) + (uint64_t)node->dir.index_size * sizeof(uint32_t);
    if (node->type == FILETYPE_SYMBOLIC_LINK) return node->size; /* its target */
    return table_weight(&node->file);
}

void reclaim_inode(struct reclaim_list *list, struct inode *file) {
    file->dead_pending = true;
    file->next_dead = list->inodes;
    list->inodes = file;
    list->bytes += weight(file) + sizeof *file;
}

bool reclaim_pressing(const struct reclaim_list *list) { return list->bytes > RECLAIM_PRESSING_BYTES; }

/* The lock exclusive, or shared after a grace period with the allocator's mutex. A file in
   the list has no name, so only closes of its fds touch it meanwhile: under the lock shared
   they take its open count down only while another fd keeps it, and the last close waits
   for the exclusive lock (fd_release_shared). So a count of 0 stays 0 here, and a file
   still open is left to that last close. */
static void reclaim_list_now(struct reclaim_list *list) {
    /* Each out of the list before it is freed: a Worker terminated in this loop leaves a
       leak, not a block that wasi_wasm_reap's own pass would free a second time. */
    while (list->count) {
        struct dentry *entry = list->dentries[--list->count];
        mem_free(entry, dentry_bytes(entry));
    }
    while (list->inodes) {
        struct inode *file = list->inodes;
        list->inodes = file->next_dead;
        file->next_dead = NULL;
        file->dead_pending = false;
        if (!__atomic_load_n(&file->open_count, __ATOMIC_SEQ_CST)) inode_release_if_unused(file);
    }
    list->bytes = 0;
}

void reclaim_own_now(struct reclaim_list *list, struct lock_holder *holder, bool can_block) {
    vfs_wait_for_readers(holder, can_block);
    vfs_lock_shared(holder);
    mem_lock_shared(holder);
    reclaim_list_now(list); /* empty if an exclusive hold came first: it frees every list */
    mem_unlock_shared(holder);
    vfs_unlock_shared(holder);
}

void reclaim_now(void) {
    for (struct reclaim_list *list = registry.lists; list; list = list->next)
        if (list->count || list->inodes) reclaim_list_now(list);
}
