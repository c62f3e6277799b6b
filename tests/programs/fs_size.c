/* fd_filestat_set_size (grow with zero fill, shrink, then regrow), large files, fd_advise,
 * fd_sync, fd_datasync, fd_allocate's error path, and errors of all of them.
 * fd_allocate's success path is in wasi_only_allocate_rights.c (wasmtime gives ENOTSUP). */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

static uint32_t checksum(const unsigned char *p, size_t n, uint32_t h) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

int main(void) {
    __wasi_fd_t fd;
    static char buf[1 << 16];
    size_t n;
    __wasi_filestat_t st;
    __wasi_filesize_t pos;

    SECTION("set_size");
    EXPECT_OK("create", open_at(SANDBOX_FD, "s", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("write", write_all(fd, "abcdef", 6, &n));
    EXPECT_OK("set_size 3 (shrink)", __wasi_fd_filestat_set_size(fd, 3));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size", st.size, 3);
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset not moved by set_size", pos, 6);
    EXPECT_OK("set_size 8 (grow)", __wasi_fd_filestat_set_size(fd, 8));
    long len = slurp("s", buf, sizeof buf);
    EXPECT_BYTES("content", buf, (size_t)len, "abc\0\0\0\0\0", 8);
    EXPECT_OK("write at offset 6", write_all(fd, "Z", 1, &n));
    len = slurp("s", buf, sizeof buf);
    EXPECT_BYTES("content", buf, (size_t)len, "abc\0\0\0Z\0", 8);
    EXPECT_OK("set_size 0", __wasi_fd_filestat_set_size(fd, 0));
    EXPECT_OK("set_size 5 again", __wasi_fd_filestat_set_size(fd, 5));
    len = slurp("s", buf, sizeof buf);
    EXPECT_BYTES("old bytes do not come back", buf, (size_t)len, "\0\0\0\0\0", 5);
    EXPECT_OK("set_size same size", __wasi_fd_filestat_set_size(fd, 5));
    EXPECT_OK("set_size 1 MiB", __wasi_fd_filestat_set_size(fd, 1 << 20));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size", st.size, 1 << 20);
    __wasi_iovec_t iov = {(uint8_t *)buf, 16};
    __wasi_size_t got;
    memset(buf, 1, 16);
    EXPECT_OK("pread near the end", __wasi_fd_pread(fd, &iov, 1, (1 << 20) - 8, &got));
    EXPECT_BYTES("last 8 bytes are zero", buf, got, "\0\0\0\0\0\0\0\0", 8);
    EXPECT_OK("close", __wasi_fd_close(fd));

    SECTION("large file");
    EXPECT_OK("create big", open_at(SANDBOX_FD, "big", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    uint32_t h = 2166136261u;
    int ok = 1;
    size_t total = 0;
    for (int chunk = 0; chunk < 48; chunk++) { /* 48 x 64 KiB = 3 MiB */
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)((i * 7 + (size_t)chunk * 13) & 0xff);
        h = checksum((unsigned char *)buf, sizeof buf, h);
        size_t off = 0;
        while (off < sizeof buf) {
            if (write_all(fd, buf + off, sizeof buf - off, &n) || n == 0) { ok = 0; break; }
            off += n;
        }
        total += off;
    }
    EXPECT_TRUE("wrote 3 MiB", ok && total == 48u * sizeof buf);
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size", st.size, 48u * sizeof buf);
    EXPECT_OK("seek 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    uint32_t h2 = 2166136261u;
    total = 0;
    for (;;) {
        if (read_some(fd, buf, 40000, &n) || n == 0) break;
        h2 = checksum((unsigned char *)buf, n, h2);
        total += n;
    }
    EXPECT_U64("read back bytes", total, 48u * sizeof buf);
    EXPECT_TRUE("checksum equal", h == h2);
    EXPECT_OK("fd_sync", __wasi_fd_sync(fd));
    EXPECT_OK("fd_datasync", __wasi_fd_datasync(fd));
    EXPECT_OK("set_size 10", __wasi_fd_filestat_set_size(fd, 10));
    EXPECT_U64("slurp after shrink", slurp("big", buf, sizeof buf), 10);
    EXPECT_OK("close", __wasi_fd_close(fd));

    SECTION("sparse far");
    EXPECT_OK("create sparse", open_at(SANDBOX_FD, "sparse", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    __wasi_ciovec_t w = {(const uint8_t *)"end", 3};
    EXPECT_OK("pwrite at 8 MiB", __wasi_fd_pwrite(fd, &w, 1, 8u << 20, &got));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size", st.size, (8u << 20) + 3);
    iov.buf_len = 8;
    EXPECT_OK("pread at 4 MiB", __wasi_fd_pread(fd, &iov, 1, 4u << 20, &got));
    EXPECT_BYTES("hole reads zeros", buf, got, "\0\0\0\0\0\0\0\0", 8);
    EXPECT_OK("pread at 8 MiB - 2", __wasi_fd_pread(fd, &iov, 1, (8u << 20) - 2, &got));
    EXPECT_BYTES("tail", buf, got, "\0\0end", 5);
    EXPECT_OK("close", __wasi_fd_close(fd));

    /* A terabyte out, with data at both ends: truncations must find and free the chunks
       between millions of empty slots (dev/vfs/filedata.c free_chunks_from). */
    SECTION("sparse a terabyte out");
    const uint64_t tib = 1ULL << 40;
    EXPECT_OK("create far", open_at(SANDBOX_FD, "far", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    __wasi_ciovec_t head = {(const uint8_t *)"head", 4};
    EXPECT_OK("pwrite at 0", __wasi_fd_pwrite(fd, &head, 1, 0, &got));
    for (int round = 0; round < 3; round++) {
        EXPECT_OK("pwrite at 1 TiB", __wasi_fd_pwrite(fd, &w, 1, tib, &got));
        EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
        EXPECT_U64("size", st.size, tib + 3);
        iov.buf_len = 5;
        EXPECT_OK("pread at 1 TiB - 2", __wasi_fd_pread(fd, &iov, 1, tib - 2, &got));
        EXPECT_BYTES("far tail", buf, got, "\0\0end", 5);
        EXPECT_OK("set_size 2", __wasi_fd_filestat_set_size(fd, 2));
        EXPECT_OK("set_size 1 TiB", __wasi_fd_filestat_set_size(fd, tib + 3));
        EXPECT_OK("pread at 1 TiB again", __wasi_fd_pread(fd, &iov, 1, tib - 2, &got));
        EXPECT_BYTES("the tail is gone", buf, got, "\0\0\0\0\0", 5);
        EXPECT_OK("pread at 0", __wasi_fd_pread(fd, &iov, 1, 0, &got));
        EXPECT_BYTES("the head is cut", buf, got, "he\0\0\0", 5);
        EXPECT_OK("set_size 4", __wasi_fd_filestat_set_size(fd, 4));
        EXPECT_OK("pwrite head again", __wasi_fd_pwrite(fd, &head, 1, 0, &got));
    }
    EXPECT_OK("set_size 0", __wasi_fd_filestat_set_size(fd, 0));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size 0", st.size, 0);
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_OK("unlink far", __wasi_path_unlink_file(SANDBOX_FD, "far"));

    SECTION("advise");
    EXPECT_OK("open", open_at(SANDBOX_FD, "s", F, 0, RIGHTS_RW, 0, &fd));
    static const char *advice_names[] = {"NORMAL", "SEQUENTIAL", "RANDOM", "WILLNEED", "DONTNEED", "NOREUSE"};
    for (int a = 0; a <= 5; a++) {
        char label[64];
        snprintf(label, sizeof label, "fd_advise %s", advice_names[a]);
        EXPECT_OK(label, __wasi_fd_advise(fd, 0, 100, (__wasi_advice_t)a));
    }
    EXPECT_OK("fd_advise beyond end", __wasi_fd_advise(fd, 1 << 30, 1 << 20, __WASI_ADVICE_NORMAL));
    EXPECT_OK("fd_advise len 0", __wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_NORMAL));
    EXPECT_ERRNO("fd_advise bad fd", __wasi_fd_advise(99, 0, 1, __WASI_ADVICE_NORMAL), __WASI_ERRNO_BADF);

    SECTION("errors");
    EXPECT_ERRNO("set_size bad fd", __wasi_fd_filestat_set_size(99, 1), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_sync bad fd", __wasi_fd_sync(99), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_datasync bad fd", __wasi_fd_datasync(99), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_allocate bad fd", __wasi_fd_allocate(99, 0, 1), __WASI_ERRNO_BADF);
    __wasi_fd_t ro;
    EXPECT_OK("open read-only", open_at(SANDBOX_FD, "s", F, 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_FILESTAT_GET, 0, &ro));
    /* wasmtime: EINVAL (ftruncate on an O_RDONLY file); wasi.wasm: ENOTCAPABLE, the fd lacks
     * FD_FILESTAT_SET_SIZE (pinned in wasi_only_rights.c). */
    EXPECT_TRUE("set_size on read-only fd fails", __wasi_fd_filestat_set_size(ro, 1) != 0);
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(ro, &st));
    EXPECT_U64("size unchanged", st.size, 1 << 20);
    (void)__wasi_fd_close(ro);
    __wasi_fd_t dfd;
    EXPECT_OK("open dir", open_at(SANDBOX_FD, ".", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    EXPECT_ERRNO("set_size on dir", __wasi_fd_filestat_set_size(dfd, 1), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_sync on dir", __wasi_fd_sync(dfd), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_advise on dir", __wasi_fd_advise(dfd, 0, 1, __WASI_ADVICE_NORMAL), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(dfd);
    EXPECT_ERRNO("set_size on stdout", __wasi_fd_filestat_set_size(1, 0), __WASI_ERRNO_BADF);
    EXPECT_OK("close", __wasi_fd_close(fd));
    return done();
}
