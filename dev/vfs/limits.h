/* Limits of path resolution a host can lower (never raise above the hard caps the
   buffers are sized for). */
#ifndef VFS_LIMITS_H
#define VFS_LIMITS_H

#include "base/core.h"
#include "base/host_abi.h" /* the defaults and hard caps: LIMIT_MAX_PATH_MAX, ... */


struct vfs_limits {
    uint32_t max_path, max_name, max_symlink_follows;
};

/* Set only under the lock exclusive (vfs_set_limits). Read through vfs_limits, inline: a
   call from wasm costs more than the load (bench/ops.py --instructions). */
extern struct vfs_limits vfs_limits_now;
static inline const struct vfs_limits *vfs_limits(void) { return &vfs_limits_now; }
/* 0 keeps a value; EINVAL above a hard cap. Lock held. */
errno_t vfs_set_limits(uint32_t max_path, uint32_t max_name, uint32_t max_follows);

#endif
