/* The path_* functions. Each resolves its path(s) under the lock with path_walk and then
   changes the tree; every check comes before the first change. */
#include "wasi/exports.h"
#include "process/fdops.h"
#include "base/alloc.h"
#include "process/guest.h"
#include "base/file_clock.h"
#include "base/lock.h"
#include "vfs/lazy.h"
#include "vfs/path.h"
#include "vfs/tree.h"
#include "base/stop_test.h"

static errno_t dir_fd_base(uint32_t fd, uint64_t right, struct inode **base) {
    struct fd_entry *e;
    errno_t err = fd_get_dir(fd, &e);
    if (err || (err = fd_need_right(e, right))) return err;
    *base = e->node;
    return E_SUCCESS;
}

/* A read-only mount (lazy.h) refuses every change with EPERM, as wasmtime's read-only
   preopens do: first for a directory fd inside one, whatever the path names, then for a
   name reached inside one through another directory. */
static errno_t may_change(const struct inode *node) { return node && lazy_read_only(node) ? E_PERM : E_SUCCESS; }

/* The name w reached may go or be replaced: neither it nor its directory is read-only. */
static errno_t may_replace(const struct path_walk *w) {
    errno_t err = may_change(w->dir);
    return err ? err : may_change(w->node);
}

/* A node whose names may come and go under the lock shared: a regular file or a symlink
   (a FIFO's ends wait on it; a directory has a parent pointer). */
static bool is_leaf(const struct inode *node) {
    return (node->type == FILETYPE_REGULAR_FILE || node->type == FILETYPE_SYMBOLIC_LINK) && !node->is_pipe;
}

/* Ends a shared hold in which this process may have taken names out of the tree: when much
   waits in its reclaim list, it frees it now, after a grace period, rather than leaving it
   to an exclusive hold that frees every list while all other threads wait (reclaim.h). */
static void unlock_shared_after_removal(struct process *self) {
    /* Asked under the lock: once it is let go, an exclusive hold may be freeing the list
       (TSan, on the regression input tsan_reclaim_read_a_size_a_writer_stores). */
    bool pressing = reclaim_pressing(&self->reclaim);
    process_unlock_shared(self);
    if (pressing) reclaim_own_now(&self->reclaim, &self->holder, self->can_block);
}

/* The shared lock, or the exclusive one once a walk met a lazy directory (E_LAZY): the
   caller walks again, exclusive, which loads it. */
static void lock_as(struct process *self, bool exclusive) {
    if (exclusive) process_lock(self);
    else process_lock_shared(self);
}
static void unlock_as(struct process *self, bool exclusive) {
    if (exclusive) vfs_unlock();
    else process_unlock_shared(self);
}
/* A change tries the lock shared first (its directories' mutexes, a second lookup under
   them) unless every process is in its thread group (vfs_alone): nobody can run beside it
   then, and the exclusive hold costs less. tests/test_wasi_differential.py runs every
   program both ways, and the fuzzers' processes are in groups of their own until op 238. */
static bool shared_first(struct process *self) { return !vfs_alone(&self->holder); }
static uint32_t shared_flag(bool exclusive) { return exclusive ? 0 : WALK_SHARED; }
static bool relock_exclusive(struct process *self) {
    process_unlock_shared(self);
    process_lock(self);
    return true;
}

/* Under w's directory's mutex, in the shared hold w was walked in: the entry of its final
   name as of now, which the walk found unless another writer changed the directory since. */
static struct dentry *entry_now(const struct path_walk *w) {
    if (w->final_kind == FINAL_NAME && dir_changes(w->dir) == w->dir_changes) return w->entry;
    return dir_lookup(w->dir, w->name, w->name_len);
}

static errno_t link_new(struct path_walk *w, struct inode *node) {
    return dir_link_new(w->dir, w->name, w->name_len, node);
}

/* What create_shared makes, and what it holds before another thread can find it. */
struct new_node {
    uint8_t type;
    uint32_t fds;        /* the fds it is made for: a writer of a file open once skips its
                            data mutex (inode_join_sole_shared) */
    char *target;        /* a symlink's, target_len bytes: the node's once it is made */
    uint32_t target_len;
};

/* Creates w's missing final name as a new node under the lock shared, with its directory's
   mutex (writers of one directory in turn, of different ones in parallel; a directory's
   subdirectory count, which stat reads, changes atomically there). false: it must be done
   under the lock exclusive (the name appeared, the directory needs a larger slot array,
   memory ran short, or much unlinked memory waits); nothing was done. */
