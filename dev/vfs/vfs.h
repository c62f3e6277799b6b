/* Filesystem nodes: inodes, directories with a hash index and stable readdir order, and
   chunked file data. */
#ifndef VFS_VFS_H
#define VFS_VFS_H

#include "base/core.h"
#include "base/lock.h"

#define CHUNK_SHIFT 16
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
/* The largest file, as ext4 with 4 KiB blocks allows (16 TiB - 4 KiB): EFBIG past it, as
   Linux gives there, so wasmtime on such a disk behaves the same. */
#define MAX_FILE_SIZE (((uint64_t)1 << 44) - 4096u)

struct inode;

struct dentry {
    struct inode *node;
    uint32_t seq;          /* insertion number in its directory: the readdir cookie */
    uint32_t hash;
    uint16_t name_len;
    char name[];
};

/* Sequence numbers are 32-bit and only grow, so after 4 billion names added to one
   directory they would wrap, and the slots (ordered by them, searched by dir_slot_from)
   would fall out of order: a removal then took out the wrong entry (directories started
   at 0xFFFFFF00: a loop of 400 creates and unlinks left fsck 43 problems). At
   DIR_SEQ_LIMIT an exclusive insert numbers the slots afresh from 0 (dir.c, renumber).
   The tests and the fuzzers start directories at DIR_FIRST_SEQ, 64 below the limit. */
#ifndef DIR_SEQ_LIMIT
#define DIR_SEQ_LIMIT 0xFFFFFFF0u /* a cookie of seq + 1 (fs_dir.c) must not wrap to 0 */
#endif
#ifndef DIR_FIRST_SEQ
#define DIR_FIRST_SEQ 0u
#endif

struct dir_slot {
    uint32_t seq;
    struct dentry *entry;  /* NULL once removed, until the slots are compacted */
};

struct dir_data {
    struct inode *parent;  /* NULL for the root and for removed directories */
    struct dir_slot *slots;
    uint32_t used, live, cap;
    uint32_t *index;       /* open addressing: slot number + 1; 0 empty; INDEX_TOMB removed */
    uint32_t index_size;
    uint32_t next_seq;
    uint32_t subdirs;
    int mutex;             /* its writers under the shared lock */
    uint32_t changes;      /* one more after each change of its names (dir_changes) */
};

/* Chunk i holds bytes [i*CHUNK_SIZE, (i+1)*CHUNK_SIZE); a missing one reads as zeros. Its
   slot is in a two-level table (chunk_table.h), reached only through chunk_table.c. */
struct file_data {
    uint8_t **chunks;      /* leaf 0: the slots of chunks 0..chunk_slots-1 (&slot0 for one) */
    uint32_t chunk_slots;  /* doubles as the file grows, up to LEAF_SLOTS */
    uint32_t first_cap;    /* chunk 0 grows geometrically up to CHUNK_SIZE, so small files stay small */
    uint8_t ***far;        /* the top array: far[k] is leaf k + 1, or NULL */
    uint32_t far_count;
    uint32_t far_leaves, far_chunks; /* held by far leaves: a dead file's weight, checked by fsck */
    uint8_t *slot0;        /* leaf 0 while it has one slot (a small file's): no block of its own */
};

struct pipe_data {
    uint8_t *ring;         /* PIPE_CAPACITY bytes */
    uint32_t head, tail;   /* bytes ever read / written; tail - head is what is buffered */
    uint32_t readers, writers;
    uint32_t changes;      /* bumped on every change: the word that blocked ends wait on */
};

struct inode {
    uint64_t ino;
    uint64_t size;
    uint64_t atim, mtim, ctim;
    uint32_t nlink;        /* directory entries naming it */
    uint32_t open_count;   /* fds (of every process) referring to it */
    int data_mutex;        /* a file's writers under the shared lock (lock.h) */
    uint32_t fsck_links, fsck_opens; /* scratch counters of the consistency checker */
    uint8_t type;          /* WASI filetype */
    bool is_pipe;
    bool dead_pending;     /* unlinked under the shared lock: reclaim.c frees it */
    uint8_t lazy;          /* LAZY_*: its entries or bytes are still the host's (lazy.h) */
    bool read_only;        /* below a read-only lazy mount: every change is EPERM */
    uint64_t lazy_token;   /* the host's name for its source (lazy.h), 0 if none */
    struct inode *next_dead;
    union {
        struct file_data file;
        struct dir_data dir;
        char *target;      /* symlink; its length is size */
        struct pipe_data pipe; /* a pipe (filetype unknown, as wasmtime shows a FIFO) */
    };
};

/* Set in open_count while a truncating open frees a file's bytes under the lock shared: no
   fd may join. A count of fds never reaches it (process.c asserts it). */
#define OPEN_EMPTYING 0x80000000u

