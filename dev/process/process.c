/* Creating and freeing processes. */
#include "process/process.h"
#include "base/alloc.h"
#include "base/handles.h"
#include "process/fdtable.h"
#include "process/stdio.h"

/* Every live process, and a fixed registry that numbers them for hosts: a slot's
   generation changes each time it is taken or given back, so a stale or forged number
   finds nothing. Fixed, so that it can be read without the lock. */
#define REGISTRY_SLOTS 16384u /* 16384 processes need more than 1 GiB of stacks */
#define SLOT_BITS 14u
/* The claim of whoever ends a process (process_claim: a reaper, or its own detach): set
   in its slot's generation, above the bits an id carries, so that no id finds the process
   again and exactly one of them ends it. */
#define SLOT_CLAIMED 0x80000000u
_Static_assert(SLOT_CLAIMED > UINT32_MAX >> SLOT_BITS, "an id could name a claimed slot");
/* Every fd of every process and every host handle (at most 65535, base/handles.c) count in
   an inode's open_count, which so never reaches OPEN_EMPTYING (vfs.h) nor wraps. */
_Static_assert((uint64_t)REGISTRY_SLOTS * LIMIT_MAX_FDS_MAX + 65535u < OPEN_EMPTYING,
               "an open count could reach OPEN_EMPTYING");

static struct {
    struct process *all;
    uint32_t next_free_hint;
    struct registry_slot {
        uint32_t generation;
        /* The process's thread group, kept here so that a reap of a group reads no process
           before its claim (process_claim_in_group): one it found may be freed meanwhile. */
        uint32_t group;
        struct process *process;
    } registry[REGISTRY_SLOTS];
} processes;

static bool register_process(struct process *p) {
    for (uint32_t n = 0; n < REGISTRY_SLOTS; n++) {
        uint32_t i = (processes.next_free_hint + n) % REGISTRY_SLOTS;
        struct registry_slot *slot = &processes.registry[i];
        if (slot->process) continue;
        uint32_t generation = (slot->generation + 1) & ((1u << (32 - SLOT_BITS)) - 1);
        if (!generation) generation = 1;
        /* Numbered before it can be found: a lookup then never needs to read it. */
        __atomic_store_n(&slot->group, p->holder.group, __ATOMIC_SEQ_CST);
        p->id = (generation << SLOT_BITS) | i;
        __atomic_store_n(&slot->generation, generation, __ATOMIC_SEQ_CST);
        __atomic_store_n(&slot->process, p, __ATOMIC_SEQ_CST);
        processes.next_free_hint = i + 1;
        return true;
    }
    return false;
}

/* The next generation follows the process's own, not the slot's word, which the claim
   marked: the mark goes with the process. */
static void unregister_process(struct process *p) {
    struct registry_slot *slot = &processes.registry[p->id & (REGISTRY_SLOTS - 1)];
    if (slot->process != p) return; /* never registered */
    __atomic_store_n(&slot->process, NULL, __ATOMIC_SEQ_CST);
    __atomic_store_n(&slot->generation, (p->id >> SLOT_BITS) + 1, __ATOMIC_SEQ_CST);
}

/* Reads no process: one found here may be freed at any moment by its reaper. A process
   is stored only after its generation and cleared before the generation moves on, so a
   slot seen holding p with the id's generation before and after holds the process so
   numbered; a claimed slot's generation matches no id. */
struct process *process_by_id(uint32_t id) {
    const struct registry_slot *slot = &processes.registry[id & (REGISTRY_SLOTS - 1)];
    uint32_t generation = __atomic_load_n(&slot->generation, __ATOMIC_SEQ_CST);
    struct process *p = __atomic_load_n(&slot->process, __ATOMIC_SEQ_CST);
    bool same = generation == id >> SLOT_BITS && __atomic_load_n(&slot->generation, __ATOMIC_SEQ_CST) == generation;
    return same ? p : NULL;
}