static bool create_shared(struct process *self, struct path_walk *w, const struct new_node *made, errno_t *err) {
    struct inode *dir = w->dir;
    if (reclaim_pressing(&self->reclaim)) return false;
    uint64_t now = file_time_now();
    holder_lock_mutex(&self->holder, MUTEX_OBJECT, &dir->dir.mutex);
    bool done = false;
    if (!dir->nlink) {
        *err = E_NOENT; /* removed meanwhile, as dir_link_new says */
        done = true;
    } else if (!entry_now(w)) {
        struct inode *node = inode_create_shared(made->type, now, &self->holder);
        if (node) {
            node->nlink = 1;
            node->open_count = made->fds;
            node->target = made->target;
            if (made->target) node->size = made->target_len;
        }
        done = node && dir_insert_shared(dir, w->name, w->name_len, node, now, &self->holder);
        if (done) w->node = node;
        else if (node) inode_free_shared(node, &self->holder);
    }
    holder_unlock_mutex(&self->holder, MUTEX_OBJECT);
    return done;
}

EXPORT("path_create_directory") int32_t wasi_path_create_directory(uint32_t fd, uint32_t path, uint32_t len) {
    struct inode *base;
    errno_t err = dir_fd_base(fd, RIGHT_PATH_CREATE_DIRECTORY, &base);
    if (err || (err = may_change(base))) return err;
    struct path_walk w;
    struct process *self = current_process();
    if (shared_first(self)) {
        process_lock_shared(self);
        /* mkdir never follows a final symlink, even as "link/": the name exists (EEXIST). */
        err = guest_walk_path(&w, base, path, len, FOLLOW_NEVER | WALK_SHARED);
        bool done = err != E_LAZY; /* else walk again exclusive, which loads the directory */
        if (done) {
            if (!err) err = may_change(w.dir);
            err = tree_mkdir_check(&w, err);
            done = err || create_shared(self, &w, &(struct new_node){ .type = FILETYPE_DIRECTORY }, &err);
        }
        process_unlock_shared(self);
        if (done) return err;
    }
    process_lock(self);
    err = guest_walk_path(&w, base, path, len, FOLLOW_NEVER);
    if (!err) err = may_change(w.dir);
    err = tree_mkdir(&w, err);
    vfs_unlock();
    return err;
}

EXPORT("path_filestat_get") int32_t wasi_path_filestat_get(uint32_t fd, uint32_t flags, uint32_t path,
                                                           uint32_t len, uint32_t out) {
    struct inode *base;
    errno_t err = dir_fd_base(fd, RIGHT_PATH_FILESTAT_GET, &base);
    if (err || (err = guest_check(out, FILESTAT_SIZE))) return err;
    struct path_walk w;
    uint8_t stat[FILESTAT_SIZE];
    struct process *self = current_process();
    bool exclusive = false;
    lock_as(self, exclusive);
    while ((err = guest_walk_path(&w, base, path, len, (flags & LOOKUP_SYMLINK_FOLLOW) | shared_flag(exclusive))) == E_LAZY)
        exclusive = relock_exclusive(self);
    if (!err && !w.node) err = E_NOENT;
    if (!err) inode_fill_filestat(w.node, stat);
    unlock_as(self, exclusive);
    return err ? err : guest_write(out, stat, sizeof stat);
}

/* Both times omitted and the link itself named: Linux's utimensat returns before it looks
   at the name, so wasmtime (which resolves the parent directory with cap-std first) succeeds
   even for a missing or over-long final name. A final "name/", "." or ".." it resolves in
   full. Lock held (shared: WALK_SHARED). */
static errno_t check_no_times_path(struct path_walk *w, struct inode *base, uint32_t path,
                                   uint32_t len, uint32_t shared) {
    errno_t err = guest_read_path(w->buf[0], path, len);
    if (err) return err;
    uint32_t name_start = len;
    while (name_start > 0 && w->buf[0][name_start - 1] != '/') name_start--;
    uint32_t name_len = len - name_start;
    const char *name = w->buf[0] + name_start;
    if (name_len == 0 || is_dot(name, name_len) || is_dotdot(name, name_len)) {
        err = path_walk(w, base, w->buf[0], len, FOLLOW_IF_TRAILING_SLASH | shared);
        return err ? err : w->node ? E_SUCCESS : E_NOENT;
    }
    if (name_start == 0) return E_SUCCESS; /* the parent is the fd's own directory */
    err = path_walk(w, base, w->buf[0], name_start, FOLLOW_IF_TRAILING_SLASH | shared); /* "dir/" */
    if (err) return err;
    if (!w->node) return E_NOENT;
    return w->node->type == FILETYPE_DIRECTORY ? E_SUCCESS : E_NOTDIR;
}

/* Under the lock shared (E_LAZY: walk again exclusive, which loads a lazy directory) or
   exclusive: times are single stores (apply_times). */
static errno_t set_times_locked(struct path_walk *w, struct inode *base, uint32_t flags, uint32_t path, uint32_t len,
                                uint64_t atim, uint64_t mtim, uint32_t fst_flags, bool exclusive) {
    bool follow = flags & LOOKUP_SYMLINK_FOLLOW;
    if (fst_flags == 0 && !follow) return check_no_times_path(w, base, path, len, shared_flag(exclusive));
    errno_t err = guest_walk_path(w, base, path, len, follow | shared_flag(exclusive));
    if (!err && !w->node) err = E_NOENT;
    if (!err) err = may_change(w->node);
    return err ? err : apply_times(w->node, atim, mtim, fst_flags, exclusive ? vfs_now() : file_time_now());
}

