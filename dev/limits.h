/* Limits a host can lower (never raise above the hard caps the buffers are sized for). */
#ifndef LIMITS_H
#define LIMITS_H

#include "core.h"

#define PATH_MAX_LEN 4096u        /* hard caps */
#define NAME_MAX_LEN 255u
#define SYMLINK_MAX_FOLLOWS 40u
#define MAX_FDS 65536u

struct vfs_limits {
    uint32_t max_path, max_name, max_symlink_follows;
};

const struct vfs_limits *vfs_limits(void);

#endif
