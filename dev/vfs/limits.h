/* Limits of path resolution a host can lower (never raise above the hard caps the
   buffers are sized for). */
#ifndef VFS_LIMITS_H
#define VFS_LIMITS_H

#include "base/core.h"

#define PATH_MAX_LEN 4096u        /* hard caps */
#define NAME_MAX_LEN 255u
#define SYMLINK_MAX_FOLLOWS 40u

struct vfs_limits {
    uint32_t max_path, max_name, max_symlink_follows;
};

const struct vfs_limits *vfs_limits(void);
/* 0 keeps a value; EINVAL above a hard cap. Lock held. */
errno_t vfs_set_limits(uint32_t max_path, uint32_t max_name, uint32_t max_follows);

#endif
