/* The fd_* functions other than reads and writes. */
#include "wasi/exports.h"
#include "process/fdops.h"
#include "process/guest.h"
#include "base/hooks.h"
#include "base/lock.h"
#include "base/file_clock.h"
#include "process/stdio.h"
#include "base/checked.h"
#include "vfs/lazy.h"

EXPORT("fd_close") int32_t wasi_fd_close(uint32_t fd) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    struct process *self = current_process();
    if (e->kind == FD_STDOUT || e->kind == FD_STDERR) stdio_flush(self);
    /* Most closes change only this process's table and an open count: in parallel. */
    process_lock_shared(self);
    bool done = fd_release_shared(e);
    process_unlock_shared(self);
    if (done) return E_SUCCESS;
    process_lock(self);
    fd_release(e);
    vfs_unlock();
    return E_SUCCESS;
}

EXPORT("fd_seek") int32_t wasi_fd_seek(uint32_t fd, int64_t offset, uint32_t whence, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get_file(fd, &e, E_SPIPE);
    if (err || (err = guest_check(out, 8))) return err;
    if ((err = fd_need_right(e, whence == WHENCE_CUR && offset == 0 ? RIGHT_FD_TELL : RIGHT_FD_SEEK)))
        return err;
    uint64_t base;
    if (whence == WHENCE_SET) base = 0;
    else if (whence == WHENCE_CUR) base = e->offset;
    else if (whence == WHENCE_END) {
        process_lock_shared(current_process());
        base = e->node->size;
        process_unlock_shared(current_process());
    } else return E_INVAL;
    int64_t target;
    if (base > (uint64_t)INT64_MAX || __builtin_add_overflow((int64_t)base, offset, &target) || target < 0)
        return E_INVAL;
    e->offset = (uint64_t)target;
    return guest_write_u64(out, e->offset);
}

EXPORT("fd_tell") int32_t wasi_fd_tell(uint32_t fd, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get_file(fd, &e, E_SPIPE);
    if (err || (err = fd_need_right(e, RIGHT_FD_TELL))) return err;
    return guest_write_u64(out, e->offset);
}

EXPORT("fd_fdstat_get") int32_t wasi_fd_fdstat_get(uint32_t fd, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    uint8_t stat[FDSTAT_SIZE] = { 0 };
    stat[0] = e->node ? e->node->type : stdio_filetype(current_process(), e->kind);
    put_u16(stat + FDSTAT_FLAGS, e->flags);
    put_u64(stat + FDSTAT_RIGHTS_BASE, e->rights_base);
    put_u64(stat + FDSTAT_RIGHTS_INHERITING, e->rights_inheriting);
    return guest_write(out, stat, sizeof stat);
}

/* Files and pipe ends (a pipe end can be made non-blocking); EBADF for the rest. */
EXPORT("fd_fdstat_set_flags") int32_t wasi_fd_fdstat_set_flags(uint32_t fd, uint32_t flags) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    if (e->kind != FD_FILE && e->kind != FD_PIPE_READ && e->kind != FD_PIPE_WRITE) return E_BADF;
    if ((err = fd_need_right(e, RIGHT_FD_FDSTAT_SET_FLAGS))) return err;
    if (flags & ~(uint32_t)(FDFLAG_APPEND | FDFLAG_NONBLOCK)) return E_INVAL;
    e->flags = (uint16_t)flags;
    return E_SUCCESS;
}

/* Rights can only be dropped, never regained. */
EXPORT("fd_fdstat_set_rights") int32_t wasi_fd_fdstat_set_rights(uint32_t fd, uint64_t base,
                                                                 uint64_t inheriting) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    if ((base | inheriting) & ~RIGHTS_ALL) return E_INVAL;
    if ((base & ~e->rights_base) || (inheriting & ~e->rights_inheriting)) return E_NOTCAPABLE;
    e->rights_base = base;
    e->rights_inheriting = inheriting;
    return E_SUCCESS;
}

EXPORT("fd_filestat_get") int32_t wasi_fd_filestat_get(uint32_t fd, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err || (err = fd_need_right(e, e->node ? RIGHT_FD_FILESTAT_GET : 0))) return err;
    uint8_t stat[FILESTAT_SIZE] = { 0 };
    if (e->node) {
        process_lock_shared(current_process());
        inode_fill_filestat(e->node, stat);
        process_unlock_shared(current_process());
    } else {
        stat[FILESTAT_FILETYPE] = stdio_filetype(current_process(), e->kind);
    }
    return guest_write(out, stat, sizeof stat);
}

/* ftruncate or fallocate (allocate) to size under the lock shared, when the fd is the
   file's only one (inode_begin_emptying_shared): then nothing else reads the memory it
   frees or replaces. false: it must run exclusive, nothing was done (another fd holds the
   file, or ENOSPC: the exclusive path frees what waits to be reclaimed first). */
