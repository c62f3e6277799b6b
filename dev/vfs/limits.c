#include "vfs/limits.h"

struct vfs_limits OWN_CACHE_LINES vfs_limits_now = {
    LIMIT_MAX_PATH_DEFAULT, LIMIT_MAX_NAME_DEFAULT, LIMIT_MAX_SYMLINK_FOLLOWS_DEFAULT,
};

errno_t vfs_set_limits(uint32_t max_path, uint32_t max_name, uint32_t max_follows) {
    if (max_path > LIMIT_MAX_PATH_MAX || max_name > LIMIT_MAX_NAME_MAX || max_follows > LIMIT_MAX_SYMLINK_FOLLOWS_MAX)
        return E_INVAL;
    if (max_path) vfs_limits_now.max_path = max_path;
    if (max_name) vfs_limits_now.max_name = max_name;
    if (max_follows) vfs_limits_now.max_symlink_follows = max_follows;
    return E_SUCCESS;
}
