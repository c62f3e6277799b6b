#include "vfs/lazy.h"
#include "base/alloc.h"
#include "base/hooks.h"
#include "vfs/limits.h"
#include "vfs/path.h"

#define LISTING_FIRST_CAP 4096u
#define LISTING_MAX (64u << 20) /* a listing larger than this is EIO (about a million names) */

/* A hook's -errno, or EIO for a value that is none (a host's bug must not become E_LAZY). */
static errno_t hook_errno(int32_t result) {
    if (result >= 0 || result < -(int32_t)E_NOTCAPABLE) return E_IO;
    return (errno_t)-result;
}

/* The host's listing of dir into a buffer of the allocator (freed by the caller with *cap). */
static errno_t fetch_listing(struct inode *dir, uint8_t **buf, uint32_t *cap, uint32_t *len) {
    *cap = LISTING_FIRST_CAP;
    for (int tries = 0; tries < 4; tries++) {
        *buf = mem_alloc(*cap);
        if (!*buf) return E_NOSPC;
        int32_t n = hook_lazy_list(dir->lazy_token, core_addr(*buf), *cap);
        if (n < 0) return hook_errno(n);
        if ((uint32_t)n <= *cap) {
            *len = (uint32_t)n;
            return E_SUCCESS;
        }
        mem_free(*buf, *cap);
        *buf = NULL;
        if ((uint32_t)n > LISTING_MAX) return E_IO;
        *cap = align_up((uint32_t)n, 8);
    }
    return E_IO; /* it kept growing */
}

static bool name_acceptable(const char *name, uint32_t len) {
    if (len == 0 || len > vfs_limits()->max_name || is_dot(name, len) || is_dotdot(name, len)) return false;
    for (uint32_t i = 0; i < len; i++)
        if (name[i] == '/') return false;
    return path_check_bytes((const uint8_t *)name, len) == E_SUCCESS;
}

/* One record of the listing as a new inode, or an errno (EIO for a record the core cannot
   take: the host's listing is not trusted). */
static errno_t make_child(const struct inode *dir, const uint8_t *rec, uint32_t name_len, uint32_t target_len,
                          struct inode **out) {
    uint64_t token = get_u64(rec), size = get_u64(rec + 8);
    uint8_t type = rec[32];
    const char *target = (const char *)rec + LAZY_RECORD_SIZE + name_len;
    if (type == FILETYPE_SYMBOLIC_LINK) {
        if (target_len == 0 || target_len > vfs_limits()->max_path ||
            path_check_bytes((const uint8_t *)target, target_len))
            return E_IO;
    } else if (target_len) {
        return E_IO;
    }
    if (type == FILETYPE_REGULAR_FILE && size > MAX_FILE_SIZE) return E_IO;
    if (type != FILETYPE_DIRECTORY && type != FILETYPE_REGULAR_FILE && type != FILETYPE_SYMBOLIC_LINK) return E_IO;
    if (type != FILETYPE_SYMBOLIC_LINK && token == 0) return E_IO;
    struct inode *node = inode_create(type);
    if (!node) return E_NOSPC;
    node->atim = get_u64(rec + 16);
    node->mtim = node->ctim = get_u64(rec + 24);
    node->read_only = dir->read_only;
    if (type == FILETYPE_SYMBOLIC_LINK) {
        node->target = mem_alloc(target_len);
        if (!node->target) {
            mem_free(node, sizeof *node);
            return E_NOSPC;
        }
        mem_copy(node->target, target, target_len);
        node->size = target_len;
    } else {
        node->lazy = type == FILETYPE_DIRECTORY ? LAZY_DIRECTORY : LAZY_REGULAR_FILE;
        node->lazy_token = token;
        if (type == FILETYPE_REGULAR_FILE) node->size = size;
    }
    *out = node;
    return E_SUCCESS;
}