EXPORT("path_filestat_set_times") int32_t wasi_path_filestat_set_times(uint32_t fd, uint32_t flags,
        uint32_t path, uint32_t len, uint64_t atim, uint64_t mtim, uint32_t fst_flags) {
    if (!times_flags_valid(fst_flags)) return E_INVAL; /* wasmtime checks them before anything */
    struct inode *base;
    errno_t err = dir_fd_base(fd, RIGHT_PATH_FILESTAT_SET_TIMES, &base);
    if (err || (err = may_change(base))) return err;
    struct path_walk w;
    struct process *self = current_process();
    bool exclusive = false;
    lock_as(self, exclusive);
    while ((err = set_times_locked(&w, base, flags, path, len, atim, mtim, fst_flags, exclusive)) == E_LAZY)
        exclusive = relock_exclusive(self);
    unlock_as(self, exclusive);
    return err;
}

/* Both walks of path_link and its checks, in wasmtime's order: both paths resolve, then
   source missing, target taken, "target/", source a directory. */
static errno_t walk_link(struct path_walk *from, struct path_walk *to, struct inode *old_base, uint32_t old_path,
                         uint32_t old_len, struct inode *new_base, uint32_t new_path, uint32_t new_len,
                         uint32_t shared) {
    errno_t err = guest_walk_path(from, old_base, old_path, old_len, FOLLOW_NEVER | shared);
    if (!err && !from->node && from->trailing_slash) err = E_NOENT; /* "x/" resolves x itself */
    if (!err) err = guest_walk_path(to, new_base, new_path, new_len, FOLLOW_IF_TRAILING_SLASH | shared);
    if (!err && !from->node) err = E_NOENT;
    if (!err && to->node) err = E_EXIST;
    if (!err && to->trailing_slash) err = E_NOENT;
    if (!err && from->node->type == FILETYPE_DIRECTORY) err = E_PERM;
    /* A link changes its source too (a name more, its ctime): not in a read-only mount. */
    if (!err) err = may_replace(from);
    return err ? err : may_change(to->dir);
}

/* Links a file or symlink under the lock shared with the new name's directory's mutex: its
   count rises only from nonzero (inode_link_shared). false: it must be done exclusive,
   nothing was done. */
static bool link_shared(struct process *self, const struct path_walk *from, const struct path_walk *to,
                        errno_t *err) {
    struct inode *file = from->node, *dir = to->dir;
    if (!is_leaf(file) || reclaim_pressing(&self->reclaim)) return false;
    uint64_t now = file_time_now();
    holder_lock_mutex(&self->holder, MUTEX_OBJECT, &dir->dir.mutex);
    bool done = true;
    if (!dir->nlink || !inode_link_shared(file)) { /* either removed meanwhile */
        *err = E_NOENT;
    } else if (entry_now(to) ||
               !dir_insert_shared(dir, to->name, to->name_len, file, now, &self->holder)) {
        if (inode_drop_link_shared(file)) reclaim_inode(&self->reclaim, file); /* its other names went meanwhile */
        done = false;
    } else {
        inode_touch_changed_at(file, now);
    }
    holder_unlock_mutex(&self->holder, MUTEX_OBJECT);
    return done;
}

EXPORT("path_link") int32_t wasi_path_link(uint32_t old_fd, uint32_t old_flags, uint32_t old_path,
        uint32_t old_len, uint32_t new_fd, uint32_t new_path, uint32_t new_len) {
    struct inode *old_base, *new_base;
    errno_t err = dir_fd_base(old_fd, RIGHT_PATH_LINK_SOURCE, &old_base);
    if (err || (err = dir_fd_base(new_fd, RIGHT_PATH_LINK_TARGET, &new_base))) return err;
    if ((err = may_change(old_base)) || (err = may_change(new_base))) return err; /* wasmtime's order */
    if (old_flags & LOOKUP_SYMLINK_FOLLOW) return E_INVAL; /* wasmtime links the path itself only */
    struct path_walk from, to;
    struct process *self = current_process();
    if (shared_first(self)) {
        process_lock_shared(self);
        err = walk_link(&from, &to, old_base, old_path, old_len, new_base, new_path, new_len, WALK_SHARED);
        bool done = err ? err != E_LAZY : link_shared(self, &from, &to, &err);
        unlock_shared_after_removal(self);
        if (done) return err;
    }
    process_lock(self);
    err = walk_link(&from, &to, old_base, old_path, old_len, new_base, new_path, new_len, 0);
    if (!err && !(err = link_new(&to, from.node))) inode_touch_changed(from.node);
    vfs_unlock();
    return err;
}

