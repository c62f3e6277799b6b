/* A process's file descriptors. Numbers are handed out as wasmtime does: the highest
   closed number first, else one past the highest ever used. */
#ifndef PROCESS_FDTABLE_H
#define PROCESS_FDTABLE_H

#include "process/process.h"

static inline struct fd_entry *fd_slot(const struct process *p, uint32_t fd) {
    return &p->fd_blocks[fd / FD_BLOCK_SIZE]->entries[fd % FD_BLOCK_SIZE];
}

/* NULL unless open. Inline: every fd syscall starts here. */
static inline struct fd_entry *fd_lookup(const struct process *p, uint32_t fd) {
    if (fd >= p->fd_slots) return NULL;
    struct fd_entry *e = fd_slot(p, fd);
    return e->kind >= FD_FILE ? e : NULL;
}
/* What a closed number holds. */
static inline void fd_clear(struct fd_entry *e) {
    mem_zero(e, sizeof *e);
    e->kind = FD_CLOSED;
}
/* Lock held for the rest. A process's table is its own: it changes it under the lock held
   shared too, taking the allocator's mutex only to grow it. */
errno_t fd_allocate_number(struct process *p, uint32_t *fd_out);  /* its entry: FD_CLOSED, zeroed */
errno_t fd_reserve_number(struct process *p, uint32_t fd);        /* make slot fd exist */
void fd_release(struct fd_entry *entry);                          /* drop its inode ref */
void fd_move(struct fd_entry *to, struct fd_entry *from);         /* to closed first */
/* Under the lock shared: closes a file or directory fd unless that would free its inode
   (the last fd of an unlinked one) or memory (a preopen's name); false: nothing done. */
bool fd_release_shared(struct fd_entry *entry);
void fd_close_all(struct process *p);
/* Makes fd one end of pipe (closing what it was). */
errno_t fd_attach_pipe(struct process *p, uint32_t fd, struct inode *pipe, bool write_end);

#endif