/* Undoes a failed load: every entry goes, with its new inode. */
static void empty_again(struct inode *dir) {
    struct dir_data *d = &dir->dir;
    for (uint32_t i = 0; i < d->used; i++) {
        struct dentry *e = d->slots[i].entry;
        if (!e) continue;
        struct inode *child = e->node;
        dir_remove(dir, e);
        inode_release_if_unused(child);
    }
}

errno_t lazy_load_dir(struct inode *dir) {
    if (dir->lazy != LAZY_DIRECTORY) return E_SUCCESS;
    /* Removed (an fd may still hold it) before anything listed it: it stays empty, as a
       removed directory on Linux does, and fsck counts a name in it as a problem (it would
       be freed with it). The fuzzer's find: a path_open through such an fd loaded 10
       host names into it (regression removed_lazy_dir_loaded_through_an_fd). */
    if (dir->nlink == 0) {
        dir->lazy = LAZY_NONE;
        return E_SUCCESS;
    }
    uint8_t *buf = NULL;
    uint32_t cap = 0, len = 0;
    errno_t err = fetch_listing(dir, &buf, &cap, &len);
    for (uint32_t pos = 0; !err && pos < len;) {
        if (len - pos < LAZY_RECORD_SIZE) { err = E_IO; break; }
        const uint8_t *rec = buf + pos;
        uint32_t name_len = get_u16(rec + 34), target_len = get_u32(rec + 36);
        uint64_t total = (uint64_t)LAZY_RECORD_SIZE + name_len + target_len;
        total = (total + 7) & ~(uint64_t)7;
        if (rec[33] || total > len - pos) { err = E_IO; break; }
        const char *name = (const char *)rec + LAZY_RECORD_SIZE;
        if (!name_acceptable(name, name_len) || dir_lookup(dir, name, name_len)) { err = E_IO; break; }
        struct inode *child = NULL;
        err = make_child(dir, rec, name_len, target_len, &child);
        if (!err && (err = dir_insert(dir, name, name_len, child))) inode_release_if_unused(child);
        pos += (uint32_t)total;
    }
    if (buf) mem_free(buf, cap);
    if (err) empty_again(dir);
    else dir->lazy = LAZY_NONE;
    return err;
}

static int32_t read_from_host(void *ctx, uint64_t offset, uintptr_t core_dst, uint32_t len) {
    return hook_lazy_read(*(const uint64_t *)ctx, offset, core_dst, len);
}

errno_t lazy_load_file(struct inode *file) {
    if (file->lazy != LAZY_REGULAR_FILE) return E_SUCCESS;
    uint64_t size = file->size, token = file->lazy_token;
    file->size = 0;
    errno_t err = file_fill(file, size, read_from_host, &token);
    if (err) {
        file->size = size;
        return err == E_LAZY ? E_IO : err;
    }
    file->lazy = LAZY_NONE;
    return E_SUCCESS;
}

errno_t lazy_mount(struct inode *dir, uint64_t token, bool read_only) {
    if (dir->type != FILETYPE_DIRECTORY) return E_NOTDIR;
    if (token == 0) return E_INVAL;
    /* A lazy directory not listed yet is empty as far as anyone saw: a nested mount
       (--dir a::/x --dir b::/x/y) takes its place. */
    if (dir->dir.live) return E_NOTEMPTY;
    dir->lazy = LAZY_DIRECTORY;
    dir->lazy_token = token;
    __atomic_store_n(&dir->read_only, read_only, __ATOMIC_RELAXED);
    return E_SUCCESS;
}

uint32_t lazy_check(const struct inode *node) {
    switch (node->lazy) {
    case LAZY_NONE: return 0;
    case LAZY_DIRECTORY: return node->type != FILETYPE_DIRECTORY || node->dir.live || !node->lazy_token;
    case LAZY_REGULAR_FILE:
        return node->type != FILETYPE_REGULAR_FILE || node->is_pipe || file_holds_memory(node) || !node->lazy_token;
    default: return 1;
    }
}
