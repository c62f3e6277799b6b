/* Access to the bound program's memory. Every pointer is checked against its current size
   first, so a copy hook never traps (and never while the VFS lock is held). Inline: every
   syscall does several of these, and a call costs as much as the check. */
#ifndef PROCESS_GUEST_H
#define PROCESS_GUEST_H

#include "base/hooks.h"
#include "process/process.h"
#include "vfs/path.h"

static inline errno_t guest_check(uint32_t ptr, uint64_t len) {
    struct process *self = current_process();
    uint64_t end = (uint64_t)ptr + len;
    if (end <= self->guest_bytes) return E_SUCCESS;
    /* Memories only grow: ask again only when the cached size is too small. */
    self->guest_bytes = (uint64_t)hook_guest_pages() * PAGE_SIZE;
    return end <= self->guest_bytes ? E_SUCCESS : E_FAULT;
}

static inline errno_t guest_read(void *core_dst, uint32_t guest_src, uint32_t len) {
    errno_t err = guest_check(guest_src, len);
    if (err) return err;
    if (len) hook_copy_in(core_addr(core_dst), guest_src, len);
    return E_SUCCESS;
}

static inline errno_t guest_write(uint32_t guest_dst, const void *core_src, uint32_t len) {
    errno_t err = guest_check(guest_dst, len);
    if (err) return err;
    if (len) hook_copy_out(guest_dst, core_addr(core_src), len);
    return E_SUCCESS;
}

static inline errno_t guest_write_u32(uint32_t guest_dst, uint32_t value) {
    return guest_write(guest_dst, &value, 4);
}

static inline errno_t guest_write_u64(uint32_t guest_dst, uint64_t value) {
    return guest_write(guest_dst, &value, 8);
}

/* A path from the guest into dst (LIMIT_MAX_PATH_MAX bytes): ENAMETOOLONG over the limit,
   EFAULT outside the guest's memory, EINVAL / EILSEQ for NUL or bad UTF-8. */
static inline errno_t guest_read_path(char *dst, uint32_t guest_src, uint32_t len) {
    if (len > vfs_limits()->max_path) return E_NAMETOOLONG;
    errno_t err = guest_read(dst, guest_src, len);
    return err ? err : path_check_bytes((const uint8_t *)dst, len);
}

/* Reads the guest's path into w and walks it from base. Lock held. */
static inline errno_t guest_walk_path(struct path_walk *w, struct inode *base, uint32_t guest_path,
                                      uint32_t len, uint32_t follow) {
    errno_t err = guest_read_path(w->buf[0], guest_path, len);
    return err ? err : path_walk(w, base, w->buf[0], len, follow);
}

#endif