/* inode.c */
struct inode *inode_create(uint8_t type);
/* Under the lock shared: from the creator's block cache (alloc.h), stamped now. */
struct inode *inode_create_shared(uint8_t type, uint64_t now, struct lock_holder *creator);
/* Under the lock shared: gives back an inode just created that never got a name. */
void inode_free_shared(struct inode *fresh, struct lock_holder *creator);
/* A new fd's count under the lock shared (path_open of an existing node). A file open
   through one fd is written without its data mutex (wasi_fd_io.c), so while the lock is
   shared only an fd that cannot write may join others (a reader); one that may write
   joins only a file no fd holds (sole). false: nothing was counted, do it exclusive. */
bool inode_join_reader_shared(struct inode *node);
bool inode_join_sole_shared(struct inode *file);
/* Under the lock shared, by whoever holds the file's only fd (fds 1: ftruncate, fallocate)
   or is about to (fds 0: an open with O_TRUNC): marks the count OPEN_EMPTYING, so no fd
   joins until inode_end_emptying_shared (readers wait for the exclusive lock meanwhile),
   and the caller may free or replace the file's memory at once; the count is 1 after.
   false: another fd holds it, nothing was done. */
bool inode_begin_emptying_shared(struct inode *file, uint32_t fds);
void inode_end_emptying_shared(struct inode *file);
/* A hard link's new count under the lock shared: false if the file has no name left (a
   shared unlink took its last one, and it waits in a reclaim list: it may not come back). */
bool inode_link_shared(struct inode *file);
/* A link's end under the lock shared: true for the one caller that takes the count to 0,
   who alone hands the node to reclaim.h (reclaim_inode). */
bool inode_drop_link_shared(struct inode *node);
void inode_release_if_unused(struct inode *node);
/* Inline: a call from wasm costs more than these stores (bench/ops.py --instructions).
   Writers under the shared lock pass the time they read themselves (vfs_now's cache
   belongs to the exclusive holder). Readers may read the times meanwhile, each an aligned
   8-byte store: they see the old time or the new one. */
static inline void inode_touch_modified_at(struct inode *node, uint64_t now) { node->mtim = node->ctim = now; }
static inline void inode_touch_changed_at(struct inode *node, uint64_t now) { node->ctim = now; }
static inline void inode_touch_modified(struct inode *node) { inode_touch_modified_at(node, vfs_now()); }
static inline void inode_touch_changed(struct inode *node) { inode_touch_changed_at(node, vfs_now()); }
void inode_touch_written(struct inode *file);    /* modified now, by a writer holding the lock shared */
void inode_touch_accessed(struct inode *node);
void inode_fill_filestat(const struct inode *node, uint8_t out[FILESTAT_SIZE]);
struct inode *vfs_root(void);

/* dir.c */
/* A directory's parent, NULL once it is removed: a shared-lock rmdir clears it while
   walks read it. */
static inline struct inode *dir_parent(const struct inode *dir) {
    return __atomic_load_n(&dir->dir.parent, __ATOMIC_ACQUIRE);
}
/* How many times dir's names have changed, read before a walk's final lookup (path.c). A
   writer under the lock shared that then takes dir's mutex and reads the same count knows
   that what the lookup found is still so: every change adds one, under the mutex (or the
   lock exclusive), after it is complete. It cannot come round to the same count within one
   shared hold: each change allocates a dentry or leaves one waiting in reclaim.c, whose
   memory comes back only after every shared hold present has ended, and 2^32 dentries
   would need far more than 4 GiB. */
static inline uint32_t dir_changes(const struct inode *dir) {
    return __atomic_load_n(&dir->dir.changes, __ATOMIC_ACQUIRE);
}
/* Under the lock shared: the mutexes of directories a and b (one if they are the same), in
   address order, the one order any two are taken in (lock.h). */
void dir_lock_pair(struct lock_holder *holder, struct inode *a, struct inode *b);
void dir_unlock_pair(struct lock_holder *holder, struct inode *a, struct inode *b);
/* Under the lock held either way: shared-lock writers may add and remove names meanwhile
   (dir.c says why that is safe); a dentry found may be unlinked right after, its memory
   stays until the next exclusive hold (reclaim.h). */
struct dentry *dir_lookup(struct inode *dir, const char *name, uint32_t len);
/* Under the lock shared and dir's mutex: a new name, if the slot array has room (else
   false, nothing done: grow it under the lock exclusive). child is new and unreachable, its
   link count already counting this name; or a file whose count the caller raised from
   nonzero (a hard link). */
bool dir_insert_shared(struct inode *dir, const char *name, uint32_t len, struct inode *child, uint64_t now,
                       struct lock_holder *writer);
/* Under the lock shared and dir's mutex: removes a file's entry (for reclaim.h). true: that
   was the file's last name (inode_drop_link_shared). */
bool dir_remove_shared(struct inode *dir, struct dentry *entry, uint64_t now);
/* Under the lock shared and both directories' mutexes, by writer: renames source, a
   file's or symlink's entry in from, to name in to, over replaced (name's entry, another
   file's or symlink's) or nothing. Both old dentries are out of the tree after (for
   reclaim.h); what replaced named still counts it: the caller drops that link
   (inode_drop_link_shared). false, nothing done: no free slot for a new name, or no
   memory. */
bool dir_rename_shared(struct inode *from, struct dentry *source, struct inode *to, const char *name,
                       uint32_t len, struct dentry *replaced, uint64_t now, struct lock_holder *writer);
