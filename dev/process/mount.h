/* Lazy host mounts, as the host sets them up and looks at them (vfs/lazy.h). */
#ifndef PROCESS_MOUNT_H
#define PROCESS_MOUNT_H

#include "process/process.h"

/* Makes the existing empty VFS directory path (absolute) a lazy mount of the host's token;
   flags: LAZY_MOUNT_READ_ONLY. ENOENT, ENOTDIR, ENOTEMPTY, EINVAL (token 0, unknown flags).
   Lock held exclusive. */
errno_t mount_lazy(const char *path, uint32_t len, uint64_t token, uint32_t flags);

/* What the name path (relative to the process's directory fd, a final symlink not
   followed) is: out gets its u64 token, u8 LAZY_* state and u8 read-only flag (16 bytes).
   A host writing a mount back skips what is still lazy. Lock held exclusive. */
errno_t mount_lazy_info(struct process *p, uint32_t fd, const char *path, uint32_t len, uint8_t out[16]);

#endif
