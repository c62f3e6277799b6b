/* Attaching a core instance to a new process, and detaching it. Each instance gets its own
   shadow stack in shared memory: every instance starts with the same __stack_pointer, so
   attach runs on that boot stack under a spin lock of its own, then switches. */
#include "process.h"
#include "alloc.h"
#include "hooks.h"
#include "fdtable.h"
#include "lock.h"
#include "stdio.h"
#include "vfs.h"

__asm__(".globl wasi_wasm_process\nwasi_wasm_process:\n"); /* defined here; process.h declares its type */

static struct {
    int boot_lock;
    struct process *all;
} processes;

static void set_current_process(struct process *p) {
    __asm__ volatile("local.get %0\nglobal.set wasi_wasm_process" : : "r"(p));
}

static void set_stack_pointer(uint32_t top) {
    __asm__ volatile("local.get %0\nglobal.set __stack_pointer" : : "r"(top));
}

struct process *process_list(void) { return processes.all; }

static void boot_lock(void) {
    int expected = 0;
    while (!__atomic_compare_exchange_n(&processes.boot_lock, &expected, 1, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        expected = 0;
}

static void boot_unlock(void) { __atomic_store_n(&processes.boot_lock, 0, __ATOMIC_RELEASE); }

static void unlink_process(struct process *p) {
    for (struct process **link = &processes.all; *link; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            return;
        }
    }
}

static void free_process(struct process *p) {
    fd_close_all(p);
    mem_free(p->args, p->args_size);
    mem_free(p->env, p->env_size);
    for (int i = 0; i < 2; i++) mem_free(p->out[i].data, OUT_BUFFER_SIZE);
    mem_free(p->io_buf, IO_BUFFER_SIZE);
    unlink_process(p);
    mem_free(p, sizeof *p);
}

static errno_t open_stdio(struct process *p) {
    static const uint8_t kinds[3] = { FD_STDIN, FD_STDOUT, FD_STDERR };
    for (uint32_t fd = 0; fd < 3; fd++) {
        uint32_t got;
        errno_t err = fd_allocate_number(p, &got);
        if (err) return err;
        struct fd_entry *e = &p->fds[got];
        e->kind = kinds[fd];
        e->access = fd == 0 ? ACCESS_READ : ACCESS_WRITE;
        e->rights_base = e->rights_inheriting = fd == 0 ? RIGHT_FD_READ : RIGHT_FD_WRITE;
    }
    return E_SUCCESS;
}

/* Returns the new stack top, or 0 with *err set. Runs on the boot stack. */
__attribute__((noinline)) static uint64_t create_process(int32_t can_block) {
    vfs_lock();
    errno_t err = E_NOMEM;
    struct process *p = NULL;
    uint8_t *stack = NULL;
    if (!vfs_root()) goto out;
    p = mem_alloc_zeroed(sizeof *p);
    stack = mem_alloc(STACK_SIZE);
    if (!p || !stack) goto out;
    p->can_block = can_block != 0;
    p->max_fds = DEFAULT_MAX_FDS;
    p->stdio_mode = STDIO_AT_THRESHOLD;
    p->stack_base = core_addr(stack);
    p->next = processes.all;
    processes.all = p;
    err = open_stdio(p);
out:
    if (err && p) {
        p->stack_base = 0;
        free_process(p);
        p = NULL;
    }
    if (err) mem_free(stack, STACK_SIZE);
    vfs_unlock();
    if (err) return (uint64_t)err << 32;
    return ((uint64_t)core_addr(p) << 32) | (core_addr(stack) + STACK_SIZE);
}

/* Must have no stack frame of its own: it replaces the stack it was called on. */
EXPORT("wasi_wasm_attach") int32_t wasi_wasm_attach(int32_t can_block) {
    if (current_process()) return E_BUSY;
    boot_lock();
    uint64_t result = create_process(can_block);
    boot_unlock();
    uint32_t low = (uint32_t)result, high = (uint32_t)(result >> 32);
    if (!low) return (int32_t)high;
    set_current_process((struct process *)(uintptr_t)high);
    set_stack_pointer(low);
    return E_SUCCESS;
}

/* This instance's process as the lock owner slot names it (0 before attach). */
EXPORT("wasi_wasm_process_id") uint32_t wasi_wasm_process_id(void) {
    return (uint32_t)(uintptr_t)current_process();
}

EXPORT("wasi_wasm_detach") void wasi_wasm_detach(void) {
    struct process *p = current_process();
    if (!p) return;
    stdio_flush(p);
    set_current_process(NULL);
    uint32_t stack = p->stack_base;
    vfs_lock();
    free_process(p);
    /* The stack we run on goes last: nothing else runs on it after the unlock. */
    mem_free((void *)(uintptr_t)stack, STACK_SIZE);
    vfs_unlock();
}

EXPORT("wasi_wasm_alloc") uint32_t wasi_wasm_alloc(uint32_t size) {
    vfs_lock();
    void *p = mem_alloc(size + 4);
    if (p) put_u32(p, size);
    vfs_unlock();
    return p ? core_addr(p) + 4 : 0;
}

EXPORT("wasi_wasm_free") void wasi_wasm_free(uint32_t ptr) {
    if (!ptr) return;
    uint8_t *block = (uint8_t *)(uintptr_t)(ptr - 4);
    vfs_lock();
    mem_free(block, get_u32(block) + 4);
    vfs_unlock();
}

static errno_t copy_strings(uint8_t **dst, uint32_t *dst_size, uint32_t *count,
                            uint32_t ptr, uint32_t len) {
    const uint8_t *src = (const uint8_t *)(uintptr_t)ptr;
    if (len && src[len - 1] != 0) return E_INVAL;
    vfs_lock();
    uint8_t *copy = len ? mem_alloc(len) : NULL;
    if (copy || !len) {
        mem_free(*dst, *dst_size);
        if (len) mem_copy(copy, src, len);
        *dst = copy;
        *dst_size = len;
        *count = 0;
        for (uint32_t i = 0; i < len; i++) *count += copy[i] == 0;
    }
    vfs_unlock();
    return copy || !len ? E_SUCCESS : E_NOMEM;
}

EXPORT("wasi_wasm_set_args") int32_t wasi_wasm_set_args(uint32_t ptr, uint32_t len) {
    struct process *p = current_process();
    return copy_strings(&p->args, &p->args_size, &p->argc, ptr, len);
}

EXPORT("wasi_wasm_set_env") int32_t wasi_wasm_set_env(uint32_t ptr, uint32_t len) {
    struct process *p = current_process();
    return copy_strings(&p->env, &p->env_size, &p->envc, ptr, len);
}

EXPORT("wasi_wasm_set_stdio_mode") void wasi_wasm_set_stdio_mode(uint32_t mode) {
    current_process()->stdio_mode = mode;
}

EXPORT("wasi_wasm_used_bytes") uint64_t wasi_wasm_used_bytes(void) {
    vfs_lock();
    uint64_t used = mem_used_bytes();
    vfs_unlock();
    return used;
}

/* Host API, after this instance trapped, exited or was interrupted (wasmtime epochs can
   stop it anywhere, even inside the core): release the lock if this instance held it, and
   rewind its shadow stack, which the unwound core frames never popped. Returns 1 if the
   lock was held; the host should then run wasi_wasm_fsck. Must have no stack frame. */
EXPORT("wasi_wasm_recover") int32_t wasi_wasm_recover(void) {
    struct process *self = current_process();
    if (!self) return 0;
    set_stack_pointer(self->stack_base + STACK_SIZE);
    if (!vfs_lock_held_by(self)) return 0;
    vfs_unlock();
    return 1;
}
