/* Access to the bound program's memory. Every pointer is checked against its current size
   first, so a copy hook never traps (and never while the VFS lock is held). */
#ifndef GUEST_H
#define GUEST_H

#include "core.h"

errno_t guest_check(uint32_t ptr, uint64_t len);
errno_t guest_read(void *core_dst, uint32_t guest_src, uint32_t len);
errno_t guest_write(uint32_t guest_dst, const void *core_src, uint32_t len);
errno_t guest_write_u32(uint32_t guest_dst, uint32_t value);
errno_t guest_write_u64(uint32_t guest_dst, uint64_t value);

#endif