EXPORT("path_readlink") int32_t wasi_path_readlink(uint32_t fd, uint32_t path, uint32_t len,
                                                   uint32_t buf, uint32_t buf_len, uint32_t out) {
    struct inode *base;
    errno_t err = dir_fd_base(fd, RIGHT_PATH_READLINK, &base);
    if (err || (err = guest_check(buf, buf_len)) || (err = guest_check(out, 4))) return err;
    struct path_walk w;
    uint32_t n = 0;
    struct process *self = current_process();
    bool exclusive = false;
    lock_as(self, exclusive);
    while ((err = guest_walk_path(&w, base, path, len, FOLLOW_IF_TRAILING_SLASH | shared_flag(exclusive))) == E_LAZY)
        exclusive = relock_exclusive(self);
    if (!err && !w.node) err = E_NOENT;
    if (!err && w.node->type != FILETYPE_SYMBOLIC_LINK) err = E_INVAL;
    if (!err) {
        n = (uint32_t)w.node->size < buf_len ? (uint32_t)w.node->size : buf_len;
        err = guest_write(buf, w.node->target, n);
        inode_touch_accessed(w.node);
    }
    unlock_as(self, exclusive);
    return err ? err : guest_write_u32(out, n);
}

/* The directory path_remove_directory removes, and its checks. */
static errno_t walk_to_rmdir(struct path_walk *w, struct inode *base, uint32_t path, uint32_t len, bool exclusive) {
    errno_t err = guest_walk_path(w, base, path, len, FOLLOW_IF_TRAILING_SLASH | shared_flag(exclusive));
    if (!err && !w->node) err = E_NOENT;
    if (!err && w->node->type != FILETYPE_DIRECTORY) err = E_NOTDIR;
    if (!err) err = may_replace(w);
    if (!err) err = lazy_ready(w->node, exclusive); /* empty only once listed: E_LAZY shared */
    /* wasmtime removes "d/" as "." inside d, which is EINVAL, like "." itself. */
    if (!err && (w->final_kind != FINAL_NAME || w->trailing_slash)) err = E_INVAL;
    if (!err && __atomic_load_n(&w->node->dir.live, __ATOMIC_RELAXED)) err = E_NOTEMPTY;
    return err;
}

/* Removes w's final name, an empty directory, under the lock shared with the mutexes of it
   and of its parent: creates, links and renames into it hold its mutex, and find it
   removed after (nlink 0). It and its entry wait in reclaim.c, as an unlinked file's.
   false: it must be done exclusive, nothing was done. */
static bool rmdir_shared(struct process *self, const struct path_walk *w, errno_t *err) {
    struct inode *dir = w->dir, *node = w->node;
    if (reclaim_pressing(&self->reclaim)) return false;
    uint64_t now = file_time_now();
    dir_lock_pair(&self->holder, dir, node);
    struct dentry *entry = entry_now(w);
    bool done = entry && entry->node == node; /* else it changed meanwhile: say it exclusive */
    if (done && node->dir.live) *err = E_NOTEMPTY;
    else if (done && (done = reclaim_reserve(&self->reclaim, &self->holder, 1))) {
        dir_remove_dir_shared(dir, entry, now);
        reclaim_dentry(&self->reclaim, entry);
        reclaim_inode(&self->reclaim, node);
    }
    dir_unlock_pair(&self->holder, dir, node);
    return done;
}

EXPORT("path_remove_directory") int32_t wasi_path_remove_directory(uint32_t fd, uint32_t path, uint32_t len) {
    struct inode *base;
    errno_t err = dir_fd_base(fd, RIGHT_PATH_REMOVE_DIRECTORY, &base);
    if (err || (err = may_change(base))) return err;
    struct path_walk w;
    struct process *self = current_process();
    if (shared_first(self)) {
        process_lock_shared(self);
        err = walk_to_rmdir(&w, base, path, len, false);
        bool done = err ? err != E_LAZY : rmdir_shared(self, &w, &err);
        unlock_shared_after_removal(self);
        if (done) return err;
    }
    process_lock(self);
    err = walk_to_rmdir(&w, base, path, len, true);
    if (!err) tree_remove_entry(&w);
    vfs_unlock();
    return err;
}

/* Removes w's final name, a file's or a symlink's, under the lock shared with its directory's
   mutex; the dentry, and the file if that was its last name, wait in reclaim.c (a reader
   may have found them just before). false: it must be done exclusive, nothing was done. */
