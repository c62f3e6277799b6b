#include "vfs/pipe.h"
#include "base/alloc.h"
#include "base/hooks.h"
#include "base/lock.h"
#include "base/wait.h"

/* Under the lock exclusive. Waiters read changes atomically in their wait, unlocked: a
   stale value costs them at most one wait slice (base/wait.h). */
static void wake(struct pipe_data *p) {
    p->changes++;
    platform_notify((int *)&p->changes, 0xFFFFFFFFu);
}

static void wait_for_change(struct pipe_data *p, const struct waiter *w, uint32_t seen) {
    if (w->can_block) wait_interruptibly((int *)&p->changes, (int)seen, UINT64_MAX);
}

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

errno_t pipe_read(struct inode *pipe, const struct waiter *w, uint32_t guest_dst, uint32_t len, uint32_t *nread) {
    struct pipe_data *p = &pipe->pipe;
    for (;;) {
        vfs_lock(w->holder, w->can_block);
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
        if (w->nonblocking) return E_AGAIN;
        wait_for_change(p, w, seen);
    }
}

errno_t pipe_write(struct inode *pipe, const struct waiter *w, uint32_t guest_src, uint32_t len, uint32_t *written) {
    struct pipe_data *p = &pipe->pipe;
    uint32_t done = 0;
    for (;;) {
        vfs_lock(w->holder, w->can_block);
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
        if (done == len || (w->nonblocking && done)) {
            *written = done;
            return E_SUCCESS;
        }
        if (w->nonblocking) return E_AGAIN;
        wait_for_change(p, w, seen);
    }
}

struct inode *pipe_create(void) {
    struct inode *pipe = inode_create(FILETYPE_UNKNOWN);
    uint8_t *ring = pipe ? mem_alloc(PIPE_CAPACITY) : NULL;
    if (pipe && !ring) {
        inode_release_if_unused(pipe);
        return NULL;
    }
    if (pipe) {
        pipe->is_pipe = true;
        pipe->pipe.ring = ring;
        pipe->pipe.head = pipe->pipe.tail = PIPE_FIRST_POSITION;
    }
    return pipe;
}

void pipe_end_opened(struct inode *pipe, bool write_end) {
    if (write_end) pipe->pipe.writers++;
    else pipe->pipe.readers++;
    wake(&pipe->pipe);
}

void pipe_end_closed(struct inode *pipe, bool write_end) {
    if (write_end) pipe->pipe.writers--;
    else pipe->pipe.readers--;
    wake(&pipe->pipe);
}
