/* The decoder both harnesses share: one op of an input becomes one WASI call from the
   current process (ops_wasi_call) or one host-API call (ops_host_call), with arguments that
   lean towards what breaks things: fd numbers around 0-2, 16-17 and past the table, the
   edges of guest memory, offsets near 2^63 and 2^64, paths through .., symlinks and
   trailing slashes. fuzz_core.c runs them on one thread over three processes,
   fuzz_core_threads.c on several threads at once. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_api.h"
#include "fuzz_ops.h"
#include "native_host.h"

#define PAGE 65536u
/* Guest memory layout: outputs, iovec arrays, path strings, data. */
#define OUT_AREA 0u
#define IOV_AREA 4096u
#define PATH_AREA 8192u
#define PATH_B_AREA 12288u
#define DATA_AREA 16384u

/* Pipe handles, shared by every process (and, in the threaded harness, every thread): the
   core validates each handle, so any value, stale or torn, is safe to pass. */
static uint32_t pipes[4];

static uint32_t pipe_get(uint32_t i) { return __atomic_load_n(&pipes[i], __ATOMIC_RELAXED); }
static void pipe_put(uint32_t i, uint32_t h) { __atomic_store_n(&pipes[i], h, __ATOMIC_RELAXED); }
/* Handles of new files the host API is writing (wasi_wasm_fs_file_new), as pipes'. */
static uint32_t new_files[4];
/* The thread group op 238 joins processes to (0: none yet). */
static uint32_t thread_group;