static bool unlink_shared(struct process *self, struct path_walk *w, errno_t *err) {
    if (!is_leaf(w->node) || reclaim_pressing(&self->reclaim))
        return false;
    uint64_t now = file_time_now();
    struct inode *dir = w->dir;
    holder_lock_mutex(&self->holder, MUTEX_OBJECT, &dir->dir.mutex);
    struct dentry *entry = entry_now(w); /* now no writer moves it */
    bool done = !entry || is_leaf(entry->node);
    if (!entry) {
        *err = E_NOENT; /* another writer removed it first */
    } else if (done && (done = reclaim_reserve(&self->reclaim, &self->holder, 1))) {
        bool last = dir_remove_shared(dir, entry, now);
        reclaim_dentry(&self->reclaim, entry); /* out of the tree first: a reap frees the list */
        if (last) reclaim_inode(&self->reclaim, entry->node);
    }
    holder_unlock_mutex(&self->holder, MUTEX_OBJECT);
    return done;
}

/* The name path_unlink_file removes: ENOENT if missing, EISDIR for a directory. */
static errno_t walk_to_unlink(struct path_walk *w, struct inode *base, uint32_t path, uint32_t len,
                              uint32_t shared) {
    errno_t err = guest_walk_path(w, base, path, len, FOLLOW_IF_TRAILING_SLASH | shared);
    if (!err && !w->node) err = E_NOENT;
    if (!err && w->node->type == FILETYPE_DIRECTORY) err = E_ISDIR;
    if (!err) err = may_replace(w);
    return err;
}

EXPORT("path_unlink_file") int32_t wasi_path_unlink_file(uint32_t fd, uint32_t path, uint32_t len) {
    struct inode *base;
    errno_t err = dir_fd_base(fd, RIGHT_PATH_UNLINK_FILE, &base);
    if (err || (err = may_change(base))) return err;
    struct path_walk w;
    struct process *self = current_process();
    if (shared_first(self)) {
        process_lock_shared(self);
        err = walk_to_unlink(&w, base, path, len, WALK_SHARED);
        bool done = err ? err != E_LAZY : unlink_shared(self, &w, &err);
        unlock_shared_after_removal(self);
        if (done) return err;
    }
    process_lock(self);
    err = walk_to_unlink(&w, base, path, len, 0);
    if (!err) tree_remove_entry(&w);
    vfs_unlock();
    return err;
}

/* Both walks, under the lock either way; tree_rename_check or tree_rename checks next. */
static errno_t walk_rename(struct path_walk *from, struct path_walk *to, struct inode *old_base, uint32_t old_path,
                           uint32_t old_len, struct inode *new_base, uint32_t new_path, uint32_t new_len,
                           uint32_t shared) {
    errno_t err = guest_walk_path(from, old_base, old_path, old_len, FOLLOW_NEVER | shared);
    if (err == E_LAZY) return err;
    /* "file/": wasmtime resolves the new path (and refuses "." there) before ENOTDIR. */
    errno_t source_not_dir = err == E_NOTDIR && from->reached_final ? E_NOTDIR : E_SUCCESS;
    if (source_not_dir) err = E_SUCCESS;
    if (!err) err = guest_walk_path(to, new_base, new_path, new_len, FOLLOW_NEVER | shared);
    if (!err && source_not_dir) err = to->final_kind != FINAL_NAME ? E_BUSY : E_NOTDIR;
    return err;
}

/* Neither name is in a read-only mount, and a directory renamed onto is listed (empty
   only once its host entries are in: E_LAZY under the lock shared). */
static errno_t rename_may_change(const struct path_walk *from, const struct path_walk *to, bool exclusive) {
    errno_t err = may_replace(from);
    if (!err) err = may_replace(to);
    if (!err && to->node && to->node != from->node && to->final_kind == FINAL_NAME) err = lazy_ready(to->node, exclusive);
    return err;
}

/* Renames a file or symlink within its directory or to another one, over nothing or another
   one (a build's "write x.tmp, rename it to x"), under the lock shared with both
   directories' mutexes, as creates and unlinks run. false: it must be done exclusive;
   nothing was done. */
static bool rename_shared(struct process *self, const struct path_walk *from, const struct path_walk *to) {
    if (!is_leaf(from->node) || from->trailing_slash || to->trailing_slash || (to->node && !is_leaf(to->node)) ||
        reclaim_pressing(&self->reclaim))
        return false;
    uint64_t now = file_time_now();
    dir_lock_pair(&self->holder, from->dir, to->dir);
    /* Now no writer changes the names: still what the walks found, or do it exclusive. */
    struct dentry *source = entry_now(from);
    struct dentry *replaced = entry_now(to);
    bool done = from->dir->nlink && to->dir->nlink && source && source->node == from->node &&
                (replaced ? replaced->node == to->node : !to->node);
    done = done && reclaim_reserve(&self->reclaim, &self->holder, 2) &&
           dir_rename_shared(from->dir, source, to->dir, to->name, to->name_len, replaced, now, &self->holder);
    if (done) {
        reclaim_dentry(&self->reclaim, source);
        if (replaced) {
            reclaim_dentry(&self->reclaim, replaced);
            if (inode_drop_link_shared(replaced->node)) reclaim_inode(&self->reclaim, replaced->node);
        }
    }
    dir_unlock_pair(&self->holder, from->dir, to->dir);
    return done;
}

