/* Directory entries: an array of slots in insertion order (so a readdir cookie, the
   entry's sequence number, stays valid while entries come and go) plus an open-addressing
   hash index into it, so lookup does not slow down with directory size. */
#include "vfs/vfs.h"
#include "base/alloc.h"
#include "base/stop_test.h"

#define INDEX_TOMB 0xFFFFFFFFu
#define CHURN_CAP 32u
#define CHURN_CAP_MAX 256u

static uint32_t name_hash(const char *name, uint32_t len) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++) h = (h ^ (uint8_t)name[i]) * 16777619u;
    return h;
}

static uint32_t dentry_size(uint32_t name_len) {
    return (uint32_t)sizeof(struct dentry) + name_len;
}

static bool dentry_is(const struct dentry *e, const char *name, uint32_t len, uint32_t hash) {
    return e->hash == hash && e->name_len == len && mem_equal(e->name, name, len);
}

/* Lookups need no lock of the directory while shared-lock writers add and remove names:
   - the slot and index arrays are never replaced under the shared lock (dir_insert_shared
     needs room), so every cell read lies in a live array, and a dentry read is live or
     waits in reclaim.c;
   - a dentry is complete before the exchange that publishes it, and never changes after
     (but under the lock exclusive);
   - an index cell goes from empty to a slot, a slot to a tombstone, a tombstone to a slot,
     and back to empty only in a reshape (exclusive): a name present throughout is never
     missed, and the probe ends, since the index is at most half full.
   So a lookup sees each concurrent insert or remove either done or not yet begun. */
struct dentry *dir_lookup(struct inode *dir, const char *name, uint32_t len) {
    const struct dir_data *d = &dir->dir;
    if (!d->index_size) return NULL;
    uint32_t hash = name_hash(name, len);
    uint32_t mask = d->index_size - 1;
    for (uint32_t i = hash & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
        uint32_t v = __atomic_load_n(&d->index[i], __ATOMIC_ACQUIRE);
        if (v == 0) return NULL;
        if (v == INDEX_TOMB || v > d->cap) continue;
        struct dentry *e = __atomic_load_n(&d->slots[v - 1].entry, __ATOMIC_ACQUIRE);
        if (e && dentry_is(e, name, len, hash)) return e;
    }
    return NULL;
}

/* The first empty or removed cell of an index of size cells on hash's probe path (the
   index is at most half full: there is one). */
static uint32_t *free_cell_of(uint32_t *index, uint32_t size, uint32_t hash) {
    uint32_t mask = size - 1;
    uint32_t i = hash & mask;
    while (index[i] != 0 && index[i] != INDEX_TOMB) i = (i + 1) & mask;
    return &index[i];
}

static uint32_t *free_cell(struct dir_data *d, uint32_t hash) { return free_cell_of(d->index, d->index_size, hash); }

/* The index cell naming slot, on hash's probe path. */
static uint32_t *cell_of(struct dir_data *d, uint32_t hash, uint32_t slot) {
    uint32_t mask = d->index_size - 1;
    uint32_t i = hash & mask;
    while (d->index[i] != slot + 1) i = (i + 1) & mask;
    return &d->index[i];
}

static void index_put(struct dir_data *d, uint32_t hash, uint32_t slot) { *free_cell(d, hash) = slot + 1; }

/* After a change of d's names is complete (dir_changes): under the directory's mutex, a
   release that a walk's early read pairs with. Under the lock exclusive no walk runs, and
   the unlock publishes it: a plain add, not a locked one. */
static void count_change(struct dir_data *d) { (void)__atomic_add_fetch(&d->changes, 1, __ATOMIC_RELEASE); }
static void count_change_exclusive(struct dir_data *d) { STORE_RELAXED(&d->changes, d->changes + 1); }

/* An entry for child with sequence number seq, complete, not yet in the arrays. shared:
   the writer's holder under the lock shared (its block cache), else NULL. */
static struct dentry *dentry_with_seq(const char *name, uint32_t len, struct inode *child, uint32_t seq,
                                      struct lock_holder *shared) {
    struct dentry *e = shared ? mem_alloc_shared(shared, dentry_size(len)) : mem_alloc(dentry_size(len));
    if (!e) return NULL;
    e->node = child;
    e->seq = seq;
    e->hash = name_hash(name, len);
    e->name_len = (uint16_t)len;
    mem_copy(e->name, name, len);
    return e;
}

