/* Lazy host mounts (DESIGN.md "Lazy host mounts"): a directory whose entries, and files whose
   bytes, are still the host's. A lazy directory has no entries yet; the first operation that
   needs them (a lookup in it, a readdir, an rmdir or a rename onto it) lists it through the
   lazy_list hook, under the lock exclusive, into child inodes: directories lazy again, files
   lazy with their size and times but no bytes, symlinks with their targets. A lazy file's
   bytes come through the lazy_read hook when it is first opened (or are dropped by O_TRUNC);
   then it is an ordinary file. stat needs neither. So memory holds only what was touched,
   copy-on-write: nothing is ever written back by the core. */
#ifndef VFS_LAZY_H
#define VFS_LAZY_H

#include "base/host_abi.h"
#include "vfs/vfs.h"

/* Internal, never returned to a program: a walk under the lock shared met a lazy directory;
   the caller takes the lock exclusive and walks again (which loads it). */
#define E_LAZY ((errno_t)0xFFFFu)

/* Lock exclusive. Each is all or nothing: on an error (the hook's errno, EIO for a listing
   the core cannot take, ENOSPC) the inode is lazy as before. */
errno_t lazy_load_dir(struct inode *dir);
errno_t lazy_load_file(struct inode *file);

/* What an operation that needs dir's entries does first: nothing for an ordinary directory;
   for a lazy one load it (exclusive) or say E_LAZY (shared). Readers of the flag hold the
   lock shared, and it changes only under the lock exclusive. */
static inline errno_t lazy_ready(struct inode *dir, bool exclusive) {
    if (dir->lazy != LAZY_DIRECTORY) return E_SUCCESS;
    return exclusive ? lazy_load_dir(dir) : E_LAZY;
}

/* Whether node is below a read-only mount. Read before the lock too (a directory fd's
   inode, checked first as wasmtime does): a mount sets the flag of an existing directory
   under the lock exclusive, so both sides are atomic (fuzz regression
   tsan_read_only_flag_of_a_directory_being_mounted). */
static inline bool lazy_read_only(const struct inode *node) {
    return __atomic_load_n(&node->read_only, __ATOMIC_RELAXED);
}

/* Makes the empty directory dir (or a lazy one not listed yet) a lazy mount of the host's
   token (lock exclusive): ENOTEMPTY if it has entries, EINVAL for token 0. */
errno_t lazy_mount(struct inode *dir, uint64_t token, bool read_only);

/* Inconsistencies of a lazy inode, for fsck: a lazy directory has no entries, a lazy file
   no bytes. */
uint32_t lazy_check(const struct inode *node);

#endif
