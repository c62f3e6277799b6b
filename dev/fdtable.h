/* A process's file descriptors. Numbers are handed out as wasmtime does: the highest
   closed number first, else one past the highest ever used. */
#ifndef FDTABLE_H
#define FDTABLE_H

#include "process.h"

struct fd_entry *fd_lookup(struct process *p, uint32_t fd);        /* NULL unless open */
errno_t fd_allocate_number(struct process *p, uint32_t *fd_out);  /* its entry: FD_CLOSED, zeroed */
errno_t fd_reserve_number(struct process *p, uint32_t fd);        /* make slot fd exist */
void fd_release(struct fd_entry *entry);                          /* drop its inode ref; lock held */
void fd_close_all(struct process *p);                             /* lock held */

#endif