/* A new entry for child, complete (its sequence number taken), not yet in the arrays. */
static struct dentry *new_dentry(struct dir_data *d, const char *name, uint32_t len, struct inode *child,
                                 struct lock_holder *shared) {
    struct dentry *e = dentry_with_seq(name, len, child, d->next_seq, shared);
    if (e) d->next_seq++;
    return e;
}

/* Squeeze out removed slots and rebuild the index at a size fit for cap slots, in new
   arrays, even at the same size: the directory names its old ones, whole, until the new
   ones are complete, and gives them back only after it names the new ones. A process
   stopped anywhere in between (a terminated Worker, at a loop header or a call) leaves the
   directory as it was or as it is now, and a block or two never freed at most. Before, a
   squeeze at the same size moved the slots in place (stopped halfway, names were listed
   twice and the index led to other slots), the new index was filled after the directory
   named it (stopped halfway, names were not found), and a grown directory's old slot array
   went back to the allocator before the directory let go of it (stopped at the next
   mem_free's entry, the directory's slots were whatever block took it: a lookup read
   outside the memory). tests/test_alone_attacks.py stops in each window
   (-DSTOP_WINDOW=12, 13, 14). */
static errno_t reshape(struct dir_data *d, uint32_t cap) {
    uint32_t index_size = 8;
    while (index_size < cap * 2) index_size *= 2;
    uint32_t *index = mem_alloc_zeroed(index_size * 4);
    if (!index) return E_NOSPC;
    struct dir_slot *slots = mem_alloc(cap * (uint32_t)sizeof *slots);
    if (!slots) {
        mem_free(index, index_size * 4);
        return E_NOSPC;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->used; i++) {
        STOP_TEST(STOP_RESHAPE_COPYING, cap == d->cap && i == d->used / 2); /* a loop header */
        if (d->slots[i].entry) slots[n++] = d->slots[i];
    }
    for (uint32_t i = 0; i < n; i++) {
        STOP_TEST(STOP_RESHAPE_INDEXING, n > 1 && i == n / 2); /* a loop header */
        *free_cell_of(index, index_size, slots[i].entry->hash) = i + 1;
    }
    struct dir_slot *old_slots = d->slots;
    uint32_t *old_index = d->index;
    uint32_t old_cap = d->cap, old_index_size = d->index_size;
    d->slots = slots;
    d->cap = cap;
    d->used = n;
    d->index = index;
    d->index_size = index_size;
    mem_free(old_slots, old_cap * (uint32_t)sizeof *slots);
    STOP_TEST(STOP_RESHAPE_FREED, old_slots && cap != old_cap); /* as at mem_free's entry */
    mem_free(old_index, old_index_size * 4);
    return E_SUCCESS;
}

/* Under the lock exclusive (no reader is searching): every slot, removed ones too, takes
   its index as its number, so the order holds and numbers restart at used. A readdir
   cookie handed out before means another place now: a listing that spans this (once per
   DIR_SEQ_LIMIT names added) may skip or repeat entries. Stopped halfway (a loop header),
   the numbers still grow along the slots (the first ones small, the rest as they were) and
   next_seq is still past the limit, so the next exclusive insert numbers them all again;
   a test stops the first renumbering only (-DSTOP_WINDOW=15), so that the next one ends. */
#ifdef STOP_WINDOW
static uint32_t renumberings_halfway;
#endif
static void renumber(struct dir_data *d) {
    for (uint32_t i = 0; i < d->used; i++) {
        STOP_TEST(STOP_RENUMBERING, i == d->used / 2 && renumberings_halfway++ == 0); /* a loop header */
        d->slots[i].seq = i;
        if (d->slots[i].entry) d->slots[i].entry->seq = i;
    }
    d->next_seq = d->used;
}

/* Under the lock shared an insert takes the next slot and number: both must be there. */
static bool has_room_shared(const struct dir_data *d) { return d->used < d->cap && d->next_seq < DIR_SEQ_LIMIT; }

