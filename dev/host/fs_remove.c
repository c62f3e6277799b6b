/* The host's filesystem API: removing (a file or symlink, an empty directory, a tree). */
#include "host/exports.h"
#include "host/host_call.h"
#include "vfs/lazy.h"
#include "vfs/tree.h"

/* A file or symlink (never followed): ENOENT, EISDIR for a directory. */
EXPORT("wasi_wasm_fs_unlink") int32_t wasi_wasm_fs_unlink(uint32_t fd, uintptr_t path, uint32_t len) {
    struct path_walk w;
    host_lock();
    errno_t err = host_walk_at(&w, fd, path, len, FOLLOW_IF_TRAILING_SLASH);
    if (!err && !w.node) err = E_NOENT;
    if (!err && w.node->type == FILETYPE_DIRECTORY) err = E_ISDIR;
    if (!err) tree_remove_entry(&w);
    vfs_unlock();
    return err;
}

/* The directory w names, as rmdir(2) may remove it: ENOENT, ENOTDIR, EINVAL for "." / ".." /
   "dir/" (as path_remove_directory says). */
static errno_t removable_dir(const struct path_walk *w) {
    if (!w->node) return E_NOENT;
    if (w->node->type != FILETYPE_DIRECTORY) return E_NOTDIR;
    if (w->final_kind != FINAL_NAME || w->trailing_slash) return E_INVAL;
    return E_SUCCESS;
}

/* An empty directory: ENOTEMPTY otherwise. */
EXPORT("wasi_wasm_fs_rmdir") int32_t wasi_wasm_fs_rmdir(uint32_t fd, uintptr_t path, uint32_t len) {
    struct path_walk w;
    host_lock();
    errno_t err = host_walk_at(&w, fd, path, len, FOLLOW_IF_TRAILING_SLASH);
    if (!err) err = removable_dir(&w);
    if (!err) err = lazy_ready(w.node, true); /* empty only once listed */
    if (!err && w.node->dir.live) err = E_NOTEMPTY;
    if (!err) tree_remove_entry(&w);
    vfs_unlock();
    return err;
}

/* A directory and everything below it, in one hold of the lock (symlinks are removed, not
   followed; a symlink at path itself is ENOTDIR, as shutil.rmtree says). ENOMEM (part of
   the tree removed) only when not even the host's reserve has room for the walk. */
EXPORT("wasi_wasm_fs_rmtree") int32_t wasi_wasm_fs_rmtree(uint32_t fd, uintptr_t path, uint32_t len) {
    struct path_walk w;
    host_lock();
    errno_t err = host_walk_at(&w, fd, path, len, FOLLOW_IF_TRAILING_SLASH);
    if (!err) err = removable_dir(&w);
    if (!err) err = tree_empty(w.node);
    if (!err) tree_remove_entry(&w);
    vfs_unlock();
    return err;
}