EXPORT("path_rename") int32_t wasi_path_rename(uint32_t old_fd, uint32_t old_path, uint32_t old_len,
                                               uint32_t new_fd, uint32_t new_path, uint32_t new_len) {
    struct inode *old_base, *new_base;
    errno_t err = dir_fd_base(old_fd, RIGHT_PATH_RENAME_SOURCE, &old_base);
    if (err || (err = dir_fd_base(new_fd, RIGHT_PATH_RENAME_TARGET, &new_base))) return err;
    if ((err = may_change(old_base)) || (err = may_change(new_base))) return err;
    struct path_walk from, to;
    struct process *self = current_process();
    if (shared_first(self)) {
        process_lock_shared(self);
        err = walk_rename(&from, &to, old_base, old_path, old_len, new_base, new_path, new_len, WALK_SHARED);
        if (!err) err = rename_may_change(&from, &to, false);
        if (!err) err = tree_rename_check(&from, &to);
        /* Onto itself (one name, or two links of one file) a rename changes nothing. */
        bool done = err ? err != E_LAZY : to.node == from.node || rename_shared(self, &from, &to);
        unlock_shared_after_removal(self);
        if (done) return err;
    }
    process_lock(self);
    err = walk_rename(&from, &to, old_base, old_path, old_len, new_base, new_path, new_len, 0);
    if (!err) err = rename_may_change(&from, &to, true);
    if (!err) err = tree_rename(&from, &to);
    vfs_unlock();
    return err;
}

/* The checks of path_symlink before the walk, under the lock (a host may change the limit
   meanwhile: fuzz regression tsan_symlink_reads_limit_unlocked); *copy is the target read
   in, taken from holder's cache under the lock shared, or with mem_alloc when holder is
   NULL. */
static errno_t symlink_target(uint32_t target, uint32_t target_len, struct lock_holder *holder, char **copy) {
    *copy = NULL;
    if (target_len > vfs_limits()->max_path) return E_NAMETOOLONG;
    if (!target_len) return E_SUCCESS;
    *copy = holder ? mem_alloc_shared(holder, target_len) : mem_alloc(target_len);
    if (!*copy) return E_NOSPC;
    errno_t err = guest_read_path(*copy, target, target_len);
    return !err && (*copy)[0] == '/' ? E_PERM : err; /* it could only ever escape */
}

static errno_t walk_to_symlink(struct path_walk *w, struct inode *base, uint32_t path, uint32_t len,
                               uint32_t target_len, uint32_t shared) {
    errno_t err = guest_walk_path(w, base, path, len, FOLLOW_IF_TRAILING_SLASH | shared);
    if (!err && target_len && !w->node && !w->trailing_slash) err = may_change(w->dir);
    return err;
}

/* Makes the symlink under the lock shared (as create_shared a file). false: it must be
   done exclusive, nothing was done and the copy is given back. */
static bool symlink_shared(struct process *self, uint32_t target, uint32_t target_len, struct inode *base,
                           uint32_t path, uint32_t len, errno_t *err) {
    struct path_walk w;
    char *copy;
    *err = symlink_target(target, target_len, &self->holder, &copy);
    if (*err == E_NOSPC) return false; /* the exclusive path frees what waits first */
    if (!*err) *err = walk_to_symlink(&w, base, path, len, target_len, WALK_SHARED);
    bool done = *err != E_LAZY;
    if (done && !*err) {
        *err = tree_symlink_check(&w, target_len);
        done = *err || create_shared(self, &w, &(struct new_node){ FILETYPE_SYMBOLIC_LINK, 0, copy, target_len }, err);
        if (done && !*err) copy = NULL; /* the link's target now */
    }
    mem_free_shared(&self->holder, copy, target_len);
    return done;
}

EXPORT("path_symlink") int32_t wasi_path_symlink(uint32_t target, uint32_t target_len, uint32_t fd,
                                                 uint32_t path, uint32_t len) {
    struct inode *base;
    errno_t err = dir_fd_base(fd, RIGHT_PATH_SYMLINK, &base);
    if (err || (err = may_change(base))) return err;
    struct process *self = current_process();
    if (shared_first(self)) {
        process_lock_shared(self);
        bool done = symlink_shared(self, target, target_len, base, path, len, &err);
        process_unlock_shared(self);
        if (done) return err;
    }
    struct path_walk w;
    char *copy;
    process_lock(self);
    err = symlink_target(target, target_len, NULL, &copy);
    if (!err) err = walk_to_symlink(&w, base, path, len, target_len, 0);
    if (!err) err = tree_symlink(&w, &copy, target_len);
    mem_free(copy, target_len);
    vfs_unlock();
    return err;
}