static errno_t make_room(struct dir_data *d) {
    if (d->next_seq >= DIR_SEQ_LIMIT) renumber(d);
    if (d->used < d->cap) return E_SUCCESS;
    uint32_t cap = d->cap ? d->cap : 4;
    if (d->live >= d->cap / 2) cap = d->cap ? d->cap * 2 : 4;
    /* Names come and go here (removed slots to squeeze out): room for 32, and twice as much
       each time removed names fill it again, up to 256, so that creates run under the
       shared lock (dir_insert_shared needs room) for hundreds of names between two
       exclusive holds, while a directory where few names go stays small. With 32 for good,
       a thread that made and removed a file in a loop took the lock exclusive every 31
       creates, and 2 threads ran at 0.7x one thread's rate (bench/threads.py create); at
       256, 1.3-1.4x. */
    if (d->used > d->live && cap < CHURN_CAP_MAX) {
        uint32_t churn = d->cap >= CHURN_CAP ? d->cap * 2 : CHURN_CAP;
        if (cap < churn) cap = churn;
    }
    return reshape(d, cap);
}

errno_t dir_insert(struct inode *dir, const char *name, uint32_t len, struct inode *child) {
    struct dir_data *d = &dir->dir;
    errno_t err = make_room(d);
    if (err) return err;
    struct dentry *e = new_dentry(d, name, len, child, NULL);
    if (!e) return E_NOSPC;
    d->slots[d->used] = (struct dir_slot){ e->seq, e };
    index_put(d, e->hash, d->used);
    d->used++;
    d->live++;
    child->nlink++;
    if (child->type == FILETYPE_DIRECTORY) {
        child->dir.parent = dir;
        d->subdirs++;
    }
    count_change_exclusive(d);
    return E_SUCCESS;
}

errno_t dir_link_new(struct inode *dir, const char *name, uint32_t len, struct inode *child) {
    if (dir->nlink == 0) return E_NOENT;
    errno_t err = dir_insert(dir, name, len, child);
    if (!err) inode_touch_modified(dir);
    return err;
}


static void detach_child(struct inode *dir, struct inode *child) {
    child->nlink--;
    if (child->type == FILETYPE_DIRECTORY) {
        dir->dir.subdirs--;
        /* During a rename the directory is briefly named twice: only the last name going
           away orphans it. */
        if (child->nlink == 0) child->dir.parent = NULL;
    }
}

void dir_remove(struct inode *dir, struct dentry *entry) {
    struct dir_data *d = &dir->dir;
    uint32_t slot = dir_slot_from(dir, entry->seq);
    *cell_of(d, entry->hash, slot) = INDEX_TOMB;
    d->slots[slot].entry = NULL;
    d->live--;
    detach_child(dir, entry->node);
    mem_free(entry, dentry_size(entry->name_len));
    count_change_exclusive(d);
}

void dir_retarget(struct inode *dir, struct dentry *entry, struct inode *child) {
    detach_child(dir, entry->node);
    entry->node = child;
    child->nlink++;
    if (child->type == FILETYPE_DIRECTORY) {
        child->dir.parent = dir;
        dir->dir.subdirs++;
    }
    count_change_exclusive(&dir->dir);
}

/* Everything that can stop a move comes first: the clock read, the room and the new entry
   in to, the probes for both index cells. Then the changes, one straight line with no call
   and no loop, where a terminated Worker cannot stop (wasm stops at function entries and
   loop headers), nor can a hook raise. Stopped anywhere, the node has its old name or its
   new one, never both: a directory named twice had its parent pointer name only the new
   directory, and once that name and that directory were removed, a walk of the other
   name's ".." read freed memory (tests/test_alone_attacks.py, a clock hook that raised
   between dir_link_new's insert and dir_remove). The old entry goes back to the allocator
   last, once nothing names it. */
errno_t dir_move(struct inode *from, struct dentry *entry, struct inode *to, const char *name, uint32_t len,
                 struct dentry *replaced) {
    if (to->nlink == 0) return E_NOENT; /* removed meanwhile, as dir_link_new says */
    struct dir_data *f = &from->dir, *t = &to->dir;
    struct inode *node = entry->node, *gone = replaced ? replaced->node : NULL;
    uint64_t now = vfs_now();
    struct dentry *e = NULL;
    uint32_t *cell = NULL;
    if (!replaced) {
        errno_t err = make_room(t); /* from's slots too when from is to */
        if (err) return err;
        if (!(e = new_dentry(t, name, len, node, NULL))) return E_NOSPC;
        cell = free_cell(t, e->hash);
    }
    uint32_t slot = dir_slot_from(from, entry->seq);
    uint32_t *old_cell = cell_of(f, entry->hash, slot);
    /* From here to mem_free: no call, no loop. */
    if (gone) {
        replaced->node = node;
        gone->nlink--;
        gone->ctim = now;
        if (gone->type == FILETYPE_DIRECTORY) {
            t->subdirs--;
            if (!gone->nlink) gone->dir.parent = NULL;
        }
    } else {
        t->slots[t->used] = (struct dir_slot){ e->seq, e };
        *cell = t->used + 1;
        t->used++;
        t->live++;
    }
    *old_cell = INDEX_TOMB;
    f->slots[slot].entry = NULL;
    f->live--;
    if (node->type == FILETYPE_DIRECTORY) {
        f->subdirs--;
        t->subdirs++;
        node->dir.parent = to;
    }
    STORE_RELAXED(&f->changes, f->changes + 1);
    if (t != f) STORE_RELAXED(&t->changes, t->changes + 1);
    from->mtim = from->ctim = now;
    to->mtim = to->ctim = now;
    node->ctim = now;
    mem_free(entry, dentry_size(entry->name_len));
    return E_SUCCESS;
}

