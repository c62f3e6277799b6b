/* The host's filesystem API: whole files. A read is one call per chunk; a write builds a
   new file that no directory names yet (held by a handle, as an fd holds an unlinked file)
   and links it in place of the old one at the end, so the write is all or nothing: ENOSPC
   half-way leaves the old content, and nobody sees a half-written file. */
#include "host/exports.h"
#include "host/host_call.h"
#include "vfs/lazy.h"
#include "base/handles.h"
#include "process/fdops.h"

/* Up to buf_len bytes of the file at path (symlinks followed) from offset into buf; out:
   {u64 the file's size, u32 bytes read, u32 0, u64 its inode number} (0 bytes at or past the
   end). EISDIR for a directory. A host reads a whole file by asking from offset 0 until it
   has the size, and starts again if the inode number changes on the way (a file renamed
   over the path meanwhile): the bytes it returns are always one file's. */
EXPORT("wasi_wasm_fs_read") int32_t wasi_wasm_fs_read(uint32_t fd, uintptr_t path, uint32_t len, uint64_t offset,
                                                      uintptr_t buf, uint32_t buf_len, uintptr_t out) {
    struct path_walk w;
    host_lock();
    errno_t err = in_host_buffer(buf, buf_len) && in_host_buffer(out, 24) ? host_walk_at(&w, fd, path, len, FOLLOW_FINAL)
                                                                           : E_FAULT;
    if (!err && !w.node) err = E_NOENT;
    if (!err && w.node->type == FILETYPE_DIRECTORY) err = E_ISDIR;
    if (!err && w.node->lazy == LAZY_REGULAR_FILE) err = lazy_load_file(w.node); /* its bytes (lazy.h) */
    if (!err) {
        uint64_t size = w.node->size;
        uint32_t n = offset < size ? (size - offset < buf_len ? (uint32_t)(size - offset) : buf_len) : 0;
        file_read_to_core(w.node, offset, (uint8_t *)buf, n);
        inode_touch_accessed(w.node);
        put_u64((uint8_t *)out, size);
        put_u32((uint8_t *)out + 8, n);
        put_u32((uint8_t *)out + 12, 0);
        put_u64((uint8_t *)out + 16, w.node->ino);
    }
    vfs_unlock();
    return err;
}

/* Where a new file for path goes: path's final name with its symlinks followed, as
   open(O_CREAT) finds it. EISDIR for a directory there or a path ending in '/'. Lock held. */
static errno_t walk_target(struct path_walk *w, uint32_t fd, uintptr_t path, uint32_t len) {
    if (len && len <= vfs_limits()->max_path && in_host_buffer(path, len) && ((const char *)path)[len - 1] == '/')
        return E_ISDIR;
    errno_t err = host_walk_at(w, fd, path, len, FOLLOW_FINAL);
    if (!err && w->node && w->node->type == FILETYPE_DIRECTORY) err = E_ISDIR;
    return err;
}

static void release_file(uint32_t handle, struct inode *file) {
    handle_drop(handle);
    file->open_count = 0;
    inode_release_if_unused(file);
}

/* Begins writing path anew: checks where the file will go (ENOENT for a missing directory,
   EISDIR, ENOTDIR, ELOOP, ...), then makes an empty file that no directory names, and
   writes its handle (a u32) to out. ENOSPC: no room for it; ENOMEM: no handle. The handle
   is the calling process's: its end (detach, or the reap of a terminated Worker) drops the
   file if nobody committed or dropped it, as an fd's close would an unlinked file. */
EXPORT("wasi_wasm_fs_file_new") int32_t wasi_wasm_fs_file_new(uint32_t fd, uintptr_t path, uint32_t len,
                                                              uintptr_t out) {
    struct path_walk w;
    host_lock();
    errno_t err = in_host_buffer(out, 4) ? walk_target(&w, fd, path, len) : E_FAULT;
    struct inode *file = NULL;
    if (!err && !(file = inode_create(FILETYPE_REGULAR_FILE))) err = E_NOSPC;
    if (!err) {
        uint32_t handle = handle_new(file, 0, HANDLE_FILE, host_owner());
        if (handle) {
            file->open_count = 1;
            put_u32((uint8_t *)out, handle);
        } else {
            inode_release_if_unused(file);
            err = E_NOMEM;
        }
    }
    vfs_unlock();
    return err;
}

/* Appends len bytes from buf to the new file: ENOSPC / EFBIG change nothing. EBADF: not a
   live handle of a new file. The process names the handle while the bytes go in: a stop
   in the copy leaves chunks past the size (another file's freed bytes in whole ones), and
   its reap or recover cuts them (process.h, appending). Named at every length: a small
   append stopped between its two pieces leaves a chunk and bytes past the size too, and
   an append costs one store more. Cleared before the unlock, so the name never outlives
   the hold. */
EXPORT("wasi_wasm_fs_file_append") int32_t wasi_wasm_fs_file_append(uint32_t handle, uintptr_t buf, uint32_t len) {
    struct process *self = current_process();
    host_lock();
    struct inode *file = handle_get(handle, HANDLE_FILE);
    errno_t err = !file ? E_BADF : !in_host_buffer(buf, len) ? E_FAULT : E_SUCCESS;
    if (!err && self) self->appending = handle;
    if (!err) err = file_write_from_core(file, file->size, (const uint8_t *)buf, len);
    if (self) self->appending = 0;
    vfs_unlock();
    return err;
}

/* Puts the new file at path (symlinks followed) in place of what is there, a file's other
   hard links keeping the old content, with the times fst_flags asks for (as
   path_filestat_set_times; with none, modified now). The handle is spent either way: on an error the new file is
   dropped and path is as it was. */
EXPORT("wasi_wasm_fs_file_commit") int32_t wasi_wasm_fs_file_commit(uint32_t handle, uint32_t fd, uintptr_t path,
                                                                    uint32_t len, uint64_t atim, uint64_t mtim,
                                                                    uint32_t fst_flags) {
    struct path_walk w;
    host_lock();
    struct inode *file = handle_get(handle, HANDLE_FILE);
    errno_t err = !file ? E_BADF : !times_flags_valid(fst_flags) ? E_INVAL : walk_target(&w, fd, path, len);
    if (!err) {
        struct inode *old = w.node;
        if (old) {
            dir_retarget(w.dir, w.entry, file);
            inode_touch_modified(w.dir);
        } else {
            err = dir_link_new(w.dir, w.name, w.name_len, file);
        }
        if (!err && fst_flags) (void)apply_times(file, atim, mtim, fst_flags, vfs_now());
        else if (!err) inode_touch_modified(file); /* written until now, as a program's writes stamp it */
        if (old) inode_release_if_unused(old);
    }
    if (file) release_file(handle, file);
    vfs_unlock();
    return err;
}

/* Drops a new file instead of committing it. EBADF: not a live handle of a new file. */
EXPORT("wasi_wasm_fs_file_drop") int32_t wasi_wasm_fs_file_drop(uint32_t handle) {
    host_lock();
    struct inode *file = handle_get(handle, HANDLE_FILE);
    if (file) release_file(handle, file);
    vfs_unlock();
    return file ? E_SUCCESS : E_BADF;
}