static bool resize_shared(struct process *self, struct inode *file, uint64_t size, bool allocate, errno_t *err) {
    if (!inode_begin_emptying_shared(file, 1)) return false;
    uint64_t before = file->size;
    *err = allocate ? file_allocate_shared(file, size, &self->holder) : file_set_size_shared(file, size, &self->holder);
    if (!*err && (!allocate || file->size != before)) inode_touch_modified_at(file, file_time_now());
    inode_end_emptying_shared(file);
    return *err != E_NOSPC;
}

EXPORT("fd_filestat_set_size") int32_t wasi_fd_filestat_set_size(uint32_t fd, uint64_t size) {
    struct fd_entry *e;
    errno_t err = fd_get_file(fd, &e, E_BADF);
    if (err) return err;
    if (lazy_read_only(e->node)) return E_PERM; /* a read-only mount, as wasmtime's (lazy.h) */
    if ((err = fd_need_right(e, RIGHT_FD_FILESTAT_SET_SIZE))) return err;
    if (!(e->access & ACCESS_WRITE) || size > INT64_MAX) return E_INVAL; /* as ftruncate(2) */
    struct process *self = current_process();
    process_lock_shared(self);
    bool done = resize_shared(self, e->node, size, false, &err);
    process_unlock_shared(self);
    if (done) return err;
    process_lock(self);
    err = file_set_size(e->node, size);
    if (!err) inode_touch_modified(e->node);
    vfs_unlock();
    return err;
}

bool times_flags_valid(uint32_t flags) {
    return !(flags & ~(uint32_t)15) && !((flags & FST_ATIM) && (flags & FST_ATIM_NOW)) &&
           !((flags & FST_MTIM) && (flags & FST_MTIM_NOW));
}

/* Each an aligned 8-byte store, atomic: under the lock shared, stat reads them and another
   thread may set them at once (inode_touch_modified_at's stores are the same). */
errno_t apply_times(struct inode *node, uint64_t atim, uint64_t mtim, uint32_t flags, uint64_t now) {
    if (!times_flags_valid(flags)) return E_INVAL;
    if (flags & (FST_ATIM | FST_ATIM_NOW)) __atomic_store_n(&node->atim, flags & FST_ATIM ? atim : now, __ATOMIC_RELAXED);
    if (flags & (FST_MTIM | FST_MTIM_NOW)) __atomic_store_n(&node->mtim, flags & FST_MTIM ? mtim : now, __ATOMIC_RELAXED);
    __atomic_store_n(&node->ctim, now, __ATOMIC_RELAXED);
    return E_SUCCESS;
}

EXPORT("fd_filestat_set_times") int32_t wasi_fd_filestat_set_times(uint32_t fd, uint64_t atim,
                                                                   uint64_t mtim, uint32_t flags) {
    if (!times_flags_valid(flags)) return E_INVAL;
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    if (!e->node) return E_BADF;
    if (lazy_read_only(e->node)) return E_PERM;
    if ((err = fd_need_right(e, RIGHT_FD_FILESTAT_SET_TIMES))) return err;
    struct process *self = current_process();
    process_lock_shared(self);
    err = apply_times(e->node, atim, mtim, flags, file_time_now());
    process_unlock_shared(self);
    return err;
}

EXPORT("fd_advise") int32_t wasi_fd_advise(uint32_t fd, uint64_t offset, uint64_t len, uint32_t advice) {
    (void)offset;
    (void)len;
    struct fd_entry *e;
    errno_t err = fd_get_file(fd, &e, E_BADF);
    if (err || (err = fd_need_right(e, RIGHT_FD_ADVISE))) return err;
    return advice <= 5 ? E_SUCCESS : E_INVAL;
}

EXPORT("fd_allocate") int32_t wasi_fd_allocate(uint32_t fd, uint64_t offset, uint64_t len) {
    struct fd_entry *e;
    errno_t err = fd_get_file(fd, &e, E_BADF);
    if (err || (err = fd_need_right(e, RIGHT_FD_ALLOCATE))) return err;
    if (!(e->access & ACCESS_WRITE)) return E_BADF;
    /* As fallocate(2): offsets are signed, an empty range is invalid, and a range past the
       largest offset is too big. */
    if (offset > (uint64_t)INT64_MAX || len == 0 || len > (uint64_t)INT64_MAX) return E_INVAL;
    if (!offset_range_valid(offset, len)) return E_FBIG;
    struct process *self = current_process();
    process_lock_shared(self);
    bool done = resize_shared(self, e->node, offset + len, true, &err);
    process_unlock_shared(self);
    if (done) return err;
    process_lock(self);
    uint64_t before = e->node->size;
    err = file_allocate(e->node, offset + len);
    if (!err && e->node->size != before) inode_touch_modified(e->node);
    vfs_unlock();
    return err;
}

static int32_t sync_fd(uint32_t fd, uint64_t right) {
    struct fd_entry *e;
    errno_t err = fd_get_file(fd, &e, E_BADF);
    return err ? err : fd_need_right(e, right);
}

