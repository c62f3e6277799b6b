/* Changes to the tree that both the WASI functions and the host's filesystem exports make,
   after they have resolved their paths: one behaviour for programs and hosts. Lock held
   exclusive, but for the checks, which a shared-lock mkdir or rename makes first too. */
#ifndef VFS_TREE_H
#define VFS_TREE_H

#include "vfs/path.h"

/* Makes a directory at w's final name, walked with FOLLOW_NEVER (walk_err: what the walk
   said): EEXIST if the name exists, even as "file/" or a symlink, as Linux's mkdir says. */
errno_t tree_mkdir(struct path_walk *w, errno_t walk_err);
errno_t tree_mkdir_check(const struct path_walk *w, errno_t walk_err); /* its checks alone */
/* Makes w's final name (walked with FOLLOW_IF_TRAILING_SLASH) a symlink to *target, a
   block of target_len bytes from mem_alloc, which it takes (*target becomes NULL) once the
   link exists or failed after its inode was made; else the caller still owns it. */
errno_t tree_symlink(struct path_walk *w, char **target, uint32_t target_len);
errno_t tree_symlink_check(const struct path_walk *w, uint32_t target_len); /* its checks alone */
/* Removes w's final entry (found, a name) and frees what it named if nothing else keeps it. */
void tree_remove_entry(struct path_walk *w);
/* Moves from's entry to to's name (both walked with FOLLOW_NEVER), replacing what is there,
   after the checks rename(2) makes: EBUSY (".", ".."), ENOENT, ENOTDIR, EISDIR, EINVAL (a
   directory into itself), ENOTEMPTY, ENOSPC. Nothing changes on an error. */
errno_t tree_rename(struct path_walk *from, struct path_walk *to);
errno_t tree_rename_check(const struct path_walk *from, const struct path_walk *to); /* its checks alone */
/* Removes everything below directory dir (symlinks are removed, never followed), in a loop
   that climbs back by parent pointers: a tree may be far deeper than the core's stack. Its
   own small stack (one number a level) comes from the reserve: ENOMEM only if even that has
   no room, with part of the tree removed. */
errno_t tree_empty(struct inode *dir);

/* A directory a mkdir -p made (preopens, the host's mkdir with parents), to take away again
   if a later one cannot be made: entries never move, and the lock is held throughout. */
struct tree_made_dir {
    struct inode *parent;
    struct dentry *entry;
    uint64_t parent_mtim, parent_ctim;
};
/* Removes the n directories made, newest first, and gives their parents their times back. */
void tree_unmake_dirs(struct tree_made_dir *made, uint32_t n);

#endif
