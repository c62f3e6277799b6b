/* The host's filesystem API: metadata (stat, readlink, set_times). Paths are relative to a
   directory fd of the calling process (a host's root preopen), in host buffers. */
#include "host/exports.h"
#include "host/host_call.h"
#include "process/fdops.h"

static uint32_t follow_mode(uint32_t follow) { return follow ? FOLLOW_FINAL : FOLLOW_IF_TRAILING_SLASH; }

/* The filestat (64 bytes) of path into out; follow: a final symlink is followed. */
EXPORT("wasi_wasm_fs_stat") int32_t wasi_wasm_fs_stat(uint32_t fd, uintptr_t path, uint32_t len, uint32_t follow,
                                                      uintptr_t out) {
    struct path_walk w;
    host_lock();
    errno_t err = in_host_buffer(out, FILESTAT_SIZE) ? host_walk_at(&w, fd, path, len, follow_mode(follow)) : E_FAULT;
    if (!err && !w.node) err = E_NOENT;
    if (!err) inode_fill_filestat(w.node, (uint8_t *)out);
    vfs_unlock();
    return err;
}

/* A symlink's target: up to buf_len bytes into buf, its whole length (a u32) into out, so a
   host whose buffer was too short knows what to ask for. EINVAL: not a symlink. */
EXPORT("wasi_wasm_fs_readlink") int32_t wasi_wasm_fs_readlink(uint32_t fd, uintptr_t path, uint32_t len, uintptr_t buf,
                                                              uint32_t buf_len, uintptr_t out) {
    struct path_walk w;
    host_lock();
    errno_t err = in_host_buffer(buf, buf_len) && in_host_buffer(out, 4)
                      ? host_walk_at(&w, fd, path, len, FOLLOW_IF_TRAILING_SLASH) : E_FAULT;
    if (!err && !w.node) err = E_NOENT;
    if (!err && w.node->type != FILETYPE_SYMBOLIC_LINK) err = E_INVAL;
    if (!err) {
        uint32_t size = (uint32_t)w.node->size;
        mem_copy((void *)buf, w.node->target, size < buf_len ? size : buf_len);
        put_u32((uint8_t *)out, size);
        inode_touch_accessed(w.node);
    }
    vfs_unlock();
    return err;
}

/* path_filestat_set_times on a host's path: fst_flags as WASI's (EINVAL when invalid). */
EXPORT("wasi_wasm_fs_set_times") int32_t wasi_wasm_fs_set_times(uint32_t fd, uintptr_t path, uint32_t len,
                                                                uint32_t follow, uint64_t atim, uint64_t mtim,
                                                                uint32_t fst_flags) {
    if (!times_flags_valid(fst_flags)) return E_INVAL;
    struct path_walk w;
    host_lock();
    errno_t err = host_walk_at(&w, fd, path, len, follow_mode(follow));
    if (!err && !w.node) err = E_NOENT;
    if (!err) err = apply_times(w.node, atim, mtim, fst_flags, vfs_now());
    vfs_unlock();
    return err;
}
