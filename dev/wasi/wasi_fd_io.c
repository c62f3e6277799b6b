/* fd_read, fd_write, fd_pread, fd_pwrite: scatter/gather over every iovec (not only the
   first, as wasmtime does), with every guest range checked before anything changes. */
#include "wasi/exports.h"
#include "process/fdops.h"
#include "process/guest.h"
#include "base/lock.h"
#include "vfs/pipe.h"
#include "process/stdio.h"
#include "base/checked.h"

#define IOV_MAX_COUNT 1024u
#define MAX_TRANSFER 0x7FFFFFFFu

struct iov { uint32_t buf, len; };

/* Reads and checks the iovec array; *total is the sum of lengths. */
static errno_t load_iovs(struct iov *iovs, uint32_t guest_iovs, uint32_t count, uint64_t *total) {
    if (count > IOV_MAX_COUNT) return E_INVAL;
    errno_t err = guest_read(iovs, guest_iovs, count * IOVEC_SIZE);
    if (err) return err;
    *total = 0;
    for (uint32_t i = 0; i < count; i++) {
        if ((err = guest_check(iovs[i].buf, iovs[i].len))) return err;
        *total += iovs[i].len;
    }
    return *total > MAX_TRANSFER ? E_INVAL : E_SUCCESS;
}

static errno_t write_stdio(int stream, const struct iov *iovs, uint32_t count, uint32_t *written) {
    struct process *self = current_process();
    uint32_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        errno_t err = stdio_write(self, stream, iovs[i].buf, iovs[i].len);
        if (err) return err;
        total += iovs[i].len;
    }
    *written = total;
    return E_SUCCESS;
}

struct file_write {
    const struct iov *iovs;
    uint32_t count;
    uint64_t total_len;      /* the iovecs' summed length, as load_iovs found it */
    bool positional;
    uint64_t position;
};

/* Under the lock shared and the file's data mutex when shared is the writer's holder, under
   the lock exclusive when it is NULL. false: the write would replace memory that readers
   may be reading (file_write_in_place), nothing was done, and it must run exclusive. */
static bool write_file_locked(struct fd_entry *e, const struct file_write *w, struct lock_holder *shared,
                              errno_t *result, uint32_t *written) {
    struct inode *node = e->node;
    bool append = e->flags & FDFLAG_APPEND;
    uint64_t offset = append ? node->size : w->positional ? w->position : e->offset;
    if (!offset_range_valid(offset, w->total_len)) {
        *result = E_INVAL; /* as Linux's write and pwrite past 2^63 */
        return true;
    }
    if (shared && !file_write_in_place(node, offset, offset + w->total_len)) return false;
    /* Memory that shared-lock writers unlinked comes back under the lock exclusive only. */
    uint64_t unzeroed_from = shared ? file_prepare_shared(node, offset, offset + w->total_len, shared) : NO_CHUNK_UNZEROED;
    if (unzeroed_from == PREPARE_NO_ROOM) return false;
    errno_t err = E_SUCCESS;
    uint32_t total = 0;
    for (uint32_t i = 0; i < w->count && !err; i++) {
        if (shared) file_write_prepared(node, offset, w->iovs[i].buf, w->iovs[i].len, unzeroed_from);
        else err = file_write_from_guest(node, offset, w->iovs[i].buf, w->iovs[i].len);
        if (!err) {
            offset += w->iovs[i].len;
            total += w->iovs[i].len;
        }
    }
    if (total) {
        err = E_SUCCESS; /* a short write is reported as such, as POSIX allows */
        if (shared) inode_touch_written(node);
        else inode_touch_modified(node);
    }
    if (!w->positional) e->offset = append ? node->size : offset;
    *result = err;
    *written = total;
    return true;
}

/* Writers of different files run in parallel (filedata.c says how readers stay safe).
   A file open once is written only through this fd, by this process, one call at a time:
   under the lock shared a second fd joins it only if it cannot write
   (inode_join_reader_shared), a writable one waits for the exclusive lock, so no other
   writer can appear while the shared lock is held. Only a file open
   more than once takes its data mutex: two atomic operations fewer per small write. The
   count is loaded with acquire: the other fd may have been closed under the shared lock
   just now (fd_release_shared) after its writer wrote, and its writes must be seen (fuzz
   regression tsan_sole_writer_after_shared_close). */
static errno_t write_file(struct fd_entry *e, const struct file_write *w, uint32_t *written) {
    if (!(e->access & ACCESS_WRITE)) return E_BADF;
    errno_t err = fd_need_right(e, RIGHT_FD_WRITE);
    if (err) return err;
    struct process *self = current_process();
    /* Only a write this large can cover a chunk whole (process.h, writing). */
    bool large = w->total_len >= CHUNK_SIZE;
    if (large) self->writing = e->node;
    process_lock_shared(self);
    bool shared_file = __atomic_load_n(&e->node->open_count, __ATOMIC_ACQUIRE) > 1;
    if (shared_file) holder_lock_mutex(&self->holder, MUTEX_OBJECT, &e->node->data_mutex);
    bool done = write_file_locked(e, w, &self->holder, &err, written);
    if (shared_file) holder_unlock_mutex(&self->holder, MUTEX_OBJECT);
    process_unlock_shared(self);
    if (!done) {
        process_lock(self);
        write_file_locked(e, w, NULL, &err, written);
        vfs_unlock();
    }
    if (large) self->writing = NULL;
    return err;
}