static errno_t open_checks(uint32_t oflags, uint32_t fdflags, uint64_t rights_base,
                           uint64_t rights_inheriting) {
    if (oflags & ~(uint32_t)15 || fdflags & ~(uint32_t)31) return E_INVAL;
    if ((rights_base | rights_inheriting) & ~RIGHTS_ALL) return E_INVAL;
    if ((oflags & OFLAG_DIRECTORY) && (oflags & (OFLAG_CREAT | OFLAG_EXCL | OFLAG_TRUNC))) return E_INVAL;
    if (fdflags & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC)) return E_NOTSUP;
    return E_SUCCESS;
}

/* The rights path_open's dirfd needs for these oflags: O_TRUNC changes the file's size. */
static uint64_t open_needs(uint32_t oflags) {
    return RIGHT_PATH_OPEN | (oflags & OFLAG_CREAT ? RIGHT_PATH_CREATE_FILE : 0) |
           (oflags & OFLAG_TRUNC ? RIGHT_PATH_FILESTAT_SET_SIZE : 0);
}

/* The new fd's access follows its rights, which are exactly those asked for masked by the
   directory's inheriting rights (wasmtime 50 differs: it reports every right of the
   access mode, and makes O_CREAT and O_TRUNC writable). */
static uint8_t access_of(uint64_t rights) {
    return (rights & RIGHT_FD_READ ? ACCESS_READ : 0) | (rights & RIGHT_FD_WRITE ? ACCESS_WRITE : 0);
}

/* What path_open refuses for an existing node, whatever the lock. */
static errno_t open_existing_check(const struct inode *node, uint32_t oflags, uint8_t access) {
    if ((oflags & OFLAG_CREAT) && (oflags & OFLAG_EXCL)) return E_EXIST;
    if (node->type == FILETYPE_SYMBOLIC_LINK) return E_LOOP;
    if (node->type == FILETYPE_DIRECTORY)
        return (access & ACCESS_WRITE) || (oflags & (OFLAG_CREAT | OFLAG_TRUNC)) ? E_ISDIR : E_SUCCESS;
    return oflags & OFLAG_DIRECTORY ? E_NOTDIR : E_SUCCESS;
}

static errno_t open_existing(struct path_walk *w, uint32_t oflags, uint8_t access) {
    struct inode *node = w->node;
    errno_t err = open_existing_check(node, oflags, access);
    if (err || node->type == FILETYPE_DIRECTORY) return err;
    if (node->lazy == LAZY_REGULAR_FILE) {
        if (oflags & OFLAG_TRUNC) node->lazy = LAZY_NONE; /* its bytes go unread */
        else if ((err = lazy_load_file(node))) return err;
    }
    if (oflags & OFLAG_TRUNC) {
        if (node->size && (err = file_set_size(node, 0))) return err;
        /* Even when it was empty: POSIX open marks both times for update, as Linux (and so
           wasmtime) does (tests/programs/fs_stat_times.c). */
        inode_touch_modified(node);
    }
    return E_SUCCESS;
}

/* Counts a new fd of the existing node under the lock shared, and truncates the file first
   for O_TRUNC. false: it must be done exclusive, nothing was done (a lazy file's bytes load
   there; only there may a writer or a truncation join a file that some fd holds). */
static bool open_existing_shared(struct process *self, struct inode *node, uint32_t oflags, uint8_t access) {
    if (node->lazy == LAZY_REGULAR_FILE) return false;
    bool truncates = oflags & OFLAG_TRUNC;
    if (!(access & ACCESS_WRITE) && !truncates) return inode_join_reader_shared(node);
    if (node->type != FILETYPE_REGULAR_FILE || node->is_pipe) return false;
    if (!truncates) return inode_join_sole_shared(node);
    if (!inode_begin_emptying_shared(node, 0)) return false;
    /* Read only now: a writer that closed its fd just before may have grown the file. */
    if (node->size) (void)file_set_size_shared(node, 0, &self->holder); /* a shrink: cannot fail */
    inode_touch_modified_at(node, file_time_now()); /* even when empty, as open_existing */
    inode_end_emptying_shared(node);
    return true;
}

static errno_t open_new(struct path_walk *w, uint32_t oflags) {
    if (!(oflags & OFLAG_CREAT)) return E_NOENT;
    if (w->trailing_slash) return E_ISDIR;
    struct inode *file = inode_create(FILETYPE_REGULAR_FILE);
    if (!file) return E_NOSPC;
    errno_t err = link_new(w, file);
    if (err) inode_release_if_unused(file);
    else w->node = file;
    return err;
}

struct open_request {
    struct fd_entry *dirfd;
    uint32_t follow, path, len, oflags, fdflags;
    uint64_t rights_base, rights_inheriting;
    uint8_t access;
};

/* Under the lock shared when shared, else exclusive. false: it must run exclusive (nothing
   was done). Shared, it creates new files and opens existing ones as
   open_existing_shared allows. */
