/* Preopened directories: the directory a host names, created with its missing ancestors
   as by mkdir -p, becomes the process's next fd. */
#include "process/preopen.h"
#include "base/alloc.h"
#include "process/fdops.h"
#include "vfs/path.h"
#include "vfs/tree.h"

/* Before anything is created: the whole path must be valid, so that a bad component at the
   end cannot leave the directories before it behind. */
static errno_t check_preopen_path(const char *p, uint32_t len, uint32_t *components) {
    if (len > vfs_limits()->max_path) return E_NAMETOOLONG;
    errno_t err = path_check_bytes((const uint8_t *)p, len);
    if (err) return err;
    *components = 0;
    for (uint32_t i = 0; i < len;) {
        while (i < len && p[i] == '/') i++;
        uint32_t start = i;
        while (i < len && p[i] != '/') i++;
        if (i - start > vfs_limits()->max_name) return E_NAMETOOLONG;
        if (i > start) (*components)++;
    }
    return E_SUCCESS;
}

/* `mkdir -p` of a path relative to the root, lock held: each component must be a directory
   (a symlink is followed, confined to the root like any path) or is created. Each prefix is
   walked afresh, so `..` and symlinks mean what they mean to a program. On failure the
   directories created so far are removed again and their parents' times restored. */
static errno_t make_preopen_dirs(struct path_walk *w, const char *p, uint32_t len,
                                 uint32_t components) {
    struct tree_made_dir *created = mem_alloc(components * (uint32_t)sizeof *created);
    if (!created) return E_NOSPC;
    uint32_t n = 0;
    errno_t err = E_SUCCESS;
    for (uint32_t end = 0; !err;) {
        while (end < len && p[end] == '/') end++;
        if (end == len) break;
        while (end < len && p[end] != '/') end++;
        err = path_walk(w, vfs_root(), p, end, FOLLOW_IF_TRAILING_SLASH);
        if (!err && w->node && w->node->type == FILETYPE_SYMBOLIC_LINK) {
            err = path_walk(w, vfs_root(), p, end, FOLLOW_FINAL);
            if (!err && !w->node) err = E_EXIST; /* a dangling symlink: as mkdir -p says */
        }
        if (err) break;
        if (w->node) {
            if (w->node->type != FILETYPE_DIRECTORY) err = E_NOTDIR;
            continue;
        }
        struct inode *dir = inode_create(FILETYPE_DIRECTORY);
        if (!dir) {
            err = E_NOSPC;
            break;
        }
        struct inode *parent = w->dir;
        uint64_t mtim = parent->mtim, ctim = parent->ctim;
        if ((err = dir_link_new(w->dir, w->name, w->name_len, dir))) {
            inode_release_if_unused(dir);
            break;
        }
        created[n++] = (struct tree_made_dir){ parent, dir_lookup(parent, w->name, w->name_len),
                                             mtim, ctim };
    }
    if (err) tree_unmake_dirs(created, n);
    mem_free(created, components * (uint32_t)sizeof *created);
    return err;
}

/* The directory a preopen names, created (with its missing ancestors) if need be. */
static errno_t preopen_dir(const char *p, uint32_t len, struct inode **out) {
    struct inode *root = vfs_root();
    if (!root) return E_NOMEM;
    *out = root;
    if (!len) return E_SUCCESS;
    uint32_t components;
    errno_t err = check_preopen_path(p, len, &components);
    if (err) return err;
    struct path_walk w;
    err = path_walk(&w, root, p, len, FOLLOW_FINAL);
    if (err == E_NOENT || (!err && !w.node)) {
        err = make_preopen_dirs(&w, p, len, components);
        if (!err) err = path_walk(&w, root, p, len, FOLLOW_FINAL);
        if (!err && !w.node) err = E_NOENT;
    }
    if (err) return err;
    if (w.node->type != FILETYPE_DIRECTORY) return E_NOTDIR;
    *out = w.node;
    return E_SUCCESS;
}

errno_t process_preopen(struct process *self, const char *p, uint32_t vfs_len, const char *name,
                        uint32_t name_len, uint32_t *fd_out) {
    while (vfs_len && *p == '/') { p++; vfs_len--; }
    errno_t err = E_SUCCESS;
    uint32_t newfd = 0;
    struct inode *node = NULL;
    char *copy = mem_alloc(name_len ? name_len : 1);
    if (!copy) err = E_NOMEM;
    /* The fd and the name first: once directories exist, nothing else may fail. */
    if (!err) err = fd_allocate_number(self, &newfd);
    if (!err) err = preopen_dir(p, vfs_len, &node);
    if (err) {
        mem_free(copy, name_len ? name_len : 1);
        return err;
    }
    struct fd_entry *e = fd_slot(self, newfd);
    mem_copy(copy, name, name_len);
    e->kind = FD_DIR;
    e->node = node;
    e->access = ACCESS_READ;
    e->preopen_name = copy;
    e->preopen_len = name_len;
    e->rights_base = PREOPEN_RIGHTS_BASE;
    e->rights_inheriting = PREOPEN_RIGHTS_INHERITING;
    node->open_count++;
    *fd_out = newfd;
    return E_SUCCESS;
}