/* Under the lock shared and the mutexes of dir and of its entry's directory, which is
   empty: takes it out of the tree (for reclaim.h); creates in it fail from now on. */
void dir_remove_dir_shared(struct inode *dir, struct dentry *entry, uint64_t now);
errno_t dir_insert(struct inode *dir, const char *name, uint32_t len, struct inode *child);
/* dir_insert for a new name: ENOENT if dir itself was removed; dir's times move. */
errno_t dir_link_new(struct inode *dir, const char *name, uint32_t len, struct inode *child);
void dir_remove(struct inode *dir, struct dentry *entry);
void dir_retarget(struct inode *dir, struct dentry *entry, struct inode *child);
/* Under the lock exclusive: entry (from's) goes to name in to, over replaced (to's entry
   of another node, which loses that link: the caller releases it if unused) or as a new
   entry. Whole or not at all wherever the process stops (a terminated Worker, a hook that
   raises). E_NOENT if to was removed, E_NOSPC. */
errno_t dir_move(struct inode *from, struct dentry *entry, struct inode *to, const char *name, uint32_t len,
                 struct dentry *replaced);
uint32_t dir_slot_from(const struct inode *dir, uint32_t seq);
void dir_free(struct inode *dir);

/* filedata.c: each call changes all it was asked to or nothing (a failed write or
   allocate keeps no memory). Ranges are checked with offset_range_valid by the caller. */
/* Under the lock exclusive. */
errno_t file_write_from_guest(struct inode *file, uint64_t offset, uint32_t guest_src, uint32_t len);
/* Under the lock shared and the file's data mutex, once file_prepare_shared took the blocks
   of the whole write: copies the bytes in, then moves the size (past unzeroed_from, what
   file_prepare_shared said, only after the bytes, for every reader). */
void file_write_prepared(struct inode *file, uint64_t offset, uint32_t guest_src, uint32_t len,
                         uint64_t unzeroed_from);
/* Whether a write of [offset, end) can run under the lock shared: it replaces no block a
   reader may be reading (leaf 0, the top array, chunk 0: chunk_table.h). */
bool file_write_in_place(const struct inode *file, uint64_t offset, uint64_t end);
/* Under the lock shared (file_write_in_place true): takes every block the write of
   [offset, end) needs, for all its iovecs at once. A file's first leaf 0 and chunk 0
   replace nothing only while it has none: sized for the first iovec alone, the next one
   would have to replace them under the readers' feet. A new chunk the write covers whole,
   past the size, is not zeroed first (no reader reads past the size), which saves a 64 KiB
   fill per chunk of a large write. Returns where the first such chunk starts
   (NO_CHUNK_UNZEROED if none), for file_write_prepared; PREPARE_NO_ROOM (chunk 0 is never
   left unzeroed) for ENOSPC, when nothing was taken. */
#define NO_CHUNK_UNZEROED UINT64_MAX
#define PREPARE_NO_ROOM 0u
uint64_t file_prepare_shared(struct inode *file, uint64_t offset, uint64_t end, struct lock_holder *writer);
void file_read_to_guest(struct inode *file, uint64_t offset, uint32_t guest_dst, uint32_t len);
/* The same for a host's buffer in core memory, under the lock exclusive (host/fs_file.c). */
errno_t file_write_from_core(struct inode *file, uint64_t offset, const uint8_t *src, uint32_t len);
void file_read_to_core(const struct inode *file, uint64_t offset, uint8_t *dst, uint32_t len);
errno_t file_set_size(struct inode *file, uint64_t size);
/* file_set_size and file_allocate under the lock shared, by the file's only holder
   (inode_begin_emptying_shared): no one else reads its memory, so it goes or is replaced
   at once (small blocks through the holder's cache, the rest under the allocator's mutex). */
errno_t file_set_size_shared(struct inode *file, uint64_t size, struct lock_holder *holder);
errno_t file_allocate_shared(struct inode *file, uint64_t end, struct lock_holder *holder);
/* Fills an empty file (no chunks) with size bytes from read(ctx, offset, core_dst, len) (the
   count read, 0 at the end, or -errno), all or nothing: on an error the file is empty
   again. A source that ends early leaves the file that long. Lock held exclusive. */
errno_t file_fill(struct inode *file, uint64_t size,
                  int32_t (*read)(void *ctx, uint64_t offset, uintptr_t core_dst, uint32_t len), void *ctx);
errno_t file_allocate(struct inode *file, uint64_t end);
void file_free(struct inode *file);
/* lseek's SEEK_DATA (hole false) or SEEK_HOLE (true) at 64 KiB chunk granularity: the first
   offset at or after offset in data (a chunk that exists) or in a hole (the end of the file
   is one); UINT64_MAX if offset is at or past the end, or no data follows. Lock held. */
uint64_t file_seek_data(const struct inode *file, uint64_t offset, bool hole);
uint32_t file_check(const struct inode *file); /* inconsistencies, for fsck */
bool file_holds_memory(const struct inode *file); /* a chunk or a block of its table, for lazy_check */

#endif
