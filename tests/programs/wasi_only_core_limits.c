/* wasi.wasm only (wasmtime answers ENOTSUP for fd_allocate): fd_allocate and fd_pwrite at the
 * limits of the filesystem and of 64-bit offsets. One step per argument, so the host can run
 * fsck between steps (tests/test_wasi_only.py runs them in this order under a 4 MiB
 * filesystem limit); no argument runs allocate, overflow and pwrite.
 *
 *   allocate  fd_allocate(0, 1 TiB) fails with ENOSPC (or EFBIG) and leaves the file as it was;
 *             a smaller allocate and an ordinary 1 MiB write to another file still work
 *   overflow  fd_allocate with offset + len past 2^63 - 1: EINVAL / EFBIG as Linux
 *   pwrite    fd_pwrite at 2^64 - 1 on an empty file: EINVAL, no trap, nothing written
 *   fill      (needs allocate first, and a filesystem limit) write until ENOSPC; the 1 TiB
 *             allocate still fails the same way; removing the filler makes room again
 *
 * Linux's fallocate(2) (vfs_fallocate; glibc's posix_fallocate returns the same errnos), with
 * off_t signed: offset < 0 or len <= 0 is EINVAL, so fallocate(2^64 - 10, 20) (offset -10) is
 * EINVAL; offset + len past the largest file size, or wrapping past 2^63 - 1 with a valid
 * offset, is EFBIG, so fallocate(2^63 - 10, 20) is EFBIG; fallocate(0, 1 TiB) on an ext4 disk
 * with less free space is ENOSPC (ext4 keeps what it allocated before running out and grows
 * the size: wasi.wasm must leave the size unchanged). */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define TIB (1ULL << 40)
#define MIB (1u << 20)
#define CHUNK 65536

static char big[MIB];

static uint64_t size_of(__wasi_fd_t fd) {
    __wasi_filestat_t st;
    if (__wasi_fd_filestat_get(fd, &st)) return (uint64_t)-1;
    return st.size;
}

static __wasi_fd_t open_rw(const char *path, __wasi_oflags_t oflags) {
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(SANDBOX_FD, path, F, oflags, RIGHTS_RW, 0, &fd);
    if (e) {
        printf("setup: open %s failed: %s\n", path, errname(e));
        exit(2);
    }
    return fd;
}

/* fd_allocate(0, 1 TiB) must fail without changing the file. */
static void allocate_tib(const char *label, __wasi_fd_t fd) {
    uint64_t before = size_of(fd);
    __wasi_errno_t e = __wasi_fd_allocate(fd, 0, TIB);
    EXPECT_TRUE(label, e == __WASI_ERRNO_NOSPC || e == __WASI_ERRNO_FBIG);
    EXPECT_TRUE("  size unchanged", size_of(fd) == before);
}

