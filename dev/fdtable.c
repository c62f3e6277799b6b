#include "fdtable.h"
#include "alloc.h"
#include "limits.h"
#include "pipe.h"
#include "vfs.h"

errno_t fd_reserve_number(struct process *p, uint32_t fd) {
    if (fd >= MAX_FDS) return E_BADF;
    if (fd >= p->fd_cap) {
        uint32_t cap = p->fd_cap ? p->fd_cap : 16;
        while (cap <= fd) cap *= 2;
        uint32_t entry = (uint32_t)sizeof(struct fd_entry);
        struct fd_entry *fds = mem_realloc(p->fds, p->fd_cap * entry, cap * entry);
        if (!fds) return E_NOMEM;
        mem_zero(fds + p->fd_cap, (cap - p->fd_cap) * entry);
        p->fds = fds;
        p->fd_cap = cap;
    }
    if (fd >= p->fd_slots) p->fd_slots = fd + 1;
    return E_SUCCESS;
}

errno_t fd_allocate_number(struct process *p, uint32_t *fd_out) {
    uint32_t fd = p->fd_slots;
    for (uint32_t i = p->fd_slots; i-- > 0;) {
        if (p->fds[i].kind == FD_CLOSED) {
            fd = i;
            break;
        }
    }
    if (fd == p->fd_slots) {
        if (fd >= p->max_fds) return E_MFILE;
        errno_t err = fd_reserve_number(p, fd);
        if (err) return err;
    }
    mem_zero(&p->fds[fd], sizeof p->fds[fd]);
    p->fds[fd].kind = FD_CLOSED;
    *fd_out = fd;
    return E_SUCCESS;
}

void fd_release(struct fd_entry *entry) {
    if (entry->node) {
        if (entry->kind == FD_PIPE_READ || entry->kind == FD_PIPE_WRITE) pipe_end_closed(entry->node, entry->kind);
        entry->node->open_count--;
        inode_release_if_unused(entry->node);
    }
    mem_free(entry->preopen_name, entry->preopen_len);
    mem_zero(entry, sizeof *entry);
    entry->kind = FD_CLOSED;
}

void fd_close_all(struct process *p) {
    for (uint32_t i = 0; i < p->fd_slots; i++)
        if (p->fds[i].kind >= FD_FILE) fd_release(&p->fds[i]);
    mem_free(p->fds, p->fd_cap * (uint32_t)sizeof(struct fd_entry));
    p->fds = NULL;
    p->fd_slots = p->fd_cap = 0;
}
