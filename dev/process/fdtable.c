#include "process/fdtable.h"
#include "base/alloc.h"
#include "vfs/pipe.h"
#include "base/stop_test.h"

static uint32_t directory_bytes(uint32_t blocks) { return blocks * (uint32_t)sizeof(struct fd_block *); }

/* Adds blocks until fd has one; the blocks already there stay where they are. */
static errno_t add_blocks(struct process *p, uint32_t fd) {
    uint32_t needed = fd / FD_BLOCK_SIZE + 1;
    if (needed <= p->fd_block_count) return E_SUCCESS;
    struct fd_block **dir = mem_alloc(directory_bytes(needed));
    if (!dir) return E_NOMEM;
    uint32_t have = p->fd_block_count;
    for (uint32_t i = have; i < needed; i++) {
        if (!(dir[i] = mem_alloc_zeroed(sizeof(struct fd_block)))) {
            while (i-- > have) mem_free(dir[i], sizeof(struct fd_block));
            mem_free(dir, directory_bytes(needed));
            return E_NOMEM;
        }
    }
    mem_copy(dir, p->fd_blocks, directory_bytes(have));
    mem_free(p->fd_blocks, directory_bytes(have));
    p->fd_blocks = dir;
    p->fd_block_count = needed;
    return E_SUCCESS;
}

errno_t fd_reserve_number(struct process *p, uint32_t fd) {
    if (fd >= LIMIT_MAX_FDS_MAX) return E_BADF;
    errno_t err = add_blocks(p, fd);
    if (err) return err;
    if (fd >= p->fd_slots) p->fd_slots = fd + 1;
    return E_SUCCESS;
}

errno_t fd_allocate_number(struct process *p, uint32_t *fd_out) {
    uint32_t fd = p->fd_slots;
    for (uint32_t i = p->fd_slots; i-- > 0;) {
        if (fd_slot(p, i)->kind == FD_CLOSED) {
            fd = i;
            break;
        }
    }
    if (fd == p->fd_slots) {
        if (fd >= p->max_fds) return E_MFILE;
        bool shared = p->holder.state == HOLDS_SHARED;
        if (shared) mem_lock_shared(&p->holder);
        errno_t err = fd_reserve_number(p, fd);
        if (shared) mem_unlock_shared(&p->holder);
        if (err) return err;
    }
    fd_clear(fd_slot(p, fd));
    *fd_out = fd;
    return E_SUCCESS;
}

/* The entry lets go first: a process stopped anywhere after (a terminated Worker, reaped;
   a trap, recovered) leaves a count one too many (a leak), never an fd naming an inode
   this close freed, which the reap would close again and a recovered process could write
   through into whatever took the inode's block. */
void fd_release(struct fd_entry *entry) {
    struct fd_entry gone = *entry;
    fd_clear(entry);
    struct inode *node = gone.node;
    if (node) {
        if (gone.kind == FD_PIPE_READ || gone.kind == FD_PIPE_WRITE) pipe_end_closed(node, gone.kind == FD_PIPE_WRITE);
#ifdef STOP_WINDOW
        bool frees = node->open_count == 1 && !node->nlink && !node->dead_pending;
#endif
        node->open_count--;
        inode_release_if_unused(node);
        STOP_TEST(STOP_CLOSE_FREED, frees); /* as at mem_free's entry below */
    }
    mem_free(gone.preopen_name, gone.preopen_len);
}

bool fd_release_shared(struct fd_entry *entry) {
    if ((entry->kind != FD_FILE && entry->kind != FD_DIR) || entry->preopen_name) return false;
    /* The entry lets go before the count drops, and takes the node back if the close must
       be exclusive (fd_release says why: stopped in between, a count one too many; the
       rest of a closed entry is zeroed when its number is handed out again). */
    struct inode *node = entry->node;
    uint8_t kind = entry->kind;
    entry->kind = FD_CLOSED;
    entry->node = NULL;
    /* Other fds of the node may be opened and closed meanwhile, and a file's last name may
       go (a shared-lock unlink): the count drops here only while another fd or a name keeps
       the node. A last close that races the unlink of the last name leaves both at 0; the
       unlink made the node wait in reclaim.c, which frees it at the next exclusive hold. */
    uint32_t count = __atomic_load_n(&node->open_count, __ATOMIC_RELAXED);
    do {
        if (count == 1 && !__atomic_load_n(&node->nlink, __ATOMIC_SEQ_CST)) {
            entry->node = node;
            entry->kind = kind;
            return false;
        }
    } while (!__atomic_compare_exchange_n(&node->open_count, &count, count - 1, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    STOP_TEST(STOP_CLOSE_SHARED, true); /* where a stop point would be */
    fd_clear(entry);
    return true;
}

/* The old number lets go before the new one names the node: stopped in between, the node
   has a count no fd holds (a leak), never two fds on one count, the second of whose closes
   would free the node under another process's fd. */
void fd_move(struct fd_entry *to, struct fd_entry *from) {
    struct fd_entry moved = *from;
    fd_clear(from);
    STOP_TEST(STOP_RENUMBER_MOVED, moved.node != NULL); /* where a stop point would be */
    *to = moved;
}

void fd_close_all(struct process *p) {
    for (uint32_t i = 0; i < p->fd_slots; i++)
        if (fd_slot(p, i)->kind >= FD_FILE) fd_release(fd_slot(p, i));
    for (uint32_t i = 0; i < p->fd_block_count; i++) mem_free(p->fd_blocks[i], sizeof(struct fd_block));
    mem_free(p->fd_blocks, directory_bytes(p->fd_block_count));
    p->fd_blocks = NULL;
    p->fd_slots = p->fd_block_count = 0;
}

errno_t fd_attach_pipe(struct process *p, uint32_t fd, struct inode *pipe, bool write_end) {
    if (fd >= p->max_fds) return E_BADF;
    errno_t err = fd_reserve_number(p, fd);
    if (err) return err;
    struct fd_entry *e = fd_slot(p, fd);
    if (e->kind >= FD_FILE) fd_release(e);
    e->kind = write_end ? FD_PIPE_WRITE : FD_PIPE_READ;
    e->node = pipe;
    e->access = write_end ? ACCESS_WRITE : ACCESS_READ;
    e->rights_base = e->rights_inheriting =
        (write_end ? RIGHT_FD_WRITE : RIGHT_FD_READ) | RIGHT_FD_FDSTAT_SET_FLAGS |
        RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE;
    pipe->open_count++;
    pipe_end_opened(pipe, write_end);
    return E_SUCCESS;
}