void ops_reset(void) {
    for (uint32_t i = 0; i < 4; i++) {
        pipe_put(i, 0);
        __atomic_store_n(&new_files[i], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&thread_group, 0, __ATOMIC_RELAXED);
}

__thread bool ops_blocking_pipes;
__thread int32_t ops_can_block = 1;

static uint32_t guest_bytes(void) { return native_host_current()->pages * PAGE; }

/* Mostly small numbers, with the table's growth points and far-off ones. */
static uint32_t take_fd(struct input *in) {
    uint8_t b = take_u8(in);
    if (b < 200) return b % 24;
    static const uint32_t edges[] = { 15, 16, 17, 31, 32, 33, 63, 64, 1023, 1024, 65535, 65536, 0x7FFFFFFF, 0xFFFFFFFF };
    return edges[b % (sizeof edges / sizeof edges[0])];
}

/* A pointer into area, or one at the edge of (or past) the guest's memory. */
static uint32_t take_ptr(struct input *in, uint32_t area) {
    uint8_t b = take_u8(in);
    if (b < 230) return area + (b % 8) * 8;
    uint32_t size = guest_bytes();
    const uint32_t edges[] = { size - 1, size - 4, size - 8, size, size + 1, 0xFFFFFFFF, 0xFFFFFFF0, size - 64 };
    return edges[b % 8];
}

static uint32_t take_len(struct input *in) {
    uint8_t b = take_u8(in);
    if (b < 200) return b;
    const uint32_t edges[] = { 256, 4095, 4096, 65535, 65536, 70000, 0x7FFFFFFF, 0xFFFFFFFF, 300000 };
    return edges[b % 9];
}

static uint64_t take_offset(struct input *in) {
    uint8_t b = take_u8(in);
    if (b < 100) return b;
    const uint64_t edges[] = {
        65535, 65536, 65537, 131072, 1u << 20, (uint64_t)1 << 32, (uint64_t)1 << 40, ((uint64_t)1 << 40) + 1,
        ((uint64_t)1 << 44) - 4096, ((uint64_t)1 << 44), (uint64_t)INT64_MAX, (uint64_t)INT64_MAX - 15,
        (uint64_t)1 << 63, UINT64_MAX, UINT64_MAX - 3, UINT64_MAX - 65535,
    };
    return b < 200 ? edges[b % 16] : take_u64(in);
}

static const char *const path_words[] = {
    "a", "b", "d", "d/e", "d/e/f", "d/../a", "..", ".", "/", "l", "l/", "a/", "d/", "d/e/",
    "ld", "ld/x", "../x", "d/./e/../../b", "", "x\xff", "n\0ul", "dd/dd/dd/dd", "d//e", "p",
};
#define PATH_WORDS (sizeof path_words / sizeof path_words[0])

/* A path from the input into buf (600 bytes); returns its length. */
static uint32_t make_path(struct input *in, char *buf) {
    uint8_t b = take_u8(in);
    uint32_t len;
    if (b < 200) {
        const char *w = path_words[b % PATH_WORDS];
        len = (uint32_t)(b % PATH_WORDS == 20 ? 4 : strlen(w));
        memcpy(buf, w, len);
    } else if (b < 230) {
        len = 256 + b % 8; /* names over NAME_MAX */
        memset(buf, 'n', len);
    } else {
        len = take_u8(in) % 64; /* raw bytes */
        for (uint32_t i = 0; i < len; i++) buf[i] = (char)("ab/.l\xc3\xa9"[take_u8(in) % 8]);
    }
    return len;
}

/* Writes a path into the guest at area; returns its length (the pointer via *ptr). */
static uint32_t put_path(struct input *in, uint32_t area, uint32_t *ptr) {
    struct guest *g = native_host_current();
    char buf[600];
    uint32_t len = make_path(in, buf);
    memcpy(g->memory + area, buf, len);
    *ptr = area;
    uint8_t edge = take_u8(in);
    if (edge > 250) *ptr = guest_bytes() - (edge & 1); /* a path that runs off the end */
    return len;
}

static uint64_t take_rights(struct input *in) {
    uint8_t b = take_u8(in);
    if (b < 128) return ((uint64_t)1 << 30) - 1;
    if (b < 192) return take_u64(in) & (((uint64_t)1 << 30) - 1);
    return take_u64(in);
}

/* Forces pipe ends non-blocking: one thread cannot wait for another here (the threaded
   harness may leave them blocking: ops_blocking_pipes). */
static void make_pipe_nonblocking(uint32_t fd) {
    if (ops_blocking_pipes) return;
    uint8_t *stat = native_host_current()->memory + OUT_AREA + 512;
    if (wasi_fd_fdstat_get(fd, OUT_AREA + 512) != 0 || stat[0] != 0) return;
    uint16_t flags;
    memcpy(&flags, stat + 2, 2);
    wasi_fd_fdstat_set_flags(fd, flags | 4u);
}

static void fill_iovs(struct input *in, uint32_t count) {
    uint8_t *iov = native_host_current()->memory + IOV_AREA;
    for (uint32_t i = 0; i < count && i < 16; i++) {
        uint32_t buf = take_ptr(in, DATA_AREA), len = take_len(in);
        if (take_u8(in) < 200 && len > 20000) len %= 20000;
        memcpy(iov + 8 * i, &buf, 4);
        memcpy(iov + 8 * i + 4, &len, 4);
    }
}

static void fill_subscriptions(struct input *in, uint32_t count) {
    uint8_t *sub = native_host_current()->memory + DATA_AREA;
    for (uint32_t i = 0; i < count && i < 8; i++) {
        uint8_t *s = sub + 48 * i;
        memset(s, 0, 48);
        s[8] = take_u8(in) % 4;
        uint32_t a = take_u8(in) < 200 ? take_u8(in) % 5 : take_fd(in);
        memcpy(s + 16, &a, 4);
        uint64_t timeout = take_u8(in) < 128 ? take_u8(in) : take_offset(in);
        memcpy(s + 24, &timeout, 8);
        uint16_t flags = take_u8(in) % 3;
        memcpy(s + 40, &flags, 2);
    }
}

void ops_attach(struct guest *g, uint32_t pages) {
    native_host_select(g);
    if (!g->memory) native_guest_init(g, pages);
    if (g->process) return;
    if (wasi_wasm_attach(ops_can_block) != 0) return;
    g->busy = (int *)wasi_wasm_busy_slot();
    g->joined = false; /* a new process is in a group of its own */
    char root[] = "/", name[] = "/sandbox";
    uintptr_t buf = wasi_wasm_alloc(16);
    if (!buf) return;
    memcpy((void *)buf, root, 1);
    memcpy((void *)(buf + 1), name, 8);
    wasi_wasm_preopen(buf, 1, buf + 1, 8);
    wasi_wasm_free(buf);
}

void ops_detach(struct guest *g) {
    native_host_select(g);
    if (g->process) wasi_wasm_detach();
    g->busy = NULL;
}

/* Host buffer layout for the filesystem API: two paths, then data, then outputs. */
#define FS_PATH_B 1024u
#define FS_DATA 2048u
#define FS_OUT 6144u
#define FS_BUFFER 6400u

/* A pointer into the host's buffer, or one it did not hand out (EFAULT: never read). */
static uintptr_t host_ptr(struct input *in, uintptr_t buf, uint32_t offset) {
    uint8_t b = take_u8(in);
    if (b < 240) return buf + offset;
    const uintptr_t forged[] = { 0, buf + FS_BUFFER - 1, buf + FS_BUFFER, buf - 1, (uintptr_t)0xFFFFFFF0, buf + FS_OUT + 250 };
    return forged[b % 6];
}

static uint32_t new_file_get(struct input *in) {
    uint8_t b = take_u8(in);
    return b < 230 ? __atomic_load_n(&new_files[b % 4], __ATOMIC_RELAXED) : take_u32(in);
}

/* One call of the host's filesystem API (wasi_wasm_fs_*), from the current process: paths
   relative to its root preopen (fd 3) or another fd, in a host buffer or forged pointers. */
static void fs_call(struct input *in) {
    uintptr_t buf = wasi_wasm_alloc(FS_BUFFER);
    if (!buf) return;
    memset((void *)buf, 0, FS_BUFFER);
    uint32_t l1 = make_path(in, (char *)buf), l2 = make_path(in, (char *)buf + FS_PATH_B);
    uint32_t fd = take_u8(in) < 200 ? 3 : take_fd(in);
    uintptr_t p1 = host_ptr(in, buf, 0), p2 = host_ptr(in, buf, FS_PATH_B), out = host_ptr(in, buf, FS_OUT);
    uint32_t len = take_len(in) % (FS_OUT - FS_DATA + 1);
    uint8_t which = take_u8(in);
    switch (which % 17) {
    case 0: wasi_wasm_fs_stat(fd, p1, l1, which & 32, out); break;
    case 1: wasi_wasm_fs_readlink(fd, p1, l1, buf + FS_DATA, len, out); break;
    case 2: wasi_wasm_fs_set_times(fd, p1, l1, which & 32, take_offset(in), take_offset(in), take_u8(in) % 17); break;
    case 3: wasi_wasm_fs_mkdir(fd, p1, l1, take_u8(in) % 5); break;
    case 4: wasi_wasm_fs_list(fd, p1, l1, take_u8(in) < 200 ? take_u8(in) % 8 : take_u32(in), which & 32, buf + FS_DATA, len, out); break;
    case 5: wasi_wasm_fs_unlink(fd, p1, l1); break;
    case 6: wasi_wasm_fs_rmdir(fd, p1, l1); break;
    case 7: wasi_wasm_fs_rmtree(fd, p1, l1); break;
    case 8: wasi_wasm_fs_rename(fd, p1, l1, p2, l2); break;
    case 9: wasi_wasm_fs_link(fd, p1, l1, p2, l2); break;
    case 10: wasi_wasm_fs_symlink(p1, l1, fd, p2, l2); break;
    case 11: wasi_wasm_fs_read(fd, p1, l1, take_offset(in), buf + FS_DATA, len, out); break;
    case 12:
        if (wasi_wasm_fs_file_new(fd, p1, l1, out) == 0) {
            uint32_t handle;
            memcpy(&handle, (const void *)out, 4);
            __atomic_store_n(&new_files[take_u8(in) % 4], handle, __ATOMIC_RELAXED);
        }
        break;
    case 13: {
        uint32_t handle = new_file_get(in);
        memset((void *)(buf + FS_DATA), 'w', FS_OUT - FS_DATA);
        for (uint32_t i = take_u8(in) % 4; i > 0; i--) wasi_wasm_fs_file_append(handle, buf + FS_DATA, len);
        wasi_wasm_fs_file_append(handle, host_ptr(in, buf, FS_DATA), len);
        break;
    }
    case 14: wasi_wasm_fs_file_commit(new_file_get(in), fd, p1, l1, take_offset(in), take_offset(in), take_u8(in) % 17); break;
    case 15: wasi_wasm_fs_file_drop(new_file_get(in)); break;
    case 16: wasi_wasm_fs_mkdir(fd, p2, l2, 1); wasi_wasm_fs_rmtree(fd, p1, l1); break;
    }
    wasi_wasm_free(buf);
}

void ops_host_call(struct input *in, uint8_t op) {
    struct guest *g = native_host_current();
    uint32_t h;
    switch (op % 12) {
    case 0: ops_detach(g); ops_attach(g, g->pages); break;
    case 1: wasi_wasm_set_limits(take_u8(in) < 128 ? 0 : (uint64_t)take_u32(in) % (8u << 20), take_u8(in) % 8 * 128, take_u8(in) % 64 * 4, take_u8(in) % 45); break;
    case 2: wasi_wasm_set_max_fds(take_u8(in) < 200 ? take_u8(in) : take_u32(in)); break;
    case 3: h = wasi_wasm_pipe_new(); if (h) pipe_put(take_u8(in) % 4, h); break;
    case 4: wasi_wasm_pipe_release(take_u8(in) < 200 ? pipe_get(take_u8(in) % 4) : take_u32(in)); break;
    case 5: h = take_u8(in) < 220 ? pipe_get(take_u8(in) % 4) : take_u32(in);
            { uint32_t fd = take_fd(in); wasi_wasm_pipe_attach(h, fd, take_u8(in) & 1); make_pipe_nonblocking(fd); } break;
    case 6: {
        uint32_t len = take_u8(in);
        uintptr_t buf = wasi_wasm_alloc(len + 2);
        if (!buf) break;
        memset((void *)buf, 'v', len + 2);
        ((char *)buf)[len + 1] = 0;
        if (take_u8(in) & 1) wasi_wasm_set_args(buf, len + 2 - (take_u8(in) & 1));
        else wasi_wasm_set_env(buf, len + 2);
        wasi_wasm_free(buf);
        break;
    }
    case 7: {
        uint8_t shape = take_u8(in);
        uint32_t len = shape % 40;
        uintptr_t buf = wasi_wasm_alloc(len + 8);
        if (!buf) break;
        for (uint32_t i = 0; i < len; i++) ((char *)buf)[i] = "/ab.d"[take_u8(in) % 5];
        memcpy((void *)(buf + len), "/nm", 3);
        wasi_wasm_preopen(buf, len, buf + len, 3);
        /* The length byte's high part (no more input consumed): the preopened directory, if
           still empty, becomes a lazy mount of the native host's virtual tree (native_host.c),
           read-only, or of a token the host does not know. */
        uint32_t mount = shape / 40;
        if (mount & 1) wasi_wasm_mount_lazy(buf, len, mount & 4 ? 99 : 1, (mount >> 1) & 1);
        uintptr_t info = wasi_wasm_alloc(16); /* what a write-back asks of each name */
        if (info) {
            wasi_wasm_lazy_info(3 + mount % 3, buf, len, info);
            wasi_wasm_lazy_info(3, buf + len - (len > 0), len > 0, info + mount % 2);
            wasi_wasm_free(info);
        }
        wasi_wasm_free(buf);
        break;
    }
    case 8: { /* pointers the host API did not hand out */
        uintptr_t forged = take_u8(in) < 128 ? 0 : (uintptr_t)take_u64(in);
        wasi_wasm_free(forged);
        wasi_wasm_set_env(forged, take_u8(in));
        wasi_wasm_preopen(forged, 3, forged, 2);
        /* SEEK_DATA / SEEK_HOLE on whatever fds are open (no input consumed: older inputs
           decode as before), into a real buffer and into the forged pointer */
        uintptr_t out = wasi_wasm_alloc(8);
        for (uint32_t fd = 3; fd < 10; fd++) {
            if (out) wasi_wasm_seek_data(fd, (uint64_t)(fd - 3) << 15, fd & 1, out);
            wasi_wasm_seek_data(fd, 0, fd % 3, forged);
        }
        if (out) wasi_wasm_free(out);
        break;
    }
    case 9:
        /* op 237 (no seed or regression had it): the host's filesystem API */
        if (op == 237) fs_call(in);
        else native_guest_grow(g, 1);
        break;
    case 10:
        wasi_wasm_set_stdio_mode(take_u8(in) % 4);
        wasi_wasm_flush();
        /* op 238 (no input consumed): the process joins the first one's thread group, so that
           directory changes go exclusive while all are in it; the threaded harness's threads
           so break the promise a group makes, which must cost only parallelism. */
        if (op == 238) {
            uint32_t group = __atomic_load_n(&thread_group, __ATOMIC_RELAXED);
            if (group) wasi_wasm_thread_group(group);
            else __atomic_store_n(&thread_group, wasi_wasm_thread_group(0), __ATOMIC_RELAXED);
            g->joined = true;
        }
        break;
    case 11:
        /* A freeze (op's high bits, no input consumed), thawed or left for recover to end;
           fsck nested inside it. */
        if ((op / 12) & 1 && wasi_wasm_freeze() == 0) {
            wasi_wasm_fsck();
            if ((op / 24) & 1) wasi_wasm_thaw();
        }
        wasi_wasm_recover();
        break;
    }
}

void ops_wasi_call(struct input *in, uint8_t op) {
    uint32_t p1, p2, l1, l2, fd = take_fd(in), cnt;
    switch (op % 45) {
    case 0: wasi_args_sizes_get(take_ptr(in, OUT_AREA), take_ptr(in, OUT_AREA)); break;
    case 1: wasi_args_get(take_ptr(in, OUT_AREA), take_ptr(in, DATA_AREA)); break;
    case 2: wasi_environ_sizes_get(take_ptr(in, OUT_AREA), take_ptr(in, OUT_AREA)); break;
    case 3: wasi_environ_get(take_ptr(in, OUT_AREA), take_ptr(in, DATA_AREA)); break;
    case 4: wasi_fd_close(fd); break;
    case 5: wasi_fd_seek(fd, (int64_t)take_offset(in), take_u8(in) % 4, take_ptr(in, OUT_AREA)); break;
    case 6: wasi_fd_tell(fd, take_ptr(in, OUT_AREA)); break;
    case 7: wasi_fd_fdstat_get(fd, take_ptr(in, OUT_AREA)); break;
    case 8: wasi_fd_fdstat_set_flags(fd, take_u8(in) % 32); make_pipe_nonblocking(fd); break;
    case 9: wasi_fd_fdstat_set_rights(fd, take_rights(in), take_rights(in)); break;
    case 10: wasi_fd_filestat_get(fd, take_ptr(in, OUT_AREA)); break;
    case 11: wasi_fd_filestat_set_size(fd, take_offset(in)); break;
    case 12: wasi_fd_filestat_set_times(fd, take_offset(in), take_offset(in), take_u8(in) % 17); break;
    case 13: wasi_fd_advise(fd, take_offset(in), take_offset(in), take_u8(in) % 7); break;
    case 14: wasi_fd_allocate(fd, take_offset(in), take_offset(in)); break;
    case 15: wasi_fd_datasync(fd); break;
    case 16: wasi_fd_sync(fd); break;
    case 17: wasi_fd_prestat_get(fd, take_ptr(in, OUT_AREA)); break;
    case 18: wasi_fd_prestat_dir_name(fd, take_ptr(in, DATA_AREA), take_len(in)); break;
    case 19: wasi_fd_renumber(fd, take_fd(in)); break;
    case 20: wasi_fd_readdir(fd, take_ptr(in, DATA_AREA), take_len(in), take_offset(in), take_ptr(in, OUT_AREA)); break;
    case 21: case 22: case 23: case 24:
        cnt = take_u8(in) < 240 ? take_u8(in) % 5 : take_len(in);
        fill_iovs(in, cnt);
        p1 = take_ptr(in, IOV_AREA);
        make_pipe_nonblocking(fd);
        if (op % 45 == 21) wasi_fd_write(fd, p1, cnt, take_ptr(in, OUT_AREA));
        else if (op % 45 == 22) wasi_fd_pwrite(fd, p1, cnt, take_offset(in), take_ptr(in, OUT_AREA));
        else if (op % 45 == 23) wasi_fd_read(fd, p1, cnt, take_ptr(in, OUT_AREA));
        else wasi_fd_pread(fd, p1, cnt, take_offset(in), take_ptr(in, OUT_AREA));
        break;
    case 25: l1 = put_path(in, PATH_AREA, &p1); wasi_path_create_directory(fd, p1, l1); break;
    case 26: l1 = put_path(in, PATH_AREA, &p1); wasi_path_filestat_get(fd, take_u8(in) % 3, p1, l1, take_ptr(in, OUT_AREA)); break;
    case 27: l1 = put_path(in, PATH_AREA, &p1);
        wasi_path_filestat_set_times(fd, take_u8(in) % 3, p1, l1, take_offset(in), take_offset(in), take_u8(in) % 17); break;
    case 28: l1 = put_path(in, PATH_AREA, &p1); l2 = put_path(in, PATH_B_AREA, &p2);
        wasi_path_link(fd, take_u8(in) % 3, p1, l1, take_fd(in), p2, l2); break;
    case 29: l1 = put_path(in, PATH_AREA, &p1); wasi_path_readlink(fd, p1, l1, take_ptr(in, DATA_AREA), take_len(in), take_ptr(in, OUT_AREA)); break;
    case 30: l1 = put_path(in, PATH_AREA, &p1); wasi_path_remove_directory(fd, p1, l1); break;
    case 31: l1 = put_path(in, PATH_AREA, &p1); wasi_path_unlink_file(fd, p1, l1); break;
    case 32: l1 = put_path(in, PATH_AREA, &p1); l2 = put_path(in, PATH_B_AREA, &p2);
        wasi_path_rename(fd, p1, l1, take_fd(in), p2, l2); break;
    case 33: l1 = put_path(in, PATH_AREA, &p1); l2 = put_path(in, PATH_B_AREA, &p2); wasi_path_symlink(p1, l1, fd, p2, l2); break;
    case 34: case 35: case 36: {
        l1 = put_path(in, PATH_AREA, &p1);
        uint32_t oflags = take_u8(in) < 240 ? take_u8(in) % 16 : take_u32(in);
        uint32_t fdflags = take_u8(in) < 240 ? take_u8(in) % 32 & ~(2u | 8u | 16u) : take_u32(in);
        wasi_path_open(fd, take_u8(in) % 3, p1, l1, oflags, take_rights(in), take_rights(in), fdflags, take_ptr(in, OUT_AREA));
        break;
    }
    case 37: cnt = take_u8(in) < 240 ? take_u8(in) % 5 : take_u32(in); fill_subscriptions(in, cnt);
        wasi_poll_oneoff(take_ptr(in, DATA_AREA), take_ptr(in, DATA_AREA + 1024), cnt, take_ptr(in, OUT_AREA)); break;
    case 38: wasi_clock_res_get(take_u8(in) % 6, take_ptr(in, OUT_AREA)); break;
    case 39: wasi_clock_time_get(take_u8(in) % 6, take_offset(in), take_ptr(in, OUT_AREA)); break;
    case 40: wasi_random_get(take_ptr(in, DATA_AREA), take_len(in)); break;
    case 41: wasi_proc_raise(take_u8(in)); wasi_sched_yield(); break;
    case 42: wasi_sock_accept(fd, 0, take_ptr(in, OUT_AREA)); wasi_sock_shutdown(fd, 1); break;
    case 43: wasi_sock_recv(fd, IOV_AREA, 1, 0, OUT_AREA, OUT_AREA + 8); wasi_sock_send(fd, IOV_AREA, 1, 0, OUT_AREA); break;
    case 44: {
        jmp_buf target;
        native_exit_target = &target;
        if (setjmp(target) == 0) wasi_proc_exit(take_u8(in));
        native_exit_target = NULL;
        native_trap_target = NULL; /* the program ended: no interrupt lands in the host's detach */
        ops_detach(native_host_current()); /* as a host does after proc_exit */
        break;
    }
    }
}
