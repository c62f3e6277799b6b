#include "vfs/vfs.h"
#include "base/alloc.h"
#include "base/file_clock.h"
#include "base/lock.h"
#include "vfs/pipe.h"

static struct {
    struct inode *root;
} OWN_CACHE_LINES nodes;
static struct {
    uint64_t next;  /* the last number handed out: not on the line of the root every walk reads */
} OWN_CACHE_LINES inode_numbers;

#define DEVICE_ID 1u
/* A holder's shared-lock creates take numbers this many at a time: threads that create at
   once would otherwise each make a locked add on one cache line per create. Numbers stay
   unique, never reused (64 bits do not wrap); a holder that leaves drops the rest of its
   batch, a gap no one sees. */
#define INO_BATCH 64u

/* Under the lock exclusive no holder takes a batch meanwhile: a plain add, not a locked one. */
static uint64_t new_ino(struct lock_holder *shared) {
    if (!shared) {
        uint64_t ino = __atomic_load_n(&inode_numbers.next, __ATOMIC_RELAXED) + 1;
        STORE_RELAXED(&inode_numbers.next, ino);
        return ino;
    }
    if (shared->ino_next == shared->ino_end) {
        shared->ino_end = __atomic_add_fetch(&inode_numbers.next, INO_BATCH, __ATOMIC_RELAXED) + 1;
        shared->ino_next = shared->ino_end - INO_BATCH;
    }
    return shared->ino_next++;
}

/* shared: the creator's holder under the lock shared (its block cache), else NULL. */
static struct inode *create_at(uint8_t type, uint64_t now, struct lock_holder *shared) {
    struct inode *node = shared ? mem_alloc_shared(shared, sizeof *node) : mem_alloc(sizeof *node);
    if (!node) return NULL;
    mem_zero(node, sizeof *node);
    node->ino = new_ino(shared);
    node->type = type;
    node->atim = node->mtim = node->ctim = now;
    if (type == FILETYPE_DIRECTORY) node->dir.next_seq = DIR_FIRST_SEQ;
    return node;
}

struct inode *inode_create(uint8_t type) { return create_at(type, vfs_now(), NULL); }

struct inode *inode_create_shared(uint8_t type, uint64_t now, struct lock_holder *creator) {
    return create_at(type, now, creator);
}

void inode_free_shared(struct inode *fresh, struct lock_holder *creator) { mem_free_shared(creator, fresh, sizeof *fresh); }

bool inode_join_reader_shared(struct inode *node) {
    uint32_t count = __atomic_load_n(&node->open_count, __ATOMIC_RELAXED);
    do {
        if (count & OPEN_EMPTYING) return false;
    } while (!__atomic_compare_exchange_n(&node->open_count, &count, count + 1, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    return true;
}

bool inode_join_sole_shared(struct inode *file) {
    uint32_t none = 0;
    return __atomic_compare_exchange_n(&file->open_count, &none, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

bool inode_begin_emptying_shared(struct inode *file, uint32_t fds) {
    return __atomic_compare_exchange_n(&file->open_count, &fds, fds | OPEN_EMPTYING, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_RELAXED);
}

bool inode_link_shared(struct inode *file) {
    uint32_t links = __atomic_load_n(&file->nlink, __ATOMIC_RELAXED);
    do {
        if (!links) return false;
    } while (!__atomic_compare_exchange_n(&file->nlink, &links, links + 1, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    return true;
}

bool inode_drop_link_shared(struct inode *node) { return __atomic_sub_fetch(&node->nlink, 1, __ATOMIC_SEQ_CST) == 0; }

void inode_end_emptying_shared(struct inode *file) { (void)__atomic_exchange_n(&file->open_count, 1, __ATOMIC_SEQ_CST); }

struct inode *vfs_root(void) {
    if (!nodes.root) {
        nodes.root = inode_create(FILETYPE_DIRECTORY);
        if (nodes.root) nodes.root->nlink = 1;
    }
    return nodes.root;
}

void inode_release_if_unused(struct inode *node) {
    if (node->nlink || node->open_count || node->dead_pending) return; /* reclaim.c frees those */
    if (node->is_pipe) mem_free(node->pipe.ring, PIPE_CAPACITY);
    else if (node->type == FILETYPE_REGULAR_FILE) file_free(node);
    else if (node->type == FILETYPE_DIRECTORY) dir_free(node);
    else if (node->type == FILETYPE_SYMBOLIC_LINK) mem_free(node->target, (uint32_t)node->size);
    mem_free(node, sizeof *node);
}

void inode_touch_written(struct inode *file) { inode_touch_modified_at(file, file_time_now()); }

/* relatime, as Linux mounts by default: atime moves only when older than mtime or ctime.
   Readers holding the lock shared call this at once: atime is read and stored atomically,
   and the clock is read here (vfs_now's cache belongs to the exclusive holder). */
void inode_touch_accessed(struct inode *node) {
    uint64_t atim = __atomic_load_n(&node->atim, __ATOMIC_RELAXED);
    if (atim <= node->mtim || atim <= node->ctim)
        __atomic_store_n(&node->atim, file_time_now(), __ATOMIC_RELAXED);
}

/* A shared-lock unlink drops a file's nlink while readers stat it (dir_remove_shared): read
   atomically (fuzz regression tsan_stat_reads_nlink_of_a_shared_unlink). */
static uint64_t link_count(const struct inode *node) {
    uint32_t nlink = __atomic_load_n(&node->nlink, __ATOMIC_RELAXED);
    if (node->type != FILETYPE_DIRECTORY) return nlink;
    return nlink ? 2u + __atomic_load_n(&node->dir.subdirs, __ATOMIC_RELAXED) : 0; /* a shared mkdir adds */
}

void inode_fill_filestat(const struct inode *node, uint8_t out[FILESTAT_SIZE]) {
    mem_zero(out, FILESTAT_SIZE);
    put_u64(out, DEVICE_ID);
    put_u64(out + FILESTAT_INO, node->ino);
    out[FILESTAT_FILETYPE] = node->type;
    put_u64(out + FILESTAT_NLINK, link_count(node));
    uint64_t size = node->size;
    if (node->type == FILETYPE_DIRECTORY) size = 4096; /* as ext4 reports a small directory */
    put_u64(out + FILESTAT_FILESIZE, size);
    put_u64(out + FILESTAT_ATIM, __atomic_load_n(&node->atim, __ATOMIC_RELAXED));
    put_u64(out + FILESTAT_MTIM, node->mtim);
    put_u64(out + FILESTAT_CTIM, node->ctim);
}
