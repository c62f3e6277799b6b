/* Creating and freeing processes. */
#include "process/process.h"
#include "base/alloc.h"
#include "process/fdtable.h"
#include "process/stdio.h"

static struct {
    struct process *all;
} processes;

struct process *process_list(void) { return processes.all; }

static void unlink_process(struct process *p) {
    for (struct process **link = &processes.all; *link; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            return;
        }
    }
}

void process_free(struct process *p) {
    fd_close_all(p);
    mem_free(p->args, p->args_size);
    mem_free(p->env, p->env_size);
    for (int i = 0; i < 2; i++) mem_free(p->out[i].data, OUT_BUFFER_SIZE);
    mem_free(p->io_buf, IO_BUFFER_SIZE);
    mem_free((void *)p->stack_base, STACK_SIZE);
    vfs_unregister_holder(&p->holder);
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
    p->max_fds = LIMIT_MAX_FDS_DEFAULT;
    p->stdio_mode = STDIO_AT_THRESHOLD;
    p->stack_base = core_addr(stack);
    p->next = processes.all;
    processes.all = p;
    if ((*err = open_stdio(p))) {
        process_free(p);
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
