/* Tree changes shared by the path_* functions and the host's filesystem exports. */
#include "vfs/tree.h"
#include "base/alloc.h"
#include "vfs/lazy.h"

static void remove_from(struct inode *dir, struct dentry *entry) {
    struct inode *node = entry->node;
    dir_remove(dir, entry);
    inode_touch_modified(dir);
    inode_touch_changed(node);
    inode_release_if_unused(node);
}

errno_t tree_mkdir_check(const struct path_walk *w, errno_t walk_err) {
    if (walk_err == E_NOTDIR && w->reached_final && w->node) return E_EXIST; /* before the slash */
    if (walk_err) return walk_err;
    return w->node ? E_EXIST : E_SUCCESS;
}

errno_t tree_mkdir(struct path_walk *w, errno_t walk_err) {
    errno_t err = tree_mkdir_check(w, walk_err);
    if (err) return err;
    struct inode *dir = inode_create(FILETYPE_DIRECTORY);
    if (!dir) return E_NOSPC;
    err = dir_link_new(w->dir, w->name, w->name_len, dir);
    if (err) inode_release_if_unused(dir);
    return err;
}

errno_t tree_symlink_check(const struct path_walk *w, uint32_t target_len) {
    if (target_len == 0) return E_NOENT;
    if (w->node) return E_EXIST;
    return w->trailing_slash ? E_NOENT : E_SUCCESS;
}

errno_t tree_symlink(struct path_walk *w, char **target, uint32_t target_len) {
    errno_t err = tree_symlink_check(w, target_len);
    if (err) return err;
    struct inode *link = inode_create(FILETYPE_SYMBOLIC_LINK);
    if (!link) return E_NOSPC;
    link->target = *target;
    link->size = target_len;
    *target = NULL;
    err = dir_link_new(w->dir, w->name, w->name_len, link);
    if (err) inode_release_if_unused(link); /* and the target with it */
    return err;
}

void tree_remove_entry(struct path_walk *w) { remove_from(w->dir, w->entry); }

static bool is_inside(const struct inode *dir, const struct inode *ancestor) {
    for (; dir; dir = dir_parent(dir))
        if (dir == ancestor) return true;
    return false;
}

errno_t tree_rename_check(const struct path_walk *from, const struct path_walk *to) {
    if (from->final_kind != FINAL_NAME || to->final_kind != FINAL_NAME) return E_BUSY;
    if (!from->node) return E_NOENT;
    bool from_dir = from->node->type == FILETYPE_DIRECTORY;
    if (!from_dir && (from->trailing_slash || to->trailing_slash)) return E_NOTDIR;
    if (from_dir && is_inside(to->dir, from->node)) return E_INVAL;
    if (!to->node || to->node == from->node) return E_SUCCESS;
    bool to_dir = to->node->type == FILETYPE_DIRECTORY;
    /* Onto a directory above the source: Linux finds it not empty before it compares types. */
    if (to_dir && is_inside(from->dir, to->node)) return E_NOTEMPTY;
    if (from_dir && !to_dir) return E_NOTDIR;
    if (!from_dir && to_dir) return E_ISDIR;
    /* Atomic: under the lock shared, creates in that directory may run (dir.c). */
    if (to_dir && __atomic_load_n(&to->node->dir.live, __ATOMIC_RELAXED)) return E_NOTEMPTY;
    return E_SUCCESS;
}

errno_t tree_rename(struct path_walk *from, struct path_walk *to) {
    /* Onto a lazy directory: empty only once its host entries are in (lazy.h). */
    errno_t err = to->node && to->node != from->node && to->final_kind == FINAL_NAME ? lazy_ready(to->node, true)
                                                                                        : E_SUCCESS;
    if (!err) err = tree_rename_check(from, to);
    if (err || to->node == from->node) return err;
    struct inode *replaced = to->node;
    err = dir_move(from->dir, from->entry, to->dir, to->name, to->name_len, replaced ? to->entry : NULL);
    if (!err && replaced) inode_release_if_unused(replaced); /* it lost a link, stamped as Linux does */
    return err;
}

/* The sequence numbers of the entries tree_empty went down through, one per level. */
struct climb {
    uint32_t *seqs;
    uint32_t depth, cap;
};

static bool climb_push(struct climb *c, uint32_t seq) {
    if (c->depth == c->cap) {
        uint32_t cap = c->cap * 2;
        uint32_t *bigger = cap > c->cap ? mem_alloc_reserve(cap * 4u) : NULL;
        if (!bigger) return false;
        mem_copy(bigger, c->seqs, c->cap * 4u);
        mem_free_reserve(c->seqs, c->cap * 4u);
        c->seqs = bigger;
        c->cap = cap;
    }
    c->seqs[c->depth++] = seq;
    return true;
}

/* The first entry of dir at or after *slot, or NULL; *slot is left at it. */
static struct dentry *next_entry(struct inode *dir, uint32_t *slot) {
    const struct dir_data *d = &dir->dir;
    for (; *slot < d->used; ++*slot)
        if (d->slots[*slot].entry) return d->slots[*slot].entry;
    return NULL;
}

errno_t tree_empty(struct inode *top) {
    struct climb c = { mem_alloc_reserve(64 * 4u), 0, 64 };
    if (!c.seqs) return E_NOMEM;
    errno_t err = E_SUCCESS;
    struct inode *dir = top;
    uint32_t slot = 0;
    for (;;) {
        struct dentry *e = next_entry(dir, &slot);
        if (!e && dir == top) break;
        if (!e) { /* dir is empty now: back to its entry in its parent, and remove it */
            struct inode *parent = dir->dir.parent;
            slot = dir_slot_from(parent, c.seqs[--c.depth]);
            dir = parent;
            e = dir->dir.slots[slot].entry;
        } else if (e->node->type == FILETYPE_DIRECTORY && e->node->dir.live) {
            if (!climb_push(&c, e->seq)) {
                err = E_NOMEM;
                break;
            }
            dir = e->node;
            slot = 0;
            continue;
        }
        remove_from(dir, e);
        slot++;
    }
    mem_free_reserve(c.seqs, c.cap * 4u);
    return err;
}

void tree_unmake_dirs(struct tree_made_dir *made, uint32_t n) {
    while (n--) {
        struct tree_made_dir *m = &made[n];
        struct inode *node = m->entry->node;
        dir_remove(m->parent, m->entry);
        inode_release_if_unused(node);
        m->parent->mtim = m->parent_mtim;
        m->parent->ctim = m->parent_ctim;
    }
}