static bool open_locked(struct process *self, const struct open_request *r, bool shared, errno_t *result,
                        uint32_t *newfd) {
    struct path_walk w;
    uint32_t len = r->len;
    /* The number first: with no fd to give (EMFILE) nothing may be created or truncated. */
    errno_t err = fd_allocate_number(self, newfd);
    /* A new block of fds may fit once the exclusive hold has given the block caches back
       (room that truncations freed waits there, counted as used). */
    if (err == E_NOMEM && shared) return false;
    if (!err) err = guest_read_path(w.buf[0], r->path, len);
    /* O_CREAT on "name/" is EISDIR in wasmtime whatever name is, once its parent resolves. */
    bool create_dir_path = !err && (r->oflags & OFLAG_CREAT) && len > 1 && w.buf[0][len - 1] == '/';
    while (create_dir_path && len > 1 && w.buf[0][len - 1] == '/') len--;
    if (!err) err = path_walk(&w, r->dirfd->node, w.buf[0], len, r->follow | shared_flag(!shared));
    if (err == E_LAZY) return false; /* walk again exclusive, which loads the directory */
    bool changes = (r->access & ACCESS_WRITE) || (r->oflags & OFLAG_TRUNC);
    if (!err && (((r->oflags & OFLAG_CREAT) && may_change(w.dir)) || (w.node && changes && may_change(w.node))))
        err = E_PERM;
    /* ...except that O_EXCL on a final "." or ".." finds it existing, as wasmtime does. */
    if (!err && create_dir_path)
        err = (r->oflags & OFLAG_EXCL) && w.final_kind != FINAL_NAME ? E_EXIST : E_ISDIR;
    bool counted = false; /* the fd is in the node's open count */
    if (!err && shared && w.node) {
        err = open_existing_check(w.node, r->oflags, r->access);
        if (!err && !open_existing_shared(self, w.node, r->oflags, r->access)) return false;
        counted = !err;
    } else if (!err && shared && (r->oflags & OFLAG_CREAT) && !w.trailing_slash) {
        if (!create_shared(self, &w, &(struct new_node){ .type = FILETYPE_REGULAR_FILE, .fds = 1 }, &err))
            return false;
        counted = !err;
    }
    if (!err && !counted) err = w.node ? open_existing(&w, r->oflags, r->access) : open_new(&w, r->oflags);
    if (!err) {
        /* Counted before the fd names it: stopped in between, one too many (a leak), never an
           fd its count misses, whose close would free the node under another fd. */
        if (!counted) w.node->open_count++; /* exclusive */
        struct fd_entry *e = fd_slot(self, *newfd);
        bool is_dir = w.node->type == FILETYPE_DIRECTORY;
        e->kind = is_dir ? FD_DIR : FD_FILE;
        e->node = w.node;
        STOP_TEST(STOP_OPEN_NAMED, !counted); /* where a stop point would be */
        e->access = is_dir ? ACCESS_READ : r->access;
        e->flags = (uint16_t)r->fdflags;
        e->rights_base = r->rights_base;
        e->rights_inheriting = r->rights_inheriting;
    }
    *result = err;
    return true;
}

EXPORT("path_open") int32_t wasi_path_open(uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t len,
        uint32_t oflags, uint64_t rights_base, uint64_t rights_inheriting, uint32_t fdflags, uint32_t out) {
    struct process *self = current_process();
    struct fd_entry *dirfd;
    errno_t err = fd_get(fd, &dirfd);
    if (err) return err;
    if (dirfd->kind != FD_DIR) return dirfd->kind == FD_FILE ? E_NOTDIR : E_BADF;
    if ((err = open_checks(oflags, fdflags, rights_base, rights_inheriting)) ||
        (err = fd_need_right(dirfd, open_needs(oflags))) || (err = guest_check(out, 4)))
        return err;
    if (lazy_read_only(dirfd->node) &&
        ((oflags & (OFLAG_CREAT | OFLAG_TRUNC)) || (rights_base & dirfd->rights_inheriting & RIGHT_FD_WRITE)))
        return E_PERM;
    struct open_request r = {
        .dirfd = dirfd, .path = path, .len = len, .oflags = oflags, .fdflags = fdflags,
        .rights_base = rights_base & dirfd->rights_inheriting,
        .rights_inheriting = rights_inheriting & dirfd->rights_inheriting,
        /* O_CREAT|O_EXCL never follows a final symlink: the link itself exists (EEXIST). */
        .follow = (oflags & OFLAG_CREAT) && (oflags & OFLAG_EXCL) ? FOLLOW_IF_TRAILING_SLASH
                                                                    : dirflags & LOOKUP_SYMLINK_FOLLOW,
    };
    r.access = access_of(r.rights_base);
    uint32_t newfd = 0;
    process_lock_shared(self);
    bool done = open_locked(self, &r, true, &err, &newfd);
    process_unlock_shared(self);
    if (!done) {
        process_lock(self);
        open_locked(self, &r, false, &err, &newfd);
        vfs_unlock();
    }
    return err ? err : guest_write_u32(out, newfd);
}