/* One compare-exchange: of every caller that names the process numbered id, exactly one
   moves the generation from the id's to the mark. A slot given back and taken again since
   a reaper found the process has another generation, so a claim never lands on the next
   process (until the generation comes round: DESIGN.md, "Numbers that cannot wrap"). */
bool process_claim(uint32_t id) {
    struct registry_slot *slot = &processes.registry[id & (REGISTRY_SLOTS - 1)];
    uint32_t expected = id >> SLOT_BITS;
    return __atomic_compare_exchange_n(&slot->generation, &expected, expected | SLOT_CLAIMED, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* The group of the process numbered id, read from its slot, as process_by_id reads the
   process: the generation the same before and after. false: no such process. */
bool process_group_of(uint32_t id, uint32_t *group) {
    const struct registry_slot *slot = &processes.registry[id & (REGISTRY_SLOTS - 1)];
    uint32_t generation = __atomic_load_n(&slot->generation, __ATOMIC_SEQ_CST);
    *group = __atomic_load_n(&slot->group, __ATOMIC_SEQ_CST);
    bool live = __atomic_load_n(&slot->process, __ATOMIC_SEQ_CST) != NULL;
    return live && generation == id >> SLOT_BITS && __atomic_load_n(&slot->generation, __ATOMIC_SEQ_CST) == generation;
}

void process_join_group(struct process *p, uint32_t group) {
    vfs_join_group(&p->holder, group);
    __atomic_store_n(&processes.registry[p->id & (REGISTRY_SLOTS - 1)].group, group, __ATOMIC_SEQ_CST);
}

/* Reads no process before its claim, only slots (a process found may be freed by its
   reaper or detach meanwhile; the threaded TSan fuzzer caught a read of the group in the
   process itself racing a new process's zeroing of the freed block): the group is the
   promise that its processes share one (gone) thread, and a claim succeeds only while the
   slot still holds the generation whose group was read. */
struct process *process_claim_in_group(uint32_t group, const struct process *skip, uint32_t *cursor) {
    for (; *cursor < REGISTRY_SLOTS; (*cursor)++) {
        const struct registry_slot *slot = &processes.registry[*cursor];
        uint32_t generation = __atomic_load_n(&slot->generation, __ATOMIC_SEQ_CST);
        if (generation & SLOT_CLAIMED) continue;
        uint32_t id = (generation << SLOT_BITS) | *cursor, found;
        struct process *q = process_by_id(id);
        if (!q || q == skip || !process_group_of(id, &found) || found != group) continue;
        if (!process_claim(id)) continue;
        (*cursor)++;
        return q;
    }
    return NULL;
}

/* Under the lock, which registration and unregistration hold: a claimed process (its
   reaper has not freed it yet) still counts. The generation is read atomically all the
   same: a reaper claims without the lock (fuzz regression
   tsan_fsck_read_a_generation_a_reaper_claims). */
bool process_numbered(uint32_t id) {
    const struct registry_slot *slot = &processes.registry[id & (REGISTRY_SLOTS - 1)];
    uint32_t generation = __atomic_load_n(&slot->generation, __ATOMIC_RELAXED);
    return slot->process && (generation & ~SLOT_CLAIMED) == id >> SLOT_BITS;
}

struct process *process_list(void) { return processes.all; }

static void unlink_process(struct process *p) {
    for (struct process **link = &processes.all; *link; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            return;
        }
    }
}

void process_end_stopped_write(struct process *p) {
    struct inode *file = p->writing;
    struct inode *appended = p->appending ? handle_get(p->appending, HANDLE_FILE) : NULL;
    p->writing = NULL;
    p->appending = 0;
    if (file) (void)file_set_size(file, file->size); /* no larger: cannot fail */
    if (appended) (void)file_set_size(appended, appended->size);
}

/* What the process's handles still hold, as the calls that end each would release it
   (wasi_wasm_free, _fs_file_drop, _pipe_release): a host whose thread died (a terminated
   Worker) never makes those calls, and nobody else knows the numbers are its. */
static void release_owned_handles(struct process *p) {
    struct handle_taken taken;
    uint32_t cursor = 0;
    while (handle_take_owned(p->id, &cursor, &taken)) {
        struct inode *node = taken.object;
        switch (taken.kind) {
        case HANDLE_BUFFER:
            mem_free_reserve(taken.object, taken.size);
            break;
        case HANDLE_FILE: /* a new file no directory names: the handle was all that held it */
            node->open_count = 0;
            inode_release_if_unused(node);
            break;
        case HANDLE_PIPE: /* the host's hold; ends attached to fds keep the pipe */
            node->open_count--;
            inode_release_if_unused(node);
            break;
        default:
            break;
        }
    }
}

void process_free(struct process *p) {
    release_owned_handles(p);
    fd_close_all(p);
    mem_free(p->args, p->args_size);
    mem_free(p->env, p->env_size);
    for (int i = 0; i < 2; i++) mem_free(p->out[i].data, OUT_BUFFER_SIZE);
    mem_free(p->io_buf, IO_BUFFER_SIZE);
    mem_free((void *)p->stack_base, STACK_SIZE);
    reclaim_unregister(&p->reclaim);
    mem_drain_caches(); /* its cache too, before it leaves the holders */
    vfs_unregister_holder(&p->holder);
    unregister_process(p);
    unlink_process(p);
    mem_free(p, sizeof *p);
}

static errno_t open_stdio(struct process *p) {
    static const uint8_t kinds[3] = { FD_STDIN, FD_STDOUT, FD_STDERR };
    for (uint32_t fd = 0; fd < 3; fd++) {
        uint32_t got;
        errno_t err = fd_allocate_number(p, &got);
        if (err) return err;
        struct fd_entry *e = fd_slot(p, got);
        e->kind = kinds[fd];
        e->access = fd == 0 ? ACCESS_READ : ACCESS_WRITE;
        e->rights_base = e->rights_inheriting = fd == 0 ? RIGHT_FD_READ : RIGHT_FD_WRITE;
    }
    return E_SUCCESS;
}

struct process *process_create(bool can_block, errno_t *err) {
    struct process *p = vfs_root() ? mem_alloc_zeroed(sizeof *p) : NULL;
    void *stack = p ? mem_alloc(STACK_SIZE) : NULL;
    if (!stack) {
        mem_free(p, sizeof *p);
        *err = E_NOMEM;
        return NULL;
    }
    p->can_block = can_block;
    p->holder.can_block = can_block;
    vfs_register_holder(&p->holder);
    reclaim_register(&p->reclaim);
    p->max_fds = LIMIT_MAX_FDS_DEFAULT;
    p->stdio_mode = STDIO_AT_THRESHOLD;
    p->stack_base = core_addr(stack);
    p->next = processes.all;
    processes.all = p;
    *err = register_process(p) ? E_SUCCESS : E_AGAIN;
    /* Unique among live processes (their slots differ), never 0 or lock.c's anonymous tag. */
    p->holder.tag = (p->id & 0x3FFFFFFFu) | 0x40000000u;
    if (*err || (*err = open_stdio(p))) {
        /* Unnumbered, or claimed here: a reap of a guessed number then cannot free it too. */
        if (!p->id || process_claim(p->id)) process_free(p);
        return NULL;
    }
    return p;
}

errno_t process_set_strings(struct process *p, bool env, const uint8_t *blob, uint32_t len) {
    if (len && blob[len - 1] != 0) return E_INVAL;
    uint8_t *copy = len ? mem_alloc(len) : NULL;
    if (len && !copy) return E_NOMEM;
    uint8_t **dst = env ? &p->env : &p->args;
    uint32_t *size = env ? &p->env_size : &p->args_size, *count = env ? &p->envc : &p->argc;
    mem_free(*dst, *size);
    if (len) mem_copy(copy, blob, len);
    *dst = copy;
    *size = len;
    *count = 0;
    for (uint32_t i = 0; i < len; i++) *count += copy[i] == 0;
    return E_SUCCESS;
}