/* Cells readers may read change by exchanges (not wasm's atomic store: lock.c), each
   after what it publishes is complete. A new entry takes the next slot (there is room),
   which no reader reads before the index cell or the count that publish it: a plain store.
   The counts that only the directory's mutex holder changes (live, subdirs) publish
   nothing: rmdir's and rename's checks read them early without it, and again under it.
   live counts a name before it is in and after it is out: a process stopped in between
   (a terminated Worker, reaped) leaves it one too many (rmdir says ENOTEMPTY, fsck
   reports it), never one too few, which would let rmdir free a directory that names a
   node. */
static void publish_appended(struct dir_data *d, struct dentry *e) {
    STORE_RELAXED(&d->live, d->live + 1);
    d->slots[d->used] = (struct dir_slot){ e->seq, e };
    (void)__atomic_exchange_n(free_cell(d, e->hash), d->used + 1, __ATOMIC_SEQ_CST);
    (void)__atomic_exchange_n(&d->used, d->used + 1, __ATOMIC_SEQ_CST); /* readdir reads it */
    STOP_TEST(STOP_NAME_PUBLISHED, true); /* where a stop point would be */
}

static void unpublish(struct inode *dir, struct dentry *entry) {
    struct dir_data *d = &dir->dir;
    uint32_t slot = dir_slot_from(dir, entry->seq);
    (void)__atomic_exchange_n(cell_of(d, entry->hash, slot), INDEX_TOMB, __ATOMIC_SEQ_CST);
    (void)__atomic_exchange_n(&d->slots[slot].entry, NULL, __ATOMIC_SEQ_CST);
    STORE_RELAXED(&d->live, d->live - 1);
}

bool dir_insert_shared(struct inode *dir, const char *name, uint32_t len, struct inode *child, uint64_t now,
                       struct lock_holder *writer) {
    struct dir_data *d = &dir->dir;
    if (!has_room_shared(d)) return false;
    struct dentry *e = new_dentry(d, name, len, child, writer);
    if (!e) return false; /* ENOSPC is the exclusive path's to say */
    if (child->type == FILETYPE_DIRECTORY) {
        child->dir.parent = dir;
        STORE_RELAXED(&d->subdirs, d->subdirs + 1); /* stat reads it meanwhile */
    }
    publish_appended(d, e);
    count_change(d);
    inode_touch_modified_at(dir, now);
    return true;
}

bool dir_remove_shared(struct inode *dir, struct dentry *entry, uint64_t now) {
    unpublish(dir, entry);
    count_change(&dir->dir);
    inode_touch_modified_at(dir, now);
    inode_touch_changed_at(entry->node, now);
    return inode_drop_link_shared(entry->node);
}

/* The child's count and parent change under its mutex too: creates in it (which hold it)
   find it removed after; stat and walks read them meanwhile, either value. It lets go of
   its parent before its name goes: stopped in between (a terminated Worker, reaped), a
   removed directory still named its parent, which an fd held on it would reach after the
   parent was removed and freed in turn. */
void dir_remove_dir_shared(struct inode *dir, struct dentry *entry, uint64_t now) {
    struct inode *child = entry->node;
    STORE_RELAXED(&child->nlink, 0);
    STORE_RELAXED(&child->dir.parent, NULL);
    unpublish(dir, entry);
    STOP_TEST(STOP_DIR_UNPUBLISHED, true); /* where a stop point would be */
    count_change(&dir->dir);
    STORE_RELAXED(&dir->dir.subdirs, dir->dir.subdirs - 1);
    inode_touch_modified_at(dir, now);
    inode_touch_changed_at(child, now);
}

