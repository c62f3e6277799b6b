/* A process's file descriptors. Numbers are handed out as wasmtime does: the highest
   closed number first, else one past the highest ever used. */
#ifndef FDTABLE_H
#define FDTABLE_H

#include "process.h"

/* NULL unless open. Inline: every fd syscall starts here. */
static inline struct fd_entry *fd_lookup(struct process *p, uint32_t fd) {
    if (fd >= p->fd_slots) return NULL;
    struct fd_entry *e = &p->fds[fd];
    return e->kind >= FD_FILE ? e : NULL;
}
errno_t fd_allocate_number(struct process *p, uint32_t *fd_out);  /* its entry: FD_CLOSED, zeroed */
errno_t fd_reserve_number(struct process *p, uint32_t fd);        /* make slot fd exist */
void fd_release(struct fd_entry *entry);                          /* drop its inode ref; lock held */
void fd_close_all(struct process *p);                             /* lock held */

#endif
