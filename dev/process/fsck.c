/* The consistency checker: walks the directory tree and every process's fd table, and
   checks link counts, open counts, parent pointers, the directory indexes and the
   allocator against each other. Returns the number of problems found (0 = healthy). */
#include "process/fsck.h"
#include "base/alloc.h"
#include "base/handles.h"
#include "process/fdtable.h"
#include "vfs/lazy.h"

struct position {
    struct inode *dir;
    uint32_t slot;
};

typedef void (*entry_visitor)(struct inode *dir, struct dentry *entry, uint32_t *problems);

#define POSITION_BYTES ((uint32_t)sizeof(struct position))

/* Depth-first over the tree, without recursion: directories can nest deeper than a stack.
   Its stack comes from the reserve, so a full filesystem can still be checked. */
static void walk_tree(entry_visitor visit, uint32_t *problems) {
    uint32_t cap = 64, depth = 0;
    struct position *stack = mem_alloc_reserve(cap * POSITION_BYTES);
    if (!stack) {
        (*problems)++;
        return;
    }
    stack[depth++] = (struct position){ vfs_root(), 0 };
    while (depth) {
        struct inode *dir = stack[depth - 1].dir;
        uint32_t slot = stack[depth - 1].slot++;
        if (slot >= dir->dir.used) {
            depth--;
            continue;
        }
        struct dentry *e = dir->dir.slots[slot].entry;
        if (!e) continue;
        visit(dir, e, problems);
        if (e->node->type != FILETYPE_DIRECTORY || e->node->fsck_links > 1) continue;
        if (depth == cap) {
            struct position *bigger = mem_alloc_reserve(2 * cap * POSITION_BYTES);
            if (!bigger) {
                (*problems)++;
                break;
            }
            mem_copy(bigger, stack, cap * POSITION_BYTES);
            mem_free_reserve(stack, cap * POSITION_BYTES);
            stack = bigger;
            cap *= 2;
        }
        stack[depth++] = (struct position){ e->node, 0 };
    }
    mem_free_reserve(stack, cap * POSITION_BYTES);
}

typedef void (*open_visitor)(struct inode *node, uint32_t *problems);

struct open_visit {
    open_visitor visit;
    uint32_t *problems;
};

static void visit_held_file(void *object, void *context) {
    struct open_visit *v = context;
    v->visit(object, v->problems);
}

/* Every fd's inode, and every new file a host is writing (held by a handle, as by an fd). */
static void for_each_open(open_visitor visit, uint32_t *problems) {
    for (struct process *p = process_list(); p; p = p->next)
        for (uint32_t fd = 0; fd < p->fd_slots; fd++)
            if (fd_slot(p, fd)->kind >= FD_FILE && fd_slot(p, fd)->node) visit(fd_slot(p, fd)->node, problems);
    handle_visit(HANDLE_FILE, visit_held_file, &(struct open_visit){ visit, problems });
}

static void clear_node(struct inode *node, uint32_t *problems) {
    (void)problems;
    node->fsck_links = node->fsck_opens = 0;
}
static void clear_entry(struct inode *dir, struct dentry *e, uint32_t *problems) {
    (void)dir;
    clear_node(e->node, problems);
}
static void count_open(struct inode *node, uint32_t *problems) {
    (void)problems;
    node->fsck_opens++;
}
static void count_entry(struct inode *dir, struct dentry *e, uint32_t *problems) {
    (void)dir, (void)problems;
    e->node->fsck_links++;
}

/* Sets the open count counted: a pipe's is also the host's hold while it wires the ends. */
static void recount_node(struct inode *node, uint32_t *problems) {
    (void)problems;
    if (!node->is_pipe) node->open_count = node->fsck_opens;
}
static void recount_entry(struct inode *dir, struct dentry *e, uint32_t *problems) {
    (void)dir;
    recount_node(e->node, problems);
}

void fsck_recount_opens(void) {
    uint32_t unused = 0;
    struct inode *root = vfs_root();
    if (!root) return;
    clear_node(root, &unused);
    walk_tree(clear_entry, &unused);
    for_each_open(clear_node, &unused);
    for_each_open(count_open, &unused);
    recount_node(root, &unused);
    walk_tree(recount_entry, &unused);
    for_each_open(recount_node, &unused);
}

static uint32_t check_dir(struct inode *dir) {
    struct dir_data *d = &dir->dir;
    uint32_t problems = 0, live = 0, subdirs = 0;
    for (uint32_t i = 0; i < d->used; i++) {
        struct dentry *e = d->slots[i].entry;
        if (i && d->slots[i].seq <= d->slots[i - 1].seq) problems++;
        if (d->slots[i].seq >= d->next_seq) problems++;
        if (!e) continue;
        live++;
        subdirs += e->node->type == FILETYPE_DIRECTORY;
        if (e->seq != d->slots[i].seq || dir_lookup(dir, e->name, e->name_len) != e) problems++;
        if (e->node->type == FILETYPE_DIRECTORY && e->node->dir.parent != dir) problems++;
    }
    problems += d->mutex != 0; /* only shared-lock writers take it (fsck is exclusive) */
    return problems + (live != d->live) + (subdirs != d->subdirs) + (d->used > d->cap);
}

static void check_entry(struct inode *dir, struct dentry *e, uint32_t *problems) {
    (void)dir;
    struct inode *node = e->node;
    if (node->type == FILETYPE_DIRECTORY) {
        /* A directory is named once, and checked once. */
        if (node->nlink != 1 || node->fsck_links != 1) (*problems)++;
        *problems += check_dir(node);
    } else if (node->fsck_links != node->nlink) {
        (*problems)++;
    }
    if (node->fsck_opens != node->open_count) (*problems)++;
    if (node->data_mutex) (*problems)++; /* only writers under the shared lock take it */
    if (node->type == FILETYPE_SYMBOLIC_LINK && node->size && !node->target) (*problems)++;
    if (node->type == FILETYPE_REGULAR_FILE && !node->is_pipe) *problems += file_check(node);
    *problems += lazy_check(node);
}

static void check_open(struct inode *node, uint32_t *problems) {
    /* Unlinked but open: nothing names it, and fds are all that keep it. A pipe is also
       held by the host while it wires the ends. */
    if (node->nlink == 0 && node->fsck_links == 0 && node->fsck_opens != node->open_count &&
        !(node->is_pipe && node->fsck_opens + 1 == node->open_count))
        (*problems)++;
    /* A removed directory an fd still holds was empty, and nothing may come into it (creates,
       links and renames into it fail with ENOENT): a name in it would be freed with it. */
    if (node->type == FILETYPE_DIRECTORY && node->nlink == 0 && (node->dir.live || node->dir.parent)) (*problems)++;
}

uint32_t fsck_run(void) {
    uint32_t problems = 0;
    struct inode *root = vfs_root();
    if (root) {
        clear_node(root, &problems);
        walk_tree(clear_entry, &problems);
        for_each_open(clear_node, &problems);
        walk_tree(count_entry, &problems);
        for_each_open(count_open, &problems);
        root->fsck_links = 1;
        problems += check_dir(root) + (root->fsck_opens != root->open_count) + lazy_check(root);
        walk_tree(check_entry, &problems);
        for_each_open(check_open, &problems);
    }
    /* A handle whose process is gone: nothing would ever release what it holds. */
    return problems + mem_check() + handle_check() + handle_count_orphans(process_numbered);
}
