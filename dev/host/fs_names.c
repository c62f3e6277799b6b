/* The host's filesystem API: names (rename, link, symlink), as the path_* functions do them. */
#include "host/exports.h"
#include "host/host_call.h"
#include "base/alloc.h"
#include "vfs/tree.h"

EXPORT("wasi_wasm_fs_rename") int32_t wasi_wasm_fs_rename(uint32_t fd, uintptr_t old_path, uint32_t old_len,
                                                          uintptr_t new_path, uint32_t new_len) {
    struct path_walk from, to;
    host_lock();
    errno_t err = host_walk_at(&from, fd, old_path, old_len, FOLLOW_NEVER);
    /* "file/": the new path resolves (and "." there is refused) before ENOTDIR, as in path_rename. */
    errno_t source_not_dir = err == E_NOTDIR && from.reached_final ? E_NOTDIR : E_SUCCESS;
    if (source_not_dir) err = E_SUCCESS;
    if (!err) err = host_walk_at(&to, fd, new_path, new_len, FOLLOW_NEVER);
    if (!err && source_not_dir) err = to.final_kind != FINAL_NAME ? E_BUSY : E_NOTDIR;
    if (!err) err = tree_rename(&from, &to);
    vfs_unlock();
    return err;
}

/* A hard link new_path to old_path itself (a symlink is not followed). EPERM for a directory. */
EXPORT("wasi_wasm_fs_link") int32_t wasi_wasm_fs_link(uint32_t fd, uintptr_t old_path, uint32_t old_len,
                                                      uintptr_t new_path, uint32_t new_len) {
    struct path_walk from, to;
    host_lock();
    errno_t err = host_walk_at(&from, fd, old_path, old_len, FOLLOW_IF_TRAILING_SLASH);
    if (!err && !from.node && from.trailing_slash) err = E_NOENT;
    if (!err) err = host_walk_at(&to, fd, new_path, new_len, FOLLOW_IF_TRAILING_SLASH);
    if (!err && !from.node) err = E_NOENT;
    if (!err && to.node) err = E_EXIST;
    if (!err && to.trailing_slash) err = E_NOENT;
    if (!err && from.node->type == FILETYPE_DIRECTORY) err = E_PERM;
    if (!err && !(err = dir_link_new(to.dir, to.name, to.name_len, from.node))) inode_touch_changed(from.node);
    vfs_unlock();
    return err;
}

/* A copy of the host's target, checked as path_symlink checks a program's. */
static errno_t copy_target(uintptr_t target, uint32_t target_len, char **copy) {
    *copy = NULL;
    if (target_len > vfs_limits()->max_path) return E_NAMETOOLONG;
    if (!in_host_buffer(target, target_len)) return E_FAULT;
    errno_t err = path_check_bytes((const uint8_t *)target, target_len);
    if (err || !target_len) return err;
    if (((const char *)target)[0] == '/') return E_PERM; /* it could only ever escape */
    if (!(*copy = mem_alloc(target_len))) return E_NOSPC;
    mem_copy(*copy, (const void *)target, target_len);
    return E_SUCCESS;
}

/* Symlink path holding target (relative: an absolute one is EPERM). */
EXPORT("wasi_wasm_fs_symlink") int32_t wasi_wasm_fs_symlink(uintptr_t target, uint32_t target_len, uint32_t fd,
                                                            uintptr_t path, uint32_t len) {
    struct path_walk w;
    char *copy;
    host_lock();
    errno_t err = copy_target(target, target_len, &copy);
    if (!err) err = host_walk_at(&w, fd, path, len, FOLLOW_IF_TRAILING_SLASH);
    if (!err) err = tree_symlink(&w, &copy, target_len);
    if (copy) mem_free(copy, target_len);
    vfs_unlock();
    return err;
}