EXPORT("fd_datasync") int32_t wasi_fd_datasync(uint32_t fd) { return sync_fd(fd, RIGHT_FD_DATASYNC); }
EXPORT("fd_sync") int32_t wasi_fd_sync(uint32_t fd) { return sync_fd(fd, RIGHT_FD_SYNC); }

EXPORT("fd_prestat_get") int32_t wasi_fd_prestat_get(uint32_t fd, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    if (!e->preopen_name) return E_BADF;
    uint8_t prestat[PRESTAT_SIZE] = { 0 };
    put_u32(prestat + PRESTAT_NAME_LEN, e->preopen_len);
    return guest_write(out, prestat, sizeof prestat);
}

EXPORT("fd_prestat_dir_name") int32_t wasi_fd_prestat_dir_name(uint32_t fd, uint32_t buf, uint32_t len) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    if (!e->preopen_name) return E_NOTDIR;
    if (e->preopen_len > len) return E_NAMETOOLONG;
    return guest_write(buf, e->preopen_name, e->preopen_len);
}

EXPORT("fd_renumber") int32_t wasi_fd_renumber(uint32_t from, uint32_t to) {
    struct process *self = current_process();
    struct fd_entry *e;
    errno_t err = fd_get(from, &e);
    if (err || (err = fd_lookup(self, to) ? E_SUCCESS : E_BADF) || from == to) return err;
    if (e->kind == FD_STDOUT || e->kind == FD_STDERR || fd_lookup(self, to)) stdio_flush(self);
    process_lock(current_process());
    err = fd_reserve_number(self, to);
    if (!err) {
        struct fd_entry *dst = fd_slot(self, to);
        if (dst->kind >= FD_FILE) fd_release(dst);
        fd_move(dst, fd_slot(self, from));
    }
    vfs_unlock();
    return err;
}

/* One entry into the guest buffer, truncated where the buffer ends, as wasmtime does. */
static uint32_t put_dirent(uint32_t buf, uint32_t room, uint64_t next, uint64_t ino,
                           uint8_t type, const char *name, uint32_t name_len) {
    uint8_t header[DIRENT_SIZE] = { 0 };
    put_u64(header, next);
    put_u64(header + DIRENT_INO, ino);
    put_u32(header + DIRENT_NAMLEN, name_len);
    header[DIRENT_TYPE] = type;
    uint32_t n = room < DIRENT_SIZE ? room : DIRENT_SIZE;
    hook_copy_out(buf, core_addr(header), n);
    uint32_t m = room - n < name_len ? room - n : name_len;
    if (m) hook_copy_out(buf + n, core_addr(name), m);
    return n + m;
}

/* Cookies: "." has d_next 1, ".." 2, and an entry its sequence number + 3, so resuming at
   cookie c starts at sequence c - 2: a cookie keeps its place while entries come and go. */
EXPORT("fd_readdir") int32_t wasi_fd_readdir(uint32_t fd, uint32_t buf, uint32_t len,
                                             uint64_t cookie, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get_dir(fd, &e);
    /* No rights check: wasmtime lists any directory fd, whatever rights it was opened with. */
    if (err || (err = guest_check(buf, len)) || (err = guest_check(out, 4))) return err;
    struct process *self = current_process();
    struct inode *dir = e->node;
    process_lock_shared(self);
    bool exclusive = dir->lazy == LAZY_DIRECTORY; /* its entries load under the lock exclusive */
    if (exclusive) {
        process_unlock_shared(self);
        process_lock(self);
        if ((err = lazy_load_dir(dir))) {
            vfs_unlock();
            return err;
        }
    }
    uint32_t used = 0;
    if (cookie == 0) used += put_dirent(buf, len, 1, dir->ino, FILETYPE_DIRECTORY, ".", 1);
    if (cookie <= 1 && used < len)
        used += put_dirent(buf + used, len - used, 2, dir->ino, FILETYPE_DIRECTORY, "..", 2);
    uint64_t first_seq = cookie > 2 ? cookie - 2 : 0;
    const struct dir_data *d = &dir->dir;
    if (first_seq <= 0xFFFFFFFFu) {
        /* Writers under the shared lock may add and remove entries meanwhile (dir.c): the
           arrays stay, a removed dentry waits in reclaim.c, so the listing may or may not
           show a name that comes or goes during it, as POSIX allows. */
        uint32_t end = __atomic_load_n(&d->used, __ATOMIC_ACQUIRE);
        for (uint32_t i = dir_slot_from(dir, (uint32_t)first_seq); i < end && used < len; i++) {
            const struct dentry *de = __atomic_load_n(&d->slots[i].entry, __ATOMIC_ACQUIRE);
            if (!de) continue;
            used += put_dirent(buf + used, len - used, (uint64_t)de->seq + 3, de->node->ino,
                               de->node->type, de->name, de->name_len);
        }
    }
    inode_touch_accessed(dir);
    if (exclusive) vfs_unlock();
    else process_unlock_shared(self);
    return guest_write_u32(out, used);
}
