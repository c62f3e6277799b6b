#include "process/mount.h"
#include "process/fdtable.h"
#include "vfs/lazy.h"
#include "vfs/path.h"

errno_t mount_lazy(const char *path, uint32_t len, uint64_t token, uint32_t flags) {
    if (flags & ~(uint32_t)LAZY_MOUNT_READ_ONLY) return E_INVAL;
    while (len && *path == '/') { path++; len--; }
    struct inode *root = vfs_root();
    if (!root) return E_NOMEM;
    struct inode *dir = root;
    struct path_walk walk;
    if (len) {
        errno_t err = path_walk(&walk, root, path, len, FOLLOW_FINAL);
        if (err) return err;
        if (!walk.node) return E_NOENT;
        dir = walk.node;
    }
    return lazy_mount(dir, token, flags & LAZY_MOUNT_READ_ONLY);
}

errno_t mount_lazy_info(struct process *p, uint32_t fd, const char *path, uint32_t len, uint8_t out[16]) {
    struct fd_entry *e = fd_lookup(p, fd);
    if (!e || e->kind != FD_DIR) return E_BADF;
    struct path_walk walk;
    errno_t err = path_walk(&walk, e->node, path, len, FOLLOW_NEVER);
    if (err) return err;
    if (!walk.node) return E_NOENT;
    mem_zero(out, 16);
    put_u64(out, walk.node->lazy_token);
    out[8] = walk.node->lazy;
    out[9] = walk.node->read_only;
    return E_SUCCESS;
}
