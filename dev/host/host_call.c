/* The lock, buffer and path checks every host export uses. */
#include "host/host_call.h"
#include "base/handles.h"
#include "process/fdops.h"

/* Like process_lock, it frees what shared-lock writers unlinked, so that a host call sees
   the memory they gave back. */
void lock_anonymous(bool can_block) {
    vfs_lock(NULL, can_block);
    reclaim_now();
}

void host_lock(void) {
    struct process *self = current_process();
    if (self) process_lock(self);
    else lock_anonymous(true);
}

uint32_t host_owner(void) {
    struct process *self = current_process();
    return self ? self->id : 0;
}

bool in_host_buffer(uintptr_t ptr, uint32_t len) {
    return len == 0 || handle_covers(ptr, len, HANDLE_BUFFER);
}

errno_t host_dir(uint32_t fd, struct inode **base) {
    if (!current_process()) return E_BADF;
    struct fd_entry *e;
    errno_t err = fd_get_dir(fd, &e);
    if (!err) *base = e->node;
    return err;
}

errno_t host_walk(struct path_walk *w, struct inode *base, uintptr_t path, uint32_t len, uint32_t follow) {
    if (len > vfs_limits()->max_path) return E_NAMETOOLONG;
    if (!in_host_buffer(path, len)) return E_FAULT;
    mem_copy(w->buf[0], (const void *)path, len);
    errno_t err = path_check_bytes((const uint8_t *)w->buf[0], len);
    return err ? err : path_walk(w, base, w->buf[0], len, follow);
}

errno_t host_walk_at(struct path_walk *w, uint32_t fd, uintptr_t path, uint32_t len, uint32_t follow) {
    struct inode *base;
    errno_t err = host_dir(fd, &base);
    return err ? err : host_walk(w, base, path, len, follow);
}
