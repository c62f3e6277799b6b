/* The host's filesystem API: directories (mkdir with parents and exist_ok, listing). */
#include "host/exports.h"
#include "host/host_call.h"
#include "vfs/lazy.h"
#include "base/alloc.h"
#include "vfs/tree.h"

#define MKDIR_PARENTS 1u
#define MKDIR_EXIST_OK 2u

/* Whether path[0, len) names a directory (symlinks followed). Lock held. */
static bool is_dir_at(struct path_walk *w, struct inode *base, const char *path, uint32_t len) {
    return !path_walk(w, base, path, len, FOLLOW_FINAL) && w->node && w->node->type == FILETYPE_DIRECTORY;
}

/* One directory at path[0, len); with exist_ok a directory there (symlinks followed) is
   fine. What it made goes to *made (if made is not NULL). Lock held. */
static errno_t make_one(struct path_walk *w, struct inode *base, const char *path, uint32_t len, bool exist_ok,
                        struct tree_made_dir *made, uint32_t *n) {
    errno_t err = path_walk(w, base, path, len, FOLLOW_NEVER);
    struct inode *parent = !err && w->reached_final ? w->dir : NULL;
    uint64_t mtim = parent ? parent->mtim : 0, ctim = parent ? parent->ctim : 0;
    err = tree_mkdir(w, err);
    if (!err && made) made[(*n)++] = (struct tree_made_dir){ parent, dir_lookup(parent, w->name, w->name_len), mtim, ctim };
    if (err == E_EXIST && exist_ok && is_dir_at(w, base, path, len)) err = E_SUCCESS;
    return err;
}

static uint32_t components(const char *p, uint32_t len) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < len; i++) n += p[i] != '/' && (i == 0 || p[i - 1] == '/');
    return n;
}

/* mkdir -p: every ancestor (each prefix of the path that ends before a '/') that is not a
   directory is made, outermost first, then the path itself. If one cannot be made, those
   this call made are removed again and their parents' times restored: a failure changes
   nothing. Lock held. */
static errno_t make_parents(struct path_walk *w, struct inode *base, const char *p, uint32_t len, bool exist_ok) {
    while (len > 1 && p[len - 1] == '/') len--;
    uint32_t bytes = components(p, len) * (uint32_t)sizeof(struct tree_made_dir);
    struct tree_made_dir *made = mem_alloc_reserve(bytes ? bytes : 1);
    if (!made) return E_NOMEM;
    uint32_t n = 0;
    errno_t err = E_SUCCESS;
    for (uint32_t end = 1; !err && end <= len; end++) {
        bool last = end == len;
        if (!last && !(p[end] == '/' && p[end - 1] != '/')) continue;
        if (!last && is_dir_at(w, base, p, end)) continue;
        err = make_one(w, base, p, end, exist_ok || !last, made, &n);
    }
    if (err) tree_unmake_dirs(made, n);
    mem_free_reserve(made, bytes ? bytes : 1);
    return err;
}

/* Makes directory path; flags: 1 parents (mkdir -p: the missing ancestors too, a failure
   leaves none of them), 2 exist_ok (a directory there, symlinks followed, is fine). */
EXPORT("wasi_wasm_fs_mkdir") int32_t wasi_wasm_fs_mkdir(uint32_t fd, uintptr_t path, uint32_t len, uint32_t flags) {
    if (flags > (MKDIR_PARENTS | MKDIR_EXIST_OK)) return E_INVAL;
    struct path_walk w;
    struct inode *base;
    host_lock();
    errno_t err = host_dir(fd, &base);
    if (!err) err = host_walk(&w, base, path, len, FOLLOW_NEVER); /* checks the whole path first */
    bool exist_ok = flags & MKDIR_EXIST_OK;
    /* The host's buffer holds the path (checked by host_walk) for the walks below. */
    if (flags & MKDIR_PARENTS) {
        if (!err || err == E_NOENT || err == E_NOTDIR) err = make_parents(&w, base, (const char *)path, len, exist_ok);
    } else if (!err || err == E_NOTDIR) {
        err = make_one(&w, base, (const char *)path, len, exist_ok, NULL, NULL);
    }
    vfs_unlock();
    return err;
}

/* One entry of a listing: u16 name length, u8 filetype, the entry's filestat (64 bytes, only
   when asked for), the name. */
#define RECORD_HEADER 3u

/* Writes e's record at dst if it fits in room; its size, or 0. */
static uint32_t put_record(uint8_t *dst, uint32_t room, const struct dentry *e, bool with_stat) {
    uint32_t stat = with_stat ? FILESTAT_SIZE : 0, size = RECORD_HEADER + stat + e->name_len;
    if (room < size) return 0;
    put_u16(dst, e->name_len);
    dst[2] = e->node->type;
    if (with_stat) inode_fill_filestat(e->node, dst + RECORD_HEADER);
    mem_copy(dst + RECORD_HEADER + stat, e->name, e->name_len);
    return size;
}

/* The entries of directory path (symlinks followed), from cookie on (0: the first), as
   records {u16 name_len, u8 filetype, [filestat], name} packed into buf; with_stat: each
   with its entry's filestat (an lstat), so that a tree walk takes one call a directory.
   out: {u32 bytes used, u32 next cookie}: 0 when the listing is complete, else the cookie to
   ask with for the rest (the entries that did not fit). A cookie stays valid while entries
   come and go (it is the entry's place in the directory's insertion order), so a listing in
   several calls sees each name present throughout once. ERANGE: not one entry fits. */
EXPORT("wasi_wasm_fs_list") int32_t wasi_wasm_fs_list(uint32_t fd, uintptr_t path, uint32_t len, uint32_t cookie,
                                                      uint32_t with_stat, uintptr_t buf, uint32_t buf_len,
                                                      uintptr_t out) {
    struct path_walk w;
    host_lock();
    errno_t err = in_host_buffer(buf, buf_len) && in_host_buffer(out, 8) ? host_walk_at(&w, fd, path, len, FOLLOW_FINAL)
                                                                          : E_FAULT;
    if (!err && !w.node) err = E_NOENT;
    if (!err && w.node->type != FILETYPE_DIRECTORY) err = E_NOTDIR;
    if (!err) err = lazy_ready(w.node, true); /* a lazy mount's entries, listed (lazy.h) */
    uint32_t used = 0, next = 0;
    if (!err) {
        const struct dir_data *d = &w.node->dir;
        for (uint32_t i = dir_slot_from(w.node, cookie ? cookie - 1 : 0); i < d->used; i++) {
            const struct dentry *e = d->slots[i].entry;
            if (!e) continue;
            uint32_t size = put_record((uint8_t *)buf + used, buf_len - used, e, with_stat != 0);
            if (!size) {
                next = e->seq + 1;
                break;
            }
            used += size;
        }
        if (next && !used) err = E_RANGE;
        inode_touch_accessed(w.node);
    }
    if (!err) {
        put_u32((uint8_t *)out, used);
        put_u32((uint8_t *)out + 4, next);
    }
    vfs_unlock();
    return err;
}
