/* wasi.wasm only (wasmtime traps "pointer out of bounds"): every guest pointer and length of
 * every WASI function that takes one -- iovec arrays, the buffers they point to, strings,
 * output structs, the readdir buffer, pointer + length overflowing 2^32, counts whose byte
 * size overflows -- gives EFAULT (more than IOV_MAX = 1024 iovecs: EINVAL, as POSIX
 * readv/writev; more than 2^21 poll_oneoff subscriptions: ENOMEM, as wasmtime), the program
 * keeps running, nothing outside the program's memory is read or written, and the
 * filesystem does not change (a known file keeps its bytes, nothing is created, renamed or
 * removed; the host runs fsck afterwards).
 *
 * The end of memory is read afresh for each call: printf may grow the memory. */
#include "wasi_test.h"
#include "wasi_raw.h"

#define EF __WASI_ERRNO_FAULT
#define BAD ((i32)0xFFFFFFF0)      /* far beyond the memory (a few MiB here) */
#define WRAP ((i32)0xFFFFFFF8)     /* with a length >= 8: end wraps past 2^32 to a small value */
#define END ((i32)(__builtin_wasm_memory_size(0) * 65536u))
#define KNOWN "the known content"

static char canary[64];
static i32 out[16];

static void arm(void) { memset(canary, 0xAA, sizeof canary); }
static int untouched(void) {
    for (size_t i = 0; i < sizeof canary; i++)
        if ((unsigned char)canary[i] != 0xAA) return 0;
    return 1;
}

static void known_file_intact(const char *when) {
    char buf[64];
    long n = slurp("known", buf, sizeof buf);
    char label[96];
    snprintf(label, sizeof label, "known file intact %s", when);
    EXPECT_STR(label, buf, n < 0 ? 0 : (size_t)n, KNOWN);
}

static void absent(const char *path) {
    __wasi_filestat_t st;
    char label[96];
    snprintf(label, sizeof label, "%s was not created", path);
    EXPECT_ERRNO(label, __wasi_path_filestat_get(SANDBOX_FD, 0, path, &st), __WASI_ERRNO_NOENT);
}

