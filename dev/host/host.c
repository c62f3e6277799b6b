/* Every export a host calls (wasi_wasm_*), in one place: the core's host ABI. Each one
   checks what the host passes (handles, fd numbers, ranges) before it acts, and takes the
   lock in the calling instance's name. */
#include "host/exports.h"
#include "host/host_call.h"
#include "base/alloc.h"
#include "base/file_clock.h"
#include "base/handles.h"
#include "base/hooks.h"
#include "process/fdtable.h"
#include "process/fsck.h"
#include "process/mount.h"
#include "process/preopen.h"
#include "process/stdio.h"
#include "vfs/limits.h"
#include "vfs/pipe.h"

#if defined(__wasm__)
__asm__(".globl wasi_wasm_process\nwasi_wasm_process:\n"); /* platform.h declares its type */
#endif

/* ---- processes ---- */

static struct {
    int boot_lock;
} boot;

static void boot_take(void) {
    int expected = 0;
    while (!__atomic_compare_exchange_n(&boot.boot_lock, &expected, 1, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        expected = 0;
}

static void boot_release(void) { __atomic_store_n(&boot.boot_lock, 0, __ATOMIC_RELEASE); }

/* Makes this instance's process. Runs on the boot stack, which every instance starts
   with: hence the boot lock. */
__attribute__((noinline)) static int32_t create_process(int32_t can_block) {
    lock_anonymous(can_block != 0);
    errno_t err = E_SUCCESS;
    struct process *p = process_create(can_block != 0, &err);
    vfs_unlock();
    if (p) platform_set_instance_process(p);
    return err;
}

/* Attaches this instance to a new process. Must have no stack frame of its own: it
   replaces the stack it was called on. */
EXPORT("wasi_wasm_attach") int32_t wasi_wasm_attach(int32_t can_block) {
    if (current_process()) return E_BUSY;
    boot_take();
    int32_t err = create_process(can_block);
    boot_release();
    if (err) return err;
    platform_set_stack_pointer(current_process()->stack_base + STACK_SIZE);
    return E_SUCCESS;
}

/* The process's own end. It claims the process as a reaper would, so that it and a reap
   never both end it: a host that reaped a process whose thread still ran (its error) left
   the freeing to the reaper, and this instance then only forgets the process. */
EXPORT("wasi_wasm_detach") void wasi_wasm_detach(void) {
    struct process *p = current_process();
    if (!p) return;
    if (!process_claim(p->id)) {
        platform_set_instance_process(NULL);
        return;
    }
    stdio_flush(p);
    (void)vfs_thaw(&p->holder); /* a freeze ends with its process */
    platform_set_instance_process(NULL);
    /* The stack we run on is freed with the process: nothing runs on it after the unlock.
       The lock is taken in no process's name: the holder goes with the process. */
    lock_anonymous(p->can_block);
    process_free(p);
    vfs_unlock();
}

/* After this instance trapped, exited or was interrupted (wasmtime epochs can stop it
   anywhere, even inside the core): release the lock if this instance held it, and rewind
   its shadow stack, which the unwound core frames never popped. Returns 1 if the lock was
   held; the host should then run wasi_wasm_fsck. Must have no stack frame. */
EXPORT("wasi_wasm_recover") int32_t wasi_wasm_recover(void) {
    struct process *self = current_process();
    if (!self) return 0;
    platform_set_stack_pointer(self->stack_base + STACK_SIZE);
    bool held = vfs_release_held(&self->holder);
    if (self->writing || self->appending) {
        host_lock();
        process_end_stopped_write(self);
        vfs_unlock();
    }
    return held ? 1 : 0;
}

/* This instance's process's number, for wasi_wasm_reap from another instance. 0 before attach. */
EXPORT("wasi_wasm_process_id") uint32_t wasi_wasm_process_id(void) {
    struct process *self = current_process();
    return self ? self->id : 0;
}

/* This instance's process's thread group, after it joins group join if that is nonzero (a
   number another process of the filesystem got here). Processes of one group promise never
   to run at the same time (their host runs them on one thread, as the Python host does a
   Wasi with its filesystem API and its runs, and the JS loader a thread's processes): while
   every process is in one group, directory changes take the lock exclusive at once, which
   costs less than the shared path (wasi_path.c, vfs_alone). A broken promise costs
   parallelism, never correctness: the processes then take turns. 0 before attach. */
EXPORT("wasi_wasm_thread_group") uint32_t wasi_wasm_thread_group(uint32_t join) {
    struct process *self = current_process();
    if (!self) return 0;
    if (join) {
        process_lock(self);
        process_join_group(self, join);
        vfs_unlock();
    }
    return self->holder.group;
}

/* Tests widen the window between a reaper's lookup of the process and its claim
   (-DREAP_PAUSE_NS: the fuzzers and tests/test_reap.py wait there), so that two reapers of
   one id both find the process before either claims it. 0 (the real core): no wait. */
#ifndef REAP_PAUSE_NS
#define REAP_PAUSE_NS 0
#endif
static int reap_pause_word; /* never changes: the wait always runs to its timeout */
static void reap_pause(void) {
    if (REAP_PAUSE_NS) platform_wait32(&reap_pause_word, 0, REAP_PAUSE_NS);
}

static int32_t end_claimed(struct process *chain, bool held);

/* Ends the process numbered id, whose thread is gone (a terminated Worker): releases what
   it held (the lock in either mode, its mutexes) and frees it, as its own detach would.
   Only for a process that will never run again: releasing the locks of a live one would
   let two operations into the filesystem at once. Several threads may reap one id at once:
   only the one whose claim succeeds touches the process, before anything is released, so
   a loser cannot release the locks of a new process that took the freed one's memory.
   Returns 1 if it held a lock (an operation may be half done: run fsck), 0 if not,
   -EINVAL if id names no process, one another reaper claimed, or the caller's own. */
EXPORT("wasi_wasm_reap") int32_t wasi_wasm_reap(uint32_t id) {
    struct process *self = current_process();
    struct process *p = self && self->id == id ? NULL : process_by_id(id);
    if (!p) return -(int32_t)E_INVAL;
    reap_pause();
    if (!process_claim(id)) return -(int32_t)E_INVAL;
    bool held = vfs_release_held(&p->holder);
    p->reap_next = NULL;
    return end_claimed(p, held);
}

/* Frees the claimed processes of the chain (through reap_next), whose locks were released:
   one hold for all, since none can run again. Returns what a reap returns. */
static int32_t end_claimed(struct process *chain, bool held) {
    host_lock();
    for (struct process *p = chain, *next; p; p = next) {
        next = p->reap_next;
        process_end_stopped_write(p);
        process_free(p);
    }
    if (held) fsck_recount_opens();
    vfs_unlock();
    return held ? 1 : 0;
}

/* wasi_wasm_reap of id, and of every other process of its thread group: a terminated
   thread's processes all at once, those its page knows the numbers of (a JS Wasi's) and
   those it does not (the Worker's internal host process, which its filesystem API runs on,
   and which a Worker terminated inside that API leaves holding the lock). A group is the
   host's promise that its processes share one thread (wasi_wasm_thread_group), so this is
   for a group whose thread is gone: a live process someone wrongly joined to it would be
   freed under its thread. -EINVAL as for reap, and for a process of the caller's own group
   (they run on the caller's thread). The locks of all are released before the lock is
   taken: any of them may hold it (the host process, stopped in a write). */
EXPORT("wasi_wasm_reap_group") int32_t wasi_wasm_reap_group(uint32_t id) {
    struct process *self = current_process();
    struct process *p = self && self->id == id ? NULL : process_by_id(id);
    uint32_t group;
    /* Read from the registry before the claim, so that a refusal claims nothing: p may be
       freed meanwhile (then the claim fails too) and is read only once claimed. */
    if (!p || !process_group_of(id, &group)) return -(int32_t)E_INVAL;
    if (self && group == self->holder.group) return -(int32_t)E_INVAL;
    reap_pause();
    if (!process_claim(id)) return -(int32_t)E_INVAL;
    bool held = vfs_release_held(&p->holder);
    p->reap_next = NULL;
    uint32_t cursor = 0;
    for (struct process *q; (q = process_claim_in_group(group, self, &cursor));) {
        held = vfs_release_held(&q->holder) || held;
        q->reap_next = p;
        p = q;
    }
    return end_claimed(p, held);
}

/* The word a host reads to learn whether this instance's process holds (or is taking) the
   VFS lock, in either mode: its epoch-deadline callback defers an interrupt while the word
   is nonzero, so an operation is never stopped halfway. 0 before attach. */
EXPORT("wasi_wasm_busy_slot") uintptr_t wasi_wasm_busy_slot(void) {
    struct process *self = current_process();
    return self ? core_addr(&self->holder.state) : 0;
}

/* Freezes the filesystem in this instance's process's name: the lock stays exclusive
   until wasi_wasm_thaw (or detach, recover, reap), so that the host's calls from this
   process between the two see the whole filesystem at one moment (a consistent snapshot)
   while every other process waits at its next filesystem call. EBUSY if this process has
   frozen it already, EBADF before attach. */
EXPORT("wasi_wasm_freeze") int32_t wasi_wasm_freeze(void) {
    struct process *self = current_process();
    if (!self) return E_BADF;
    errno_t err = vfs_freeze(&self->holder);
    if (!err) reclaim_now();
    return err;
}

/* Ends this process's freeze: EINVAL if it holds none. */
EXPORT("wasi_wasm_thaw") int32_t wasi_wasm_thaw(void) {
    struct process *self = current_process();
    return self ? vfs_thaw(&self->holder) : E_BADF;
}

/* The word a host may keep at the realtime clock in ns, for file times (base/file_clock.h):
   one aligned 8-byte store at a time, 0 while it does not. */
EXPORT("wasi_wasm_file_clock") uintptr_t wasi_wasm_file_clock(void) { return core_addr(file_clock_word()); }

EXPORT("wasi_wasm_hook_index") int32_t wasi_wasm_hook_index(int32_t hook) {
    return hook_table_index(hook);
}

/* ---- buffers the host fills: from the reserve, each registered, so that free can
   refuse a pointer it did not hand out (or one already freed) without reading it ---- */

#define BUFFER_HEADER 8u

static uintptr_t alloc_buffer(uint32_t size, bool kept) {
    if (size > UINT32_MAX - BUFFER_HEADER) return 0;
    host_lock();
    uint8_t *block = mem_alloc_reserve(size + BUFFER_HEADER);
    if (block && !handle_new(block, size + BUFFER_HEADER, HANDLE_BUFFER, kept ? 0 : host_owner())) {
        mem_free_reserve(block, size + BUFFER_HEADER);
        block = NULL;
    }
    if (block) put_u32(block, size);
    vfs_unlock();
    return block ? core_addr(block + BUFFER_HEADER) : 0;
}

/* A buffer of the calling process: freed with it (its detach, or the reap of its terminated
   thread) if the host has not freed it, so a Worker killed between alloc and free leaks
   nothing. Any process may pass it, or free it, while it lives. */
EXPORT("wasi_wasm_alloc") uintptr_t wasi_wasm_alloc(uint32_t size) { return alloc_buffer(size, false); }

/* A buffer of no process: it lives until wasi_wasm_free, whatever process ends, for what
   must outlast the process that made it (a JS lazy mount's record, which other threads
   read for as long as the mount's tokens exist). */
EXPORT("wasi_wasm_alloc_kept") uintptr_t wasi_wasm_alloc_kept(uint32_t size) { return alloc_buffer(size, true); }

EXPORT("wasi_wasm_free") int32_t wasi_wasm_free(uintptr_t ptr) {
    if (ptr < BUFFER_HEADER) return E_BADF;
    uint8_t *block = (uint8_t *)(ptr - BUFFER_HEADER);
    host_lock();
    uint32_t handle = handle_find(block, HANDLE_BUFFER);
    if (handle) {
        handle_drop(handle);
        mem_free_reserve(block, get_u32(block) + BUFFER_HEADER);
    }
    vfs_unlock();
    return handle ? E_SUCCESS : E_BADF;
}

/* ---- the process's setup ---- */

static int32_t set_strings(bool env, uintptr_t ptr, uint32_t len) {
    struct process *p = current_process();
    if (!p) return E_BADF;
    host_lock();
    errno_t err = in_host_buffer(ptr, len) ? process_set_strings(p, env, (const uint8_t *)ptr, len) : E_FAULT;
    vfs_unlock();
    return err;
}

EXPORT("wasi_wasm_set_args") int32_t wasi_wasm_set_args(uintptr_t ptr, uint32_t len) {
    return set_strings(false, ptr, len);
}

EXPORT("wasi_wasm_set_env") int32_t wasi_wasm_set_env(uintptr_t ptr, uint32_t len) {
    return set_strings(true, ptr, len);
}

EXPORT("wasi_wasm_set_stdio_mode") int32_t wasi_wasm_set_stdio_mode(uint32_t mode) {
    struct process *p = current_process();
    if (!p) return E_BADF;
    if (mode > STDIO_AT_THRESHOLD) return E_INVAL;
    p->stdio_mode = mode;
    return E_SUCCESS;
}

/* Which of this process's stdin, stdout and stderr (bits 0, 1, 2) are terminals on the
   host: their fds then say they are character devices (stdio_filetype). */
EXPORT("wasi_wasm_set_tty") int32_t wasi_wasm_set_tty(uint32_t streams) {
    struct process *p = current_process();
    if (!p) return E_BADF;
    if (streams > 7) return E_INVAL;
    p->tty_streams = (uint8_t)streams;
    return E_SUCCESS;
}

/* This process's stdout and stderr buffers, two {u32 data, u32 len} (0 before attach): a
   host may deliver and empty them itself while the process is not busy (its busy word is
   0): between two of its calls, never inside one. */
EXPORT("wasi_wasm_out_buffers") uintptr_t wasi_wasm_out_buffers(void) {
    struct process *p = current_process();
    return p ? core_addr(p->out) : 0;
}

EXPORT("wasi_wasm_flush") void wasi_wasm_flush(void) {
    struct process *p = current_process();
    if (p) stdio_flush(p);
}

/* max_bytes bounds everything the filesystem allocates (ENOSPC past it; 0 = only the
   memory's own maximum); the others lower the path, name and symlink limits (0 = keep). */
EXPORT("wasi_wasm_set_limits") int32_t wasi_wasm_set_limits(uint64_t max_bytes, uint32_t max_path,
                                                            uint32_t max_name, uint32_t max_follows) {
    host_lock();
    errno_t err = vfs_set_limits(max_path, max_name, max_follows);
    if (!err) mem_set_limit(max_bytes);
    vfs_unlock();
    return err;
}

/* The most fds this process may have open at once (EMFILE past it). */
EXPORT("wasi_wasm_set_max_fds") int32_t wasi_wasm_set_max_fds(uint32_t max_fds) {
    struct process *p = current_process();
    if (!p) return E_BADF;
    if (max_fds < LIMIT_MAX_FDS_MIN || max_fds > LIMIT_MAX_FDS_MAX) return E_INVAL;
    p->max_fds = max_fds;
    return E_SUCCESS;
}

/* Opens VFS directory vfs_path as this process's next preopen, named name. Returns the
   fd or -errno; on failure nothing in the filesystem has changed. */
EXPORT("wasi_wasm_preopen") int32_t wasi_wasm_preopen(uintptr_t vfs_path, uint32_t vfs_len,
                                                      uintptr_t name, uint32_t name_len) {
    struct process *p = current_process();
    if (!p) return -(int32_t)E_BADF;
    if (name_len > LIMIT_MAX_PATH_MAX) return -(int32_t)E_NAMETOOLONG;
    uint32_t fd = 0;
    host_lock();
    errno_t err = E_FAULT;
    if (in_host_buffer(vfs_path, vfs_len) && in_host_buffer(name, name_len))
        err = process_preopen(p, (const char *)vfs_path, vfs_len, (const char *)name, name_len, &fd);
    vfs_unlock();
    return err ? -(int32_t)err : (int32_t)fd;
}

/* Makes the existing empty VFS directory vfs_path a lazy mount of the host's token
   (process/mount.h). errno. */
EXPORT("wasi_wasm_mount_lazy") int32_t wasi_wasm_mount_lazy(uintptr_t vfs_path, uint32_t vfs_len, uint64_t token,
                                                            uint32_t flags) {
    if (vfs_len > LIMIT_MAX_PATH_MAX) return E_NAMETOOLONG;
    host_lock();
    errno_t err = in_host_buffer(vfs_path, vfs_len) ? mount_lazy((const char *)vfs_path, vfs_len, token, flags) : E_FAULT;
    vfs_unlock();
    return err;
}

/* What the name path under this process's directory fd is: 16 bytes into out, u64 token,
   u8 LAZY_* state, u8 read-only (process/mount.h). errno. */
EXPORT("wasi_wasm_lazy_info") int32_t wasi_wasm_lazy_info(uint32_t fd, uintptr_t path, uint32_t len, uintptr_t out) {
    struct process *self = current_process();
    if (!self) return E_BADF;
    if (len > LIMIT_MAX_PATH_MAX) return E_NAMETOOLONG;
    host_lock();
    errno_t err = E_FAULT;
    if (in_host_buffer(path, len) && in_host_buffer(out, 16))
        err = mount_lazy_info(self, fd, (const char *)path, len, (uint8_t *)out);
    vfs_unlock();
    return err;
}

/* lseek's SEEK_DATA (hole 0) or SEEK_HOLE (hole 1) on this process's regular-file fd, at the
   core's 64 KiB chunk granularity: writes to out (a u64 in a host buffer) the first offset
   at or after offset in data or in a hole (the end of the file is one). ENXIO at or past the
   end or with no data after it, EBADF for an fd that is not a regular file, EFAULT for out
   outside the host's buffers, EINVAL for hole above 1. A snapshot finds a sparse file's
   data without reading its holes. */
EXPORT("wasi_wasm_seek_data") int32_t wasi_wasm_seek_data(uint32_t fd, uint64_t offset, uint32_t hole, uintptr_t out) {
    struct process *self = current_process();
    if (!self) return E_BADF;
    if (hole > 1) return E_INVAL;
    host_lock();
    errno_t err = E_SUCCESS;
    struct fd_entry *e = fd_lookup(self, fd);
    if (!e || e->kind != FD_FILE || e->node->is_pipe || e->node->type != FILETYPE_REGULAR_FILE) err = E_BADF;
    else if (!in_host_buffer(out, 8)) err = E_FAULT;
    else {
        uint64_t found = file_seek_data(e->node, offset, hole != 0);
        if (found == UINT64_MAX) err = E_NXIO;
        else put_u64((uint8_t *)out, found);
    }
    vfs_unlock();
    return err;
}

EXPORT("wasi_wasm_used_bytes") uint64_t wasi_wasm_used_bytes(void) {
    host_lock();
    mem_drain_caches(); /* what the filesystem holds, not what caches keep ready */
    uint64_t used = mem_used_bytes();
    vfs_unlock();
    return used;
}

EXPORT("wasi_wasm_fsck") uint32_t wasi_wasm_fsck(void) {
    host_lock();
    mem_drain_caches(); /* a cached block is one fsck counts as a problem */
    uint32_t problems = fsck_run();
    vfs_unlock();
    return problems;
}

/* ---- pipes, named by validated handles ---- */

/* A new pipe, held by the host until wasi_wasm_pipe_release (or the end of the calling
   process, whose hold it is): its handle, or 0. */
EXPORT("wasi_wasm_pipe_new") uint32_t wasi_wasm_pipe_new(void) {
    host_lock();
    struct inode *pipe = pipe_create();
    uint32_t handle = pipe ? handle_new(pipe, 0, HANDLE_PIPE, host_owner()) : 0;
    if (handle) pipe->open_count = 1;
    else if (pipe) inode_release_if_unused(pipe);
    vfs_unlock();
    return handle;
}

EXPORT("wasi_wasm_pipe_release") int32_t wasi_wasm_pipe_release(uint32_t handle) {
    host_lock();
    struct inode *pipe = handle_get(handle, HANDLE_PIPE);
    if (pipe) {
        handle_drop(handle);
        pipe->open_count--;
        inode_release_if_unused(pipe);
    }
    vfs_unlock();
    return pipe ? E_SUCCESS : E_BADF;
}

/* Makes fd of this process one end of the pipe (closing what it was). */
EXPORT("wasi_wasm_pipe_attach") int32_t wasi_wasm_pipe_attach(uint32_t handle, uint32_t fd, uint32_t write_end) {
    struct process *self = current_process();
    if (!self) return E_BADF;
    host_lock();
    struct inode *pipe = handle_get(handle, HANDLE_PIPE);
    errno_t err = pipe ? fd_attach_pipe(self, fd, pipe, write_end != 0) : E_BADF;
    vfs_unlock();
    return err;
}