static struct waiter waiter_for(const struct fd_entry *e) {
    struct process *self = current_process();
    return (struct waiter){ &self->holder, self->can_block, (e->flags & FDFLAG_NONBLOCK) != 0 };
}

static errno_t pipe_write_iovs(const struct fd_entry *e, const struct iov *iovs, uint32_t count,
                               uint32_t *written) {
    uint32_t total = 0;
    errno_t err = E_SUCCESS;
    struct waiter w = waiter_for(e);
    for (uint32_t i = 0; i < count && !err; i++) {
        uint32_t n = 0;
        err = pipe_write(e->node, &w, iovs[i].buf, iovs[i].len, &n);
        total += n;
        if (n < iovs[i].len) break;
    }
    *written = total;
    return total ? E_SUCCESS : err;
}

static int32_t do_write(uint32_t fd, uint32_t guest_iovs, uint32_t count, bool positional,
                        uint64_t position, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    struct iov list[IOV_MAX_COUNT];
    uint64_t total;
    if ((err = guest_check(out, 4)) || (err = load_iovs(list, guest_iovs, count, &total))) return err;
    uint32_t written = 0;
    switch (e->kind) {
    case FD_STDOUT:
    case FD_STDERR:
        if (positional) return E_SPIPE;
        err = write_stdio(e->kind == FD_STDOUT ? 1 : 2, list, count, &written);
        break;
    case FD_FILE:
        err = write_file(e, &(struct file_write){ list, count, total, positional, position }, &written);
        break;
    case FD_PIPE_WRITE:
        if (positional) return E_SPIPE;
        err = pipe_write_iovs(e, list, count, &written);
        break;
    default:
        return E_BADF;
    }
    if (err) return err;
    return guest_write_u32(out, written);
}

EXPORT("fd_write") int32_t wasi_fd_write(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t out) {
    return do_write(fd, iovs, count, false, 0, out);
}

EXPORT("fd_pwrite") int32_t wasi_fd_pwrite(uint32_t fd, uint32_t iovs, uint32_t count,
                                           uint64_t offset, uint32_t out) {
    return do_write(fd, iovs, count, true, offset, out);
}

/* total_len: the iovecs' summed length, as load_iovs found it. */
static errno_t read_file(struct fd_entry *e, const struct iov *iovs, uint32_t count, uint64_t total_len,
                         bool positional, uint64_t position, uint32_t *nread) {
    if (!(e->access & ACCESS_READ)) return E_BADF;
    errno_t err = fd_need_right(e, RIGHT_FD_READ);
    if (err) return err;
    struct process *self = current_process();
    process_lock_shared(self);
    struct inode *node = e->node;
    uint64_t offset = positional ? position : e->offset;
    if (!offset_range_valid(offset, total_len)) {
        process_unlock_shared(self);
        return E_INVAL; /* as Linux's read and pread past 2^63 */
    }
    /* Loaded once, before the data (filedata.c: a writer may be extending the file). */
    uint64_t size = __atomic_load_n(&node->size, __ATOMIC_ACQUIRE);
    uint32_t total = 0;
    for (uint32_t i = 0; i < count && offset < size; i++) {
        uint64_t n = size - offset;
        if (n > iovs[i].len) n = iovs[i].len;
        file_read_to_guest(node, offset, iovs[i].buf, (uint32_t)n);
        offset += n;
        total += (uint32_t)n;
    }
    inode_touch_accessed(node);
    if (!positional) e->offset = offset;
    process_unlock_shared(self);
    *nread = total;
    return E_SUCCESS;
}

static errno_t read_stdin(const struct iov *iovs, uint32_t count, uint32_t *nread) {
    for (uint32_t i = 0; i < count; i++)
        if (iovs[i].len) return stdio_read(current_process(), iovs[i].buf, iovs[i].len, nread);
    *nread = 0;
    return E_SUCCESS;
}

/* Like a read(2) on a pipe: waits for the first bytes, returns what is there. */
static errno_t read_pipe(const struct fd_entry *e, const struct iov *iovs, uint32_t count, uint32_t *nread) {
    struct waiter w = waiter_for(e);
    for (uint32_t i = 0; i < count; i++)
        if (iovs[i].len) return pipe_read(e->node, &w, iovs[i].buf, iovs[i].len, nread);
    *nread = 0;
    return E_SUCCESS;
}

static int32_t do_read(uint32_t fd, uint32_t guest_iovs, uint32_t count, bool positional,
                       uint64_t position, uint32_t out) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    struct iov iovs[IOV_MAX_COUNT];
    uint64_t total;
    if ((err = guest_check(out, 4)) || (err = load_iovs(iovs, guest_iovs, count, &total))) return err;
    uint32_t nread = 0;
    switch (e->kind) {
    case FD_STDIN:
        if (positional) return E_SPIPE;
        err = read_stdin(iovs, count, &nread);
        break;
    case FD_FILE:
        err = read_file(e, iovs, count, total, positional, position, &nread);
        break;
    case FD_PIPE_READ:
        if (positional) return E_SPIPE;
        err = read_pipe(e, iovs, count, &nread);
        break;
    default:
        return E_BADF;
    }
    if (err) return err;
    return guest_write_u32(out, nread);
}

EXPORT("fd_read") int32_t wasi_fd_read(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t out) {
    return do_read(fd, iovs, count, false, 0, out);
}

EXPORT("fd_pread") int32_t wasi_fd_pread(uint32_t fd, uint32_t iovs, uint32_t count,
                                         uint64_t offset, uint32_t out) {
    return do_read(fd, iovs, count, true, offset, out);
}
