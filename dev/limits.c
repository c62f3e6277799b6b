#include "limits.h"
#include "alloc.h"
#include "lock.h"
#include "process.h"

static struct vfs_limits limits = { PATH_MAX_LEN, NAME_MAX_LEN, SYMLINK_MAX_FOLLOWS };

const struct vfs_limits *vfs_limits(void) { return &limits; }

/* Host API: max_bytes bounds everything the VFS allocates (ENOSPC past it; 0 = only the
   memory's own maximum); the others lower the path, name and symlink limits (0 = keep). */
EXPORT("wasi_wasm_set_limits") int32_t wasi_wasm_set_limits(uint64_t max_bytes, uint32_t max_path,
                                                            uint32_t max_name, uint32_t max_follows) {
    if (max_path > PATH_MAX_LEN || max_name > NAME_MAX_LEN || max_follows > SYMLINK_MAX_FOLLOWS)
        return E_INVAL;
    vfs_lock();
    mem_set_limit(max_bytes);
    if (max_path) limits.max_path = max_path;
    if (max_name) limits.max_name = max_name;
    if (max_follows) limits.max_symlink_follows = max_follows;
    vfs_unlock();
    return E_SUCCESS;
}

/* Host API: the most fds this process may have open at once (EMFILE past it). */
EXPORT("wasi_wasm_set_max_fds") int32_t wasi_wasm_set_max_fds(uint32_t max_fds) {
    if (max_fds < 3 || max_fds > MAX_FDS) return E_INVAL;
    current_process()->max_fds = max_fds;
    return E_SUCCESS;
}