/* Write 1 MiB of a known pattern to a new file in one fd_write and check it. */
static void write_mib(const char *path) {
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    __wasi_fd_t fd = open_rw(path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
    size_t n = 0;
    EXPECT_OK("write 1 MiB to another file", write_all(fd, big, sizeof big, &n));
    EXPECT_U64("  written", n, MIB);
    EXPECT_U64("  size", size_of(fd), MIB);
    static char back[MIB];
    size_t total = 0;
    __wasi_errno_t e = 0;
    while (total < MIB) {  /* a runtime may return short reads */
        __wasi_iovec_t iov = {(uint8_t *)back + total, MIB - total};
        __wasi_size_t got = 0;
        if ((e = __wasi_fd_pread(fd, &iov, 1, total, &got)) || !got) break;
        total += got;
    }
    EXPECT_OK("  read back", e);
    EXPECT_TRUE("  same data", total == MIB && memcmp(back, big, MIB) == 0);
    (void)__wasi_fd_close(fd);
}

static void step_allocate(void) {
    char buf[16];
    SECTION("allocate");
    make_file("a", "abc");
    __wasi_fd_t fd = open_rw("a", 0);
    allocate_tib("allocate 1 TiB: ENOSPC or EFBIG", fd);
    EXPECT_STR("  content", buf, (size_t)slurp("a", buf, sizeof buf), "abc");
    allocate_tib("allocate 1 TiB again: ENOSPC or EFBIG", fd);
    EXPECT_OK("allocate 64 KiB after the failures", __wasi_fd_allocate(fd, 0, CHUNK));
    EXPECT_U64("  size", size_of(fd), CHUNK);
    (void)__wasi_fd_close(fd);
    write_mib("b");
}

static void step_overflow(void) {
    char buf[16];
    SECTION("overflow");
    make_file("o", "xyz");
    __wasi_fd_t fd = open_rw("o", 0);
    EXPECT_ERRNO("allocate at 2^64-10 len 20", __wasi_fd_allocate(fd, 0xfffffffffffffff6ULL, 20), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("allocate at 2^63-10 len 20", __wasi_fd_allocate(fd, 0x7ffffffffffffff6ULL, 20), __WASI_ERRNO_FBIG);
    EXPECT_U64("size unchanged", size_of(fd), 3);
    EXPECT_STR("content", buf, (size_t)slurp("o", buf, sizeof buf), "xyz");
    (void)__wasi_fd_close(fd);
}

static void step_pwrite(void) {
    char buf[16];
    SECTION("pwrite");
    __wasi_fd_t fd = open_rw("p", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
    __wasi_ciovec_t iov = {(const uint8_t *)"0123456789abcdef", 1};
    __wasi_size_t got = 0;
    EXPECT_ERRNO("pwrite at 2^64-1 len 1 on an empty file", __wasi_fd_pwrite(fd, &iov, 1, 0xffffffffffffffffULL, &got), __WASI_ERRNO_INVAL);
    iov.buf_len = 16;
    EXPECT_ERRNO("pwrite at 2^64-1 len 16 on an empty file", __wasi_fd_pwrite(fd, &iov, 1, 0xffffffffffffffffULL, &got), __WASI_ERRNO_INVAL);
    EXPECT_U64("size", size_of(fd), 0);
    EXPECT_OK("pwrite at 0 still works", __wasi_fd_pwrite(fd, &iov, 1, 0, &got));
    EXPECT_U64("  written", got, 16);
    EXPECT_STR("content", buf, (size_t)slurp("p", buf, sizeof buf), "0123456789abcdef");
    (void)__wasi_fd_close(fd);
}

static void step_fill(void) {
    static char chunk[CHUNK];
    char buf[16];
    SECTION("fill");
    memset(chunk, 'x', sizeof chunk);
    __wasi_fd_t fd = open_rw("fill", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
    uint64_t written = 0;
    size_t n = 0;
    __wasi_errno_t e = 0;
    for (int i = 0; i < 100000 && !(e = write_all(fd, chunk, sizeof chunk, &n)); i++) written += n;
    EXPECT_ERRNO("write 64 KiB chunks until full", e, __WASI_ERRNO_NOSPC);
    EXPECT_TRUE("wrote at least one chunk", written >= CHUNK);
    EXPECT_TRUE("size is what the writes reported", size_of(fd) == written);
    for (int i = 0; i < CHUNK && !(e = write_all(fd, "y", 1, &n)); i++) written += n;
    EXPECT_ERRNO("1-byte writes until full", e, __WASI_ERRNO_NOSPC);
    EXPECT_TRUE("size is what the writes reported", size_of(fd) == written);
    __wasi_fd_t a = open_rw("a", 0);
    allocate_tib("allocate 1 TiB when full: ENOSPC or EFBIG", a);
    EXPECT_ERRNO("allocate 1 MiB more when full", __wasi_fd_allocate(a, 0, CHUNK + MIB), __WASI_ERRNO_NOSPC);
    EXPECT_U64("  size unchanged", size_of(a), CHUNK);
    EXPECT_STR("a intact", buf, (size_t)slurp("a", buf, 3), "abc");
    (void)__wasi_fd_close(a);
    __wasi_fd_t b = open_rw("b", 0);
    EXPECT_U64("b intact", size_of(b), MIB);
    (void)__wasi_fd_close(b);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("remove the filler", __wasi_path_unlink_file(SANDBOX_FD, "fill"));
    write_mib("c");
    EXPECT_OK("remove it again", __wasi_path_unlink_file(SANDBOX_FD, "c"));
}

int main(int argc, char **argv) {
    static const char *const all[] = {"allocate", "overflow", "pwrite"};
    const char *const *steps = argc > 1 ? (const char *const *)argv + 1 : all;
    int count = argc > 1 ? argc - 1 : 3;
    for (int i = 0; i < count; i++) {
        if (!strcmp(steps[i], "allocate")) step_allocate();
        else if (!strcmp(steps[i], "overflow")) step_overflow();
        else if (!strcmp(steps[i], "pwrite")) step_pwrite();
        else if (!strcmp(steps[i], "fill")) step_fill();
        else {
            printf("unknown step %s\n", steps[i]);
            return 2;
        }
    }
    return done();
}
