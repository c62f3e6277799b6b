#include "vfs/limits.h"

static struct vfs_limits limits = { PATH_MAX_LEN, NAME_MAX_LEN, SYMLINK_MAX_FOLLOWS };

const struct vfs_limits *vfs_limits(void) { return &limits; }

errno_t vfs_set_limits(uint32_t max_path, uint32_t max_name, uint32_t max_follows) {
    if (max_path > PATH_MAX_LEN || max_name > NAME_MAX_LEN || max_follows > SYMLINK_MAX_FOLLOWS)
        return E_INVAL;
    if (max_path) limits.max_path = max_path;
    if (max_name) limits.max_name = max_name;
    if (max_follows) limits.max_symlink_follows = max_follows;
    return E_SUCCESS;
}
