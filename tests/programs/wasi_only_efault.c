/* wasi.wasm only (wasmtime traps "pointer out of bounds" instead): every pointer / length
 * argument that reaches outside the program's memory gives EFAULT, nothing is written, and
 * the program keeps running. */
#include "wasi_test.h"
#include "wasi_raw.h"

#define EF __WASI_ERRNO_FAULT
#define BAD ((i32)0xFFFFFFF0)    /* far beyond the memory (wasm32 memories here are small) */
#define WRAP ((i32)0xFFFFFFFF)   /* one byte before the 4 GiB wrap-around */

static i32 end_of_memory(void) { return (i32)(__builtin_wasm_memory_size(0) * 65536u); }

int main(void) {
    char buf[64];
    i32 out[16];
    const i32 END = end_of_memory();
    make_file("f", "0123456789");
    make_dir("d");
    __wasi_fd_t fd;
    EXPECT_OK("open f", open_at(SANDBOX_FD, "f", 0, 0, RIGHTS_RW, 0, &fd));

    SECTION("args / environ / clocks / random");
    EXPECT_ERRNO("args_sizes_get bad count ptr", raw_args_sizes_get(BAD, P(&out[0])), EF);
    EXPECT_ERRNO("args_sizes_get size ptr at end of memory", raw_args_sizes_get(P(&out[0]), END - 2), EF);
    EXPECT_ERRNO("args_get bad argv ptr", raw_args_get(BAD, P(buf)), EF);
    EXPECT_ERRNO("args_get bad buf ptr", raw_args_get(P(out), BAD), EF);
    EXPECT_ERRNO("environ_sizes_get bad ptr", raw_environ_sizes_get(BAD, BAD), EF);
    EXPECT_ERRNO("environ_get bad env ptr", raw_environ_get(BAD, P(buf)), EF);
    EXPECT_ERRNO("clock_res_get bad ptr", raw_clock_res_get(1, BAD), EF);
    EXPECT_ERRNO("clock_time_get bad ptr", raw_clock_time_get(0, 1, BAD), EF);
    EXPECT_ERRNO("clock_time_get ptr straddling the end", raw_clock_time_get(0, 1, END - 4), EF);
    EXPECT_ERRNO("random_get bad ptr", raw_random_get(BAD, 16), EF);
    EXPECT_ERRNO("random_get length past the end", raw_random_get(P(buf), END), EF);
    EXPECT_ERRNO("random_get wrapping range", raw_random_get(WRAP, 2), EF);
    EXPECT_OK("random_get 0 bytes at the end of memory", raw_random_get(END, 0));

    SECTION("fd reads and writes");
    __wasi_ciovec_t good = {(const uint8_t *)"x", 1};
    __wasi_ciovec_t bad_buf = {(const uint8_t *)(uintptr_t)0xFFFFFF00u, 16};
    EXPECT_ERRNO("fd_write bad iovs ptr", raw_fd_write(1, BAD, 1, P(out)), EF);
    EXPECT_ERRNO("fd_write iov buffer out of memory", raw_fd_write(1, P(&bad_buf), 1, P(out)), EF);
    EXPECT_ERRNO("fd_write bad nwritten ptr", raw_fd_write(fd, P(&good), 1, BAD), EF);
    EXPECT_ERRNO("fd_write iovec array straddling the end", raw_fd_write(1, END - 4, 1, P(out)), EF);
    EXPECT_ERRNO("fd_read bad iovs ptr", raw_fd_read(fd, BAD, 1, P(out)), EF);
    EXPECT_ERRNO("fd_read iov buffer out of memory", raw_fd_read(fd, P(&bad_buf), 1, P(out)), EF);
    EXPECT_ERRNO("fd_pread iov buffer out of memory", raw_fd_pread(fd, P(&bad_buf), 1, 0, P(out)), EF);
    EXPECT_ERRNO("fd_pread bad nread ptr", raw_fd_pread(fd, P(&good), 1, 0, BAD), EF);
    EXPECT_ERRNO("fd_pwrite iov buffer out of memory", raw_fd_pwrite(fd, P(&bad_buf), 1, 0, P(out)), EF);
    EXPECT_ERRNO("fd_pwrite bad iovs ptr", raw_fd_pwrite(fd, BAD, 1, 0, P(out)), EF);
    EXPECT_STR("file unchanged by the failed writes", buf, (size_t)slurp("f", buf, sizeof buf), "0123456789");
    EXPECT_ERRNO("fd_seek bad out ptr", raw_fd_seek(fd, 0, 0, BAD), EF);
    EXPECT_ERRNO("fd_tell bad out ptr", raw_fd_tell(fd, BAD), EF);
    EXPECT_ERRNO("fd_fdstat_get bad ptr", raw_fd_fdstat_get(fd, BAD), EF);
    EXPECT_ERRNO("fd_filestat_get bad ptr", raw_fd_filestat_get(fd, BAD), EF);
    EXPECT_ERRNO("fd_filestat_get ptr straddling the end", raw_fd_filestat_get(fd, END - 8), EF);
    EXPECT_ERRNO("fd_prestat_get bad ptr", raw_fd_prestat_get(SANDBOX_FD, BAD), EF);
    EXPECT_ERRNO("fd_prestat_dir_name bad buf", raw_fd_prestat_dir_name(SANDBOX_FD, BAD, 8), EF);
    EXPECT_ERRNO("fd_readdir bad buf", raw_fd_readdir(SANDBOX_FD, BAD, 256, 0, P(out)), EF);
    EXPECT_ERRNO("fd_readdir bad used ptr", raw_fd_readdir(SANDBOX_FD, P(buf), sizeof buf, 0, BAD), EF);

    SECTION("paths");
    EXPECT_ERRNO("path_open bad path", raw_path_open(SANDBOX_FD, 0, BAD, 4, 0, (i64)RIGHTS_RW, 0, 0, P(out)), EF);
    EXPECT_ERRNO("path_open path running past the end", raw_path_open(SANDBOX_FD, 0, END - 2, 4, 0, (i64)RIGHTS_RW, 0, 0, P(out)), EF);
    EXPECT_ERRNO("path_open bad fd out ptr", raw_path_open(SANDBOX_FD, 0, P("f"), 1, 0, (i64)RIGHTS_RW, 0, 0, BAD), EF);
    EXPECT_ERRNO("path_create_directory bad path", raw_path_create_directory(SANDBOX_FD, BAD, 3), EF);
    EXPECT_ERRNO("path_filestat_get bad path", raw_path_filestat_get(SANDBOX_FD, 0, BAD, 1, P(buf)), EF);
    EXPECT_ERRNO("path_filestat_get bad out", raw_path_filestat_get(SANDBOX_FD, 0, P("f"), 1, BAD), EF);
    EXPECT_ERRNO("path_filestat_set_times bad path", raw_path_filestat_set_times(SANDBOX_FD, 0, BAD, 1, 0, 0, __WASI_FSTFLAGS_ATIM_NOW), EF);
    EXPECT_ERRNO("path_link bad old path", raw_path_link(SANDBOX_FD, 0, BAD, 1, SANDBOX_FD, P("g"), 1), EF);
    EXPECT_ERRNO("path_link bad new path", raw_path_link(SANDBOX_FD, 0, P("f"), 1, SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_readlink bad path", raw_path_readlink(SANDBOX_FD, BAD, 1, P(buf), 8, P(out)), EF);
    EXPECT_OK("symlink for readlink", __wasi_path_symlink("f", SANDBOX_FD, "l"));
    EXPECT_ERRNO("path_readlink bad buf", raw_path_readlink(SANDBOX_FD, P("l"), 1, BAD, 8, P(out)), EF);
    EXPECT_ERRNO("path_readlink bad used ptr", raw_path_readlink(SANDBOX_FD, P("l"), 1, P(buf), 8, BAD), EF);
    EXPECT_ERRNO("path_remove_directory bad path", raw_path_remove_directory(SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_rename bad old path", raw_path_rename(SANDBOX_FD, BAD, 1, SANDBOX_FD, P("g"), 1), EF);
    EXPECT_ERRNO("path_rename bad new path", raw_path_rename(SANDBOX_FD, P("f"), 1, SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_symlink bad target", raw_path_symlink(BAD, 1, SANDBOX_FD, P("s"), 1), EF);
    EXPECT_ERRNO("path_symlink bad link path", raw_path_symlink(P("f"), 1, SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_unlink_file bad path", raw_path_unlink_file(SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_unlink_file path straddling the end", raw_path_unlink_file(SANDBOX_FD, END - 1, 2), EF);
    __wasi_filestat_t st;
    EXPECT_OK("nothing was created, renamed or removed", __wasi_path_filestat_get(SANDBOX_FD, 0, "f", &st));
    EXPECT_ERRNO("g does not exist", __wasi_path_filestat_get(SANDBOX_FD, 0, "g", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("s does not exist", __wasi_path_filestat_get(SANDBOX_FD, 0, "s", &st), __WASI_ERRNO_NOENT);

    SECTION("poll");
    __wasi_subscription_t sub;
    memset(&sub, 0, sizeof sub);
    sub.u.tag = __WASI_EVENTTYPE_CLOCK;
    sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    __wasi_event_t ev;
    EXPECT_ERRNO("poll_oneoff bad subscriptions", raw_poll_oneoff(BAD, P(&ev), 1, P(out)), EF);
    EXPECT_ERRNO("poll_oneoff bad events", raw_poll_oneoff(P(&sub), BAD, 1, P(out)), EF);
    EXPECT_ERRNO("poll_oneoff bad nevents ptr", raw_poll_oneoff(P(&sub), P(&ev), 1, BAD), EF);
    /* Up to 2^21 subscriptions the arrays are checked (2^21 * 48 bytes run past this memory);
     * more is ENOMEM before the buffers are looked at, as wasmtime. */
    EXPECT_ERRNO("poll_oneoff too many subscriptions for memory", raw_poll_oneoff(P(&sub), P(&ev), 0x200000, P(out)), EF);
    EXPECT_ERRNO("poll_oneoff 2^21 + 1 subscriptions", raw_poll_oneoff(P(&sub), P(&ev), 0x200001, P(out)), __WASI_ERRNO_NOMEM);
    EXPECT_ERRNO("poll_oneoff 2^26 subscriptions", raw_poll_oneoff(P(&sub), P(&ev), 0x4000000, P(out)), __WASI_ERRNO_NOMEM);
    EXPECT_ERRNO("poll_oneoff 2^21 + 1 with bad pointers", raw_poll_oneoff(BAD, BAD, 0x200001, BAD), __WASI_ERRNO_NOMEM);

    SECTION("still running");
    size_t n;
    EXPECT_OK("normal write still works", write_all(fd, "ok", 2, &n));
    EXPECT_OK("close", __wasi_fd_close(fd));
    return done();
}
