#include "vfs/path.h"
#include "vfs/lazy.h"

struct cursor {
    struct inode *dir;
    uint32_t depth;          /* levels below the starting directory */
    uint32_t follows;
    int active;              /* which buffer holds the path */
    uint32_t pos, end;
    bool exclusive;          /* may load lazy directories (lazy.h) */
};


/* Valid UTF-8 without NUL, as wasmtime requires of a path. */
errno_t path_check_bytes(const uint8_t *s, uint32_t len) {
    for (uint32_t i = 0; i < len;) {
        uint8_t c = s[i];
        if (c == 0) return E_INVAL;
        uint32_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (extra == 9 || (extra == 1 && c < 0xC2) || (extra && i + extra >= len)) return E_ILSEQ;
        uint32_t cp = extra ? c & (0x3F >> extra) : c;
        for (uint32_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return E_ILSEQ;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return E_ILSEQ;
        i += extra + 1;
    }
    return E_SUCCESS;
}

/* Replace the walked part of the path by the symlink's target: target + "/" + rest. */
static errno_t splice_symlink(struct path_walk *w, struct cursor *c, struct inode *link,
                              uint32_t rest) {
    if (++c->follows > vfs_limits()->max_symlink_follows) return E_LOOP;
    uint32_t tlen = (uint32_t)link->size;
    if (tlen == 0) return E_NOENT;
    if (link->target[0] == '/') return E_PERM;
    uint32_t rest_len = c->end - rest;
    uint32_t total = tlen + (rest_len ? 1 + rest_len : 0);
    if (total > vfs_limits()->max_path) return E_NAMETOOLONG;
    char *src = w->buf[c->active], *dst = w->buf[!c->active];
    mem_copy(dst, link->target, tlen);
    if (rest_len) {
        dst[tlen] = '/';
        mem_copy(dst + tlen + 1, src + rest, rest_len);
    }
    c->active = !c->active;
    c->pos = 0;
    c->end = total;
    return E_SUCCESS;
}

/* name in the cursor's directory. A lazy directory has no entries, so only a miss asks
   whether it is lazy (lazy_ready: loaded when exclusive, *err = E_LAZY when shared): the
   hit every walk makes costs nothing for lazy mounts. */
static struct dentry *lookup(const struct cursor *c, const char *name, uint32_t len, errno_t *err) {
    struct dentry *e = dir_lookup(c->dir, name, len);
    if (e || c->dir->lazy != LAZY_DIRECTORY) return e;
    if ((*err = lazy_ready(c->dir, c->exclusive))) return NULL;
    return dir_lookup(c->dir, name, len);
}

static errno_t finish(struct path_walk *w, struct cursor *c, const char *name, uint32_t len,
                      bool trailing, uint32_t follow, bool *again, uint32_t rest) {
    w->dir = c->dir;
    w->name = name;
    w->name_len = len;
    w->trailing_slash = trailing;
    w->entry = NULL;
    w->reached_final = true;
    if (is_dot(name, len)) {
        w->final_kind = FINAL_DOT;
        w->node = c->dir;
        return E_SUCCESS;
    }
    if (is_dotdot(name, len)) {
        if (c->depth == 0) return E_PERM;
        w->final_kind = FINAL_DOTDOT;
        w->node = dir_parent(c->dir);
        return w->node ? E_SUCCESS : E_NOENT;
    }
    w->final_kind = FINAL_NAME;
    errno_t err = E_SUCCESS;
    w->dir_changes = dir_changes(c->dir);
    w->entry = lookup(c, name, len, &err);
    if (err) return err;
    w->node = w->entry ? w->entry->node : NULL;
    bool is_link = w->node && w->node->type == FILETYPE_SYMBOLIC_LINK;
    if (is_link && (follow == FOLLOW_FINAL || (trailing && follow != FOLLOW_NEVER))) {
        *again = true;
        w->reached_final = false;
        return splice_symlink(w, c, w->node, rest);
    }
    if (w->node && trailing && w->node->type != FILETYPE_DIRECTORY) return E_NOTDIR;
    return E_SUCCESS;
}

errno_t path_walk(struct path_walk *w, struct inode *base, const char *path, uint32_t len,
                  uint32_t follow) {
    w->reached_final = false;
    if (len == 0) return E_NOENT;
    if (len > vfs_limits()->max_path) return E_NAMETOOLONG;
    if (path != w->buf[0]) mem_copy(w->buf[0], path, len);
    struct cursor c = { base, 0, 0, 0, 0, len, !(follow & WALK_SHARED) };
    follow &= ~WALK_SHARED;
    if (w->buf[0][0] == '/') return E_PERM;
    for (;;) {
        const char *s = w->buf[c.active];
        while (c.pos < c.end && s[c.pos] == '/') c.pos++;
        uint32_t start = c.pos;
        while (c.pos < c.end && s[c.pos] != '/') c.pos++;
        uint32_t n = c.pos - start, next = c.pos;
        while (next < c.end && s[next] == '/') next++;
        if (n > vfs_limits()->max_name) return E_NAMETOOLONG;
        if (next == c.end) {
            bool again = false;
            /* A trailing slash survives a symlink splice as an empty remainder + "/". */
            uint32_t rest = c.pos < c.end ? c.end - 1 : c.end;
            errno_t err = finish(w, &c, s + start, n, c.pos < c.end, follow, &again, rest);
            if (err || !again) return err;
            continue;
        }
        if (is_dot(s + start, n)) continue;
        if (is_dotdot(s + start, n)) {
            if (c.depth == 0) return E_PERM;
            c.dir = dir_parent(c.dir);
            if (!c.dir) return E_NOENT;
            c.depth--;
            continue;
        }
        errno_t err = E_SUCCESS;
        struct dentry *e = lookup(&c, s + start, n, &err);
        if (!e) return err ? err : E_NOENT;
        if (e->node->type == FILETYPE_SYMBOLIC_LINK) {
            err = splice_symlink(w, &c, e->node, next);
            if (err) return err;
            continue;
        }
        if (e->node->type != FILETYPE_DIRECTORY) return E_NOTDIR;
        c.dir = e->node;
        c.depth++;
    }
}
