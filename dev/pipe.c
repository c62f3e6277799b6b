#include "pipe.h"
#include "alloc.h"
#include "fdtable.h"
#include "hooks.h"
#include "lock.h"

static void wake(struct pipe_data *p) {
    p->changes++;
    __builtin_wasm_memory_atomic_notify((int *)&p->changes, 0xFFFFFFFFu);
}

static void wait_for_change(struct pipe_data *p, uint32_t seen) {
    if (current_process()->can_block)
        __builtin_wasm_memory_atomic_wait32((int *)&p->changes, (int)seen, -1);
}

uint32_t pipe_buffered(const struct inode *pipe) { return pipe->pipe.tail - pipe->pipe.head; }

/* Copies between the guest and the ring, in at most two pieces because the ring wraps. */
static void ring_transfer(struct pipe_data *p, uint32_t position, uint32_t guest, uint32_t len, bool to_ring) {
    while (len) {
        uint32_t at = position & (PIPE_CAPACITY - 1);
        uint32_t n = PIPE_CAPACITY - at < len ? PIPE_CAPACITY - at : len;
        if (to_ring) hook_copy_in(core_addr(p->ring + at), guest, n);
        else hook_copy_out(guest, core_addr(p->ring + at), n);
        position += n;
        guest += n;
        len -= n;
    }
}

errno_t pipe_read(struct inode *pipe, uint32_t guest_dst, uint32_t len, uint32_t *nread) {
    struct pipe_data *p = &pipe->pipe;
    for (;;) {
        vfs_lock();
        uint32_t available = p->tail - p->head;
        if (available || !p->writers || !len) {
            uint32_t n = available < len ? available : len;
            ring_transfer(p, p->head, guest_dst, n, false);
            p->head += n;
            if (n) wake(p);
            vfs_unlock();
            *nread = n;
            return E_SUCCESS;
        }
        uint32_t seen = p->changes;
        vfs_unlock();
        wait_for_change(p, seen);
    }
}

errno_t pipe_write(struct inode *pipe, uint32_t guest_src, uint32_t len, uint32_t *written) {
    struct pipe_data *p = &pipe->pipe;
    uint32_t done = 0;
    for (;;) {
        vfs_lock();
        if (!p->readers) {
            vfs_unlock();
            *written = done;
            return done ? E_SUCCESS : E_PIPE;
        }
        uint32_t room = PIPE_CAPACITY - (p->tail - p->head);
        uint32_t n = room < len - done ? room : len - done;
        ring_transfer(p, p->tail, guest_src + done, n, true);
        p->tail += n;
        done += n;
        if (n) wake(p);
        uint32_t seen = p->changes;
        vfs_unlock();
        if (done == len) {
            *written = done;
            return E_SUCCESS;
        }
        wait_for_change(p, seen);
    }
}

void pipe_end_closed(struct inode *pipe, uint8_t fd_kind) {
    if (fd_kind == FD_PIPE_READ) pipe->pipe.readers--;
    else pipe->pipe.writers--;
    wake(&pipe->pipe);
}

/* Host API: a new pipe, held by the host until wasi_wasm_pipe_release. */
EXPORT("wasi_wasm_pipe_new") uint32_t wasi_wasm_pipe_new(void) {
    vfs_lock();
    struct inode *pipe = inode_create(FILETYPE_UNKNOWN);
    uint8_t *ring = pipe ? mem_alloc(PIPE_CAPACITY) : NULL;
    if (pipe && !ring) {
        inode_release_if_unused(pipe);
        pipe = NULL;
    }
    if (pipe) {
        pipe->is_pipe = true;
        pipe->pipe.ring = ring;
        pipe->open_count = 1;
    }
    vfs_unlock();
    return core_addr(pipe);
}

EXPORT("wasi_wasm_pipe_release") void wasi_wasm_pipe_release(uint32_t handle) {
    struct inode *pipe = (struct inode *)(uintptr_t)handle;
    vfs_lock();
    pipe->open_count--;
    inode_release_if_unused(pipe);
    vfs_unlock();
}

/* Host API: make fd of this process one end of the pipe (replacing what it was). */
EXPORT("wasi_wasm_pipe_attach") int32_t wasi_wasm_pipe_attach(uint32_t handle, uint32_t fd, uint32_t write_end) {
    struct process *self = current_process();
    struct inode *pipe = (struct inode *)(uintptr_t)handle;
    vfs_lock();
    errno_t err = fd_reserve_number(self, fd);
    if (!err) {
        struct fd_entry *e = &self->fds[fd];
        if (e->kind >= FD_FILE) fd_release(e);
        e->kind = write_end ? FD_PIPE_WRITE : FD_PIPE_READ;
        e->node = pipe;
        e->access = write_end ? ACCESS_WRITE : ACCESS_READ;
        e->rights_base = e->rights_inheriting =
            (write_end ? RIGHT_FD_WRITE : RIGHT_FD_READ) | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE;
        pipe->open_count++;
        if (write_end) pipe->pipe.writers++;
        else pipe->pipe.readers++;
        wake(&pipe->pipe);
    }
    vfs_unlock();
    return err;
}