int main(void) {
    char buf[64];
    __wasi_fd_t fd, dfd;
    make_file("known", KNOWN);
    make_file("f", "0123456789");
    make_dir("d");
    EXPECT_OK("open f", open_at(SANDBOX_FD, "f", 0, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("open d", open_at(SANDBOX_FD, "d", 0, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    EXPECT_OK("symlink l -> f", __wasi_path_symlink("f", SANDBOX_FD, "l"));

    SECTION("args and environ");
    EXPECT_ERRNO("args_sizes_get bad count", raw_args_sizes_get(BAD, P(&out[1])), EF);
    EXPECT_ERRNO("args_sizes_get bad size", raw_args_sizes_get(P(&out[0]), BAD), EF);
    EXPECT_ERRNO("args_sizes_get size straddling the end", raw_args_sizes_get(P(&out[0]), END - 2), EF);
    EXPECT_ERRNO("args_get bad argv", raw_args_get(BAD, P(buf)), EF);
    arm();
    EXPECT_ERRNO("args_get bad buf", raw_args_get(P(canary), BAD), EF);
    EXPECT_TRUE("args_get wrote no argv pointers", untouched());
    EXPECT_ERRNO("args_get wrapping buf", raw_args_get(P(out), WRAP), EF);
    EXPECT_ERRNO("environ_sizes_get bad count", raw_environ_sizes_get(BAD, P(&out[1])), EF);
    EXPECT_ERRNO("environ_sizes_get bad size", raw_environ_sizes_get(P(&out[0]), END - 1), EF);
    EXPECT_ERRNO("environ_get bad environ", raw_environ_get(BAD, P(buf)), EF);
    EXPECT_ERRNO("environ_get bad buf", raw_environ_get(P(out), BAD), EF);

    SECTION("clocks and randomness");
    EXPECT_ERRNO("clock_res_get bad out", raw_clock_res_get(0, BAD), EF);
    EXPECT_ERRNO("clock_res_get out straddling the end", raw_clock_res_get(1, END - 4), EF);
    EXPECT_ERRNO("clock_time_get bad out", raw_clock_time_get(1, 0, BAD), EF);
    EXPECT_ERRNO("clock_time_get wrapping out", raw_clock_time_get(0, 0, WRAP), EF);
    EXPECT_ERRNO("clock_time_get cpu clock bad out", raw_clock_time_get(2, 0, BAD), EF);
    EXPECT_ERRNO("random_get bad buf", raw_random_get(BAD, 4), EF);
    EXPECT_ERRNO("random_get length past the end", raw_random_get(P(buf), END), EF);
    EXPECT_ERRNO("random_get wrapping range", raw_random_get(WRAP, 16), EF);
    EXPECT_ERRNO("random_get 4 GiB - 1", raw_random_get(P(buf), -1), EF);
    EXPECT_OK("random_get 0 bytes at the end", raw_random_get(END, 0));

    SECTION("fd_read / fd_pread");
    __wasi_iovec_t good_in = {(uint8_t *)buf, 4};
    __wasi_iovec_t bad_in = {(uint8_t *)(uintptr_t)0xFFFFFF00u, 16};
    __wasi_iovec_t wrap_in = {(uint8_t *)(uintptr_t)0xFFFFFFF8u, 32};
    __wasi_iovec_t two_in[2] = {{(uint8_t *)buf, 4}, {(uint8_t *)(uintptr_t)0xFFFFFF00u, 4}};
    __wasi_iovec_t huge_in[2] = {{(uint8_t *)buf, 0x80000000u}, {(uint8_t *)buf, 0x80000008u}};
    EXPECT_ERRNO("fd_read bad iovs", raw_fd_read(fd, BAD, 1, P(out)), EF);
    EXPECT_ERRNO("fd_read iovs straddling the end", raw_fd_read(fd, END - 4, 1, P(out)), EF);
    EXPECT_ERRNO("fd_read 1024 iovecs running past the end", raw_fd_read(fd, P(&good_in), 1024, P(out)), EF);
    EXPECT_ERRNO("fd_read iovs count overflowing (8 * n > 2^32): over IOV_MAX", raw_fd_read(fd, P(&good_in), 0x20000001, P(out)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("fd_read buffer out of memory", raw_fd_read(fd, P(&bad_in), 1, P(out)), EF);
    EXPECT_ERRNO("fd_read buffer wrapping 2^32", raw_fd_read(fd, P(&wrap_in), 1, P(out)), EF);
    EXPECT_ERRNO("fd_read second buffer bad", raw_fd_read(fd, P(two_in), 2, P(out)), EF);
    EXPECT_ERRNO("fd_read lengths summing past 2^32", raw_fd_read(fd, P(huge_in), 2, P(out)), EF);
    EXPECT_ERRNO("fd_read bad nread", raw_fd_read(fd, P(&good_in), 1, BAD), EF);
    __wasi_filesize_t pos = 99;
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset unchanged by the failed reads", pos, 0);
    EXPECT_ERRNO("fd_pread bad iovs", raw_fd_pread(fd, BAD, 1, 0, P(out)), EF);
    EXPECT_ERRNO("fd_pread buffer out of memory", raw_fd_pread(fd, P(&bad_in), 1, 0, P(out)), EF);
    EXPECT_ERRNO("fd_pread second buffer bad", raw_fd_pread(fd, P(two_in), 2, 0, P(out)), EF);
    EXPECT_ERRNO("fd_pread bad nread", raw_fd_pread(fd, P(&good_in), 1, 0, END - 3), EF);
    EXPECT_ERRNO("stdin fd_read buffer out of memory", raw_fd_read(0, P(&bad_in), 1, P(out)), EF);

    SECTION("fd_write / fd_pwrite");
    __wasi_ciovec_t good_out = {(const uint8_t *)"XXXX", 4};
    __wasi_ciovec_t bad_out = {(const uint8_t *)(uintptr_t)0xFFFFFF00u, 16};
    __wasi_ciovec_t wrap_out = {(const uint8_t *)(uintptr_t)0xFFFFFFF8u, 32};
    __wasi_ciovec_t two_out[2] = {{(const uint8_t *)"XXXX", 4}, {(const uint8_t *)(uintptr_t)0xFFFFFF00u, 4}};
    EXPECT_ERRNO("fd_write bad iovs", raw_fd_write(fd, BAD, 1, P(out)), EF);
    EXPECT_ERRNO("fd_write 1024 iovecs running past the end", raw_fd_write(fd, END - 8 * 512, 1024, P(out)), EF);
    EXPECT_ERRNO("fd_write iovs count overflowing: over IOV_MAX", raw_fd_write(fd, P(&good_out), 0x20000001, P(out)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("fd_write buffer out of memory", raw_fd_write(fd, P(&bad_out), 1, P(out)), EF);
    EXPECT_ERRNO("fd_write buffer wrapping 2^32", raw_fd_write(fd, P(&wrap_out), 1, P(out)), EF);
    EXPECT_ERRNO("fd_write second buffer bad (first good)", raw_fd_write(fd, P(two_out), 2, P(out)), EF);
    EXPECT_ERRNO("fd_write bad nwritten", raw_fd_write(fd, P(&good_out), 1, BAD), EF);
    EXPECT_ERRNO("fd_pwrite bad iovs", raw_fd_pwrite(fd, BAD, 1, 0, P(out)), EF);
    EXPECT_ERRNO("fd_pwrite buffer out of memory", raw_fd_pwrite(fd, P(&bad_out), 1, 0, P(out)), EF);
    EXPECT_ERRNO("fd_pwrite second buffer bad", raw_fd_pwrite(fd, P(two_out), 2, 4, P(out)), EF);
    EXPECT_ERRNO("fd_pwrite bad nwritten", raw_fd_pwrite(fd, P(&good_out), 1, 0, WRAP), EF);
    EXPECT_ERRNO("stdout fd_write buffer out of memory", raw_fd_write(1, P(&bad_out), 1, P(out)), EF);
    EXPECT_ERRNO("stderr fd_write second buffer bad", raw_fd_write(2, P(two_out), 2, P(out)), EF);
    long n = slurp("f", buf, sizeof buf);
    EXPECT_STR("f unchanged by the failed writes", buf, n < 0 ? 0 : (size_t)n, "0123456789");

    SECTION("fd metadata");
    EXPECT_ERRNO("fd_seek bad out", raw_fd_seek(fd, 0, 0, BAD), EF);
    EXPECT_ERRNO("fd_seek out straddling the end", raw_fd_seek(fd, 3, 0, END - 4), EF);
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset unchanged by the failed seeks", pos, 0);
    EXPECT_ERRNO("fd_tell bad out", raw_fd_tell(fd, BAD), EF);
    EXPECT_ERRNO("fd_fdstat_get bad out", raw_fd_fdstat_get(fd, BAD), EF);
    EXPECT_ERRNO("fd_fdstat_get out straddling the end", raw_fd_fdstat_get(fd, END - 16), EF);
    EXPECT_ERRNO("fd_filestat_get bad out", raw_fd_filestat_get(fd, BAD), EF);
    EXPECT_ERRNO("fd_filestat_get wrapping out", raw_fd_filestat_get(fd, WRAP), EF);
    EXPECT_ERRNO("fd_prestat_get bad out", raw_fd_prestat_get(SANDBOX_FD, BAD), EF);
    EXPECT_ERRNO("fd_prestat_dir_name bad buf", raw_fd_prestat_dir_name(SANDBOX_FD, BAD, 8), EF);
    EXPECT_ERRNO("fd_prestat_dir_name buf straddling the end", raw_fd_prestat_dir_name(SANDBOX_FD, END - 2, 8), EF);

    SECTION("fd_readdir");
    EXPECT_ERRNO("fd_readdir bad buf", raw_fd_readdir(SANDBOX_FD, BAD, 256, 0, P(out)), EF);
    EXPECT_ERRNO("fd_readdir buf straddling the end", raw_fd_readdir(SANDBOX_FD, END - 10, 256, 0, P(out)), EF);
    EXPECT_ERRNO("fd_readdir length 4 GiB - 1", raw_fd_readdir(SANDBOX_FD, P(buf), -1, 0, P(out)), EF);
    EXPECT_ERRNO("fd_readdir wrapping buf", raw_fd_readdir(SANDBOX_FD, WRAP, 64, 0, P(out)), EF);
    EXPECT_ERRNO("fd_readdir bad bufused", raw_fd_readdir(SANDBOX_FD, P(buf), sizeof buf, 0, BAD), EF);
    EXPECT_ERRNO("fd_readdir sub-directory bad buf", raw_fd_readdir(dfd, BAD, 64, 0, P(out)), EF);

    SECTION("path strings");
    EXPECT_ERRNO("path_open bad path", raw_path_open(SANDBOX_FD, 0, BAD, 4, 0, (i64)RIGHTS_RW, 0, 0, P(out)), EF);
    EXPECT_ERRNO("path_open path straddling the end", raw_path_open(SANDBOX_FD, 0, END - 2, 4, 0, (i64)RIGHTS_RW, 0, 0, P(out)), EF);
    EXPECT_ERRNO("path_open path wrapping 2^32", raw_path_open(SANDBOX_FD, 0, WRAP, 16, 1, (i64)RIGHTS_RW, 0, 0, P(out)), EF);
    EXPECT_ERRNO("path_open CREAT with bad fd out", raw_path_open(SANDBOX_FD, 0, P("new1"), 4, __WASI_OFLAGS_CREAT, (i64)RIGHTS_RW, 0, 0, BAD), EF);
    EXPECT_ERRNO("path_open CREAT|TRUNC of f with bad fd out", raw_path_open(SANDBOX_FD, 0, P("f"), 1, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, (i64)RIGHTS_RW, 0, 0, END - 2), EF);
    EXPECT_ERRNO("path_create_directory bad path", raw_path_create_directory(SANDBOX_FD, BAD, 3), EF);
    EXPECT_ERRNO("path_create_directory path straddling", raw_path_create_directory(SANDBOX_FD, END - 1, 2), EF);
    EXPECT_ERRNO("path_filestat_get bad path", raw_path_filestat_get(SANDBOX_FD, 0, BAD, 1, P(buf)), EF);
    EXPECT_ERRNO("path_filestat_get bad out", raw_path_filestat_get(SANDBOX_FD, 0, P("f"), 1, BAD), EF);
    EXPECT_ERRNO("path_filestat_get out straddling", raw_path_filestat_get(SANDBOX_FD, 0, P("f"), 1, END - 32), EF);
    EXPECT_ERRNO("path_filestat_set_times bad path", raw_path_filestat_set_times(SANDBOX_FD, 0, BAD, 1, 0, 0, __WASI_FSTFLAGS_ATIM_NOW), EF);
    EXPECT_ERRNO("path_link bad old path", raw_path_link(SANDBOX_FD, 0, BAD, 1, SANDBOX_FD, P("new2"), 4), EF);
    EXPECT_ERRNO("path_link bad new path", raw_path_link(SANDBOX_FD, 0, P("f"), 1, SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_link new path wrapping", raw_path_link(SANDBOX_FD, 0, P("f"), 1, SANDBOX_FD, WRAP, 16), EF);
    EXPECT_ERRNO("path_readlink bad path", raw_path_readlink(SANDBOX_FD, BAD, 1, P(buf), 8, P(out)), EF);
    EXPECT_ERRNO("path_readlink bad buf", raw_path_readlink(SANDBOX_FD, P("l"), 1, BAD, 8, P(out)), EF);
    EXPECT_ERRNO("path_readlink buf straddling", raw_path_readlink(SANDBOX_FD, P("l"), 1, END - 1, 8, P(out)), EF);
    arm();
    EXPECT_ERRNO("path_readlink bad bufused", raw_path_readlink(SANDBOX_FD, P("l"), 1, P(canary), 8, BAD), EF);
    EXPECT_ERRNO("path_remove_directory bad path", raw_path_remove_directory(SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_remove_directory path straddling", raw_path_remove_directory(SANDBOX_FD, END - 1, 1 + 1), EF);
    EXPECT_ERRNO("path_rename bad old path", raw_path_rename(SANDBOX_FD, BAD, 1, SANDBOX_FD, P("new3"), 4), EF);
    EXPECT_ERRNO("path_rename bad new path", raw_path_rename(SANDBOX_FD, P("f"), 1, SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_rename directory, bad new path", raw_path_rename(SANDBOX_FD, P("d"), 1, SANDBOX_FD, END - 1, 4), EF);
    EXPECT_ERRNO("path_symlink bad target", raw_path_symlink(BAD, 1, SANDBOX_FD, P("new4"), 4), EF);
    EXPECT_ERRNO("path_symlink target wrapping", raw_path_symlink(WRAP, 16, SANDBOX_FD, P("new4"), 4), EF);
    EXPECT_ERRNO("path_symlink bad link path", raw_path_symlink(P("f"), 1, SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_unlink_file bad path", raw_path_unlink_file(SANDBOX_FD, BAD, 1), EF);
    EXPECT_ERRNO("path_unlink_file path straddling", raw_path_unlink_file(SANDBOX_FD, END - 1, 2), EF);
    EXPECT_ERRNO("path_unlink_file length 4 GiB - 1", raw_path_unlink_file(SANDBOX_FD, P("f"), -1), __WASI_ERRNO_NAMETOOLONG);

    SECTION("poll and sockets");
    __wasi_subscription_t sub;
    memset(&sub, 0, sizeof sub);
    sub.u.tag = __WASI_EVENTTYPE_CLOCK;
    sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    __wasi_event_t ev;
    EXPECT_ERRNO("poll_oneoff bad subscriptions", raw_poll_oneoff(BAD, P(&ev), 1, P(out)), EF);
    EXPECT_ERRNO("poll_oneoff bad events", raw_poll_oneoff(P(&sub), BAD, 1, P(out)), EF);
    EXPECT_ERRNO("poll_oneoff events straddling", raw_poll_oneoff(P(&sub), END - 8, 1, P(out)), EF);
    EXPECT_ERRNO("poll_oneoff bad nevents", raw_poll_oneoff(P(&sub), P(&ev), 1, BAD), EF);
    EXPECT_ERRNO("poll_oneoff count 2^21 (arrays past the memory)", raw_poll_oneoff(P(&sub), P(&ev), 0x200000, P(out)), EF);
    /* Above 2^21 subscriptions: ENOMEM before the buffers are looked at, as wasmtime. */
    EXPECT_ERRNO("poll_oneoff count overflowing (48 * n > 2^32)", raw_poll_oneoff(P(&sub), P(&ev), 0x5555556, P(out)), __WASI_ERRNO_NOMEM);
    EXPECT_ERRNO("poll_oneoff count 4 GiB - 1", raw_poll_oneoff(P(&sub), P(&ev), -1, P(out)), __WASI_ERRNO_NOMEM);
    EXPECT_ERRNO("sock_accept bad out", raw_sock_accept(SANDBOX_FD, 0, BAD), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("sock_recv bad iovs", raw_sock_recv(fd, BAD, 1, 0, P(out), P(&out[1])), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("sock_send bad iovs", raw_sock_send(fd, BAD, 1, 0, P(out)), __WASI_ERRNO_NOTSOCK);

    SECTION("the filesystem did not change");
    known_file_intact("after everything");
    n = slurp("f", buf, sizeof buf);
    EXPECT_STR("f", buf, n < 0 ? 0 : (size_t)n, "0123456789");
    absent("new1");
    absent("new2");
    absent("new3");
    absent("new4");
    __wasi_filestat_t st;
    EXPECT_OK("d still there", __wasi_path_filestat_get(SANDBOX_FD, 0, "d", &st));
    EXPECT_TRUE("d is a directory", st.filetype == __WASI_FILETYPE_DIRECTORY);
    EXPECT_OK("l still there", __wasi_path_filestat_get(SANDBOX_FD, 0, "l", &st));
    EXPECT_TRUE("l is a symlink", st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK);

    SECTION("still running");
    size_t w;
    EXPECT_OK("a normal write still works", write_all(fd, "ok", 2, &w));
    EXPECT_OK("close", __wasi_fd_close(fd));
    n = slurp("f", buf, sizeof buf);
    EXPECT_STR("f after the good write", buf, n < 0 ? 0 : (size_t)n, "ok23456789");
    return done();
}