/* Tests stop a rename between its two entries, as a terminated Worker can
   (-DRENAME_TRAP_NAME="name": a shared rename to that name traps there;
   tests/test_stopped_writes.py). The real core has no such stop. */
#ifdef RENAME_TRAP_NAME
#define STOP_TEST_RENAME(name, len) \
    do { \
        if ((len) == sizeof RENAME_TRAP_NAME - 1 && mem_equal(name, RENAME_TRAP_NAME, len)) __builtin_trap(); \
    } while (0)
#else
#define STOP_TEST_RENAME(name, len) ((void)0)
#endif

/* Over a file, the new dentry takes the replaced one's slot (and so its index cell and
   readdir cookie) in one exchange: a lookup of the name finds one file or the other at
   every moment, never neither. Else the new name is in before the old one goes, so a
   lookup of either name between the two steps finds the file. The replaced file keeps its
   count: the caller drops it after (stopped in between, a count one too many). */
bool dir_rename_shared(struct inode *from, struct dentry *source, struct inode *to, const char *name,
                       uint32_t len, struct dentry *replaced, uint64_t now, struct lock_holder *writer) {
    struct dir_data *d = &to->dir;
    if (!replaced && !has_room_shared(d)) return false;
    struct inode *node = source->node;
    struct dentry *e = replaced ? dentry_with_seq(name, len, node, replaced->seq, writer)
                                : new_dentry(d, name, len, node, writer);
    if (!e) return false;
    /* Counted twice while it is named twice: a process stopped in between (a terminated
       Worker, reaped) leaves a hard link, not a second name its count misses, which a later
       unlink of the other would leave pointing at a freed file. Stopped before the second
       name or after the first goes, the count is one too many: a file that is never freed,
       which fsck reports, never one freed too soon. Neither name can go meanwhile (their
       directories' mutexes are held), so the drop after never takes the last link. */
    (void)__atomic_add_fetch(&node->nlink, 1, __ATOMIC_SEQ_CST);
    if (replaced) {
        (void)__atomic_exchange_n(&d->slots[dir_slot_from(to, replaced->seq)].entry, e, __ATOMIC_SEQ_CST);
        inode_touch_changed_at(replaced->node, now);
    } else {
        publish_appended(d, e);
    }
    STOP_TEST_RENAME(name, len);
    unpublish(from, source);
    (void)__atomic_sub_fetch(&node->nlink, 1, __ATOMIC_SEQ_CST);
    count_change(d);
    if (from != to) count_change(&from->dir);
    inode_touch_modified_at(from, now);
    inode_touch_modified_at(to, now);
    inode_touch_changed_at(node, now);
    return true;
}

void dir_lock_pair(struct lock_holder *holder, struct inode *a, struct inode *b) {
    struct inode *first = a < b ? a : b, *second = a < b ? b : a;
    holder_lock_mutex(holder, MUTEX_OBJECT, &first->dir.mutex);
    if (second != first) holder_lock_mutex(holder, MUTEX_SECOND_OBJECT, &second->dir.mutex);
}

void dir_unlock_pair(struct lock_holder *holder, struct inode *a, struct inode *b) {
    if (a != b) holder_unlock_mutex(holder, MUTEX_SECOND_OBJECT);
    holder_unlock_mutex(holder, MUTEX_OBJECT);
}

uint32_t dir_slot_from(const struct inode *dir, uint32_t seq) {
    const struct dir_data *d = &dir->dir;
    uint32_t lo = 0, hi = __atomic_load_n(&d->used, __ATOMIC_ACQUIRE); /* dir_insert_shared */
    /* Slots keep their numbers when their names go, until a reshape squeezes them out, so
       the names made since then sit at the end numbered without gaps: a removal most often
       takes one of those ("x.tmp", mkdir and rmdir), found at once in a directory where
       names come and go (up to 256 slots). */
    if (hi) {
        uint32_t back = d->slots[hi - 1].seq - seq; /* wraps past the last number: no slot */
        if (back < hi && d->slots[hi - 1 - back].seq == seq) return hi - 1 - back;
    }
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (d->slots[mid].seq < seq) lo = mid + 1; else hi = mid;
    }
    return lo;
}

void dir_free(struct inode *dir) {
    struct dir_data *d = &dir->dir;
    mem_free(d->slots, d->cap * (uint32_t)sizeof *d->slots);
    mem_free(d->index, d->index_size * 4);
}
