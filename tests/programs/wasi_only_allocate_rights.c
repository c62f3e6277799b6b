/* wasi.wasm only (wasmtime gives ENOTSUP for both): fd_allocate extends a file with zeros
 * and never shrinks it, with fallocate(2)'s errors (checked after the fd's type, its
 * FD_ALLOCATE right (ENOTCAPABLE) and write access (EBADF)); fd_fdstat_set_rights removes
 * rights, which are then enforced, and can never add them back; inheriting rights limit fds
 * opened through a directory (exact values in wasi_only_rights.c). */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define HAS(r, bit) (((r) & (bit)) != 0)

int main(void) {
    __wasi_fd_t fd, dfd, sub;
    __wasi_filestat_t st;
    __wasi_fdstat_t fs;
    char buf[64];
    size_t n;

    SECTION("fd_allocate");
    make_file("f", "abc");
    EXPECT_OK("open", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("allocate 0..10", __wasi_fd_allocate(fd, 0, 10));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size", st.size, 10);
    long len = slurp("f", buf, sizeof buf);
    EXPECT_BYTES("content", buf, (size_t)len, "abc\0\0\0\0\0\0\0", 10);
    EXPECT_OK("allocate 2..4 (inside)", __wasi_fd_allocate(fd, 2, 2));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size not shrunk", st.size, 10);
    EXPECT_OK("allocate 100+28", __wasi_fd_allocate(fd, 100, 28));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size", st.size, 128);
    __wasi_filesize_t pos;
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset not moved", pos, 0);
    /* As fallocate(2): an empty range, a negative offset or length (as off_t) is EINVAL, a
     * range ending past 2^63 - 1 or past the largest file (2^44 - 4096, as ext4) EFBIG. */
    EXPECT_ERRNO("allocate len 0", __wasi_fd_allocate(fd, 0, 0), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("allocate len 0 past the end", __wasi_fd_allocate(fd, 1000, 0), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("allocate bad fd", __wasi_fd_allocate(99, 0, 1), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("allocate on a directory", __wasi_fd_allocate(SANDBOX_FD, 0, 1), __WASI_ERRNO_BADF);
    __wasi_fd_t ro;
    EXPECT_OK("open read-only", open_at(SANDBOX_FD, "f", F, 0, __WASI_RIGHTS_FD_READ, 0, &ro));
    EXPECT_ERRNO("allocate on a read-only fd", __wasi_fd_allocate(ro, 0, 1000), __WASI_ERRNO_NOTCAPABLE);
    (void)__wasi_fd_close(ro);
    EXPECT_OK("open read-only with FD_ALLOCATE", open_at(SANDBOX_FD, "f", F, 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_ALLOCATE, 0, &ro));
    EXPECT_ERRNO("allocate on a read-only fd with FD_ALLOCATE", __wasi_fd_allocate(ro, 0, 1000), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(ro);
    EXPECT_ERRNO("allocate offset+len overflows", __wasi_fd_allocate(fd, 0xFFFFFFFFFFFFFFF0ULL, 0x20), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("allocate offset 2^63", __wasi_fd_allocate(fd, 0x8000000000000000ULL, 1), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("allocate len 2^63", __wasi_fd_allocate(fd, 0, 0x8000000000000000ULL), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("allocate offset 2^63-16 len 32", __wasi_fd_allocate(fd, 0x7FFFFFFFFFFFFFF0ULL, 0x20), __WASI_ERRNO_FBIG);
    EXPECT_ERRNO("allocate 2^63-1 at 1", __wasi_fd_allocate(fd, 1, 0x7FFFFFFFFFFFFFFFULL), __WASI_ERRNO_FBIG);
    EXPECT_ERRNO("allocate ending 1 byte past 2^44-4096", __wasi_fd_allocate(fd, (1ULL << 44) - 4096 - 9, 10), __WASI_ERRNO_FBIG);
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size unchanged by failures", st.size, 128);

    SECTION("fd_fdstat_set_rights");
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(fd, &fs));
    EXPECT_TRUE("starts with read and write", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_READ) && HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    __wasi_rights_t no_write = fs.fs_rights_base & ~(__wasi_rights_t)__WASI_RIGHTS_FD_WRITE;
    EXPECT_OK("drop FD_WRITE", __wasi_fd_fdstat_set_rights(fd, no_write, fs.fs_rights_inheriting));
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(fd, &fs));
    EXPECT_TRUE("FD_WRITE gone", !HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    EXPECT_TRUE("FD_READ kept", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_READ));
    EXPECT_ERRNO("write without FD_WRITE", write_all(fd, "x", 1, &n), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_OK("read still works", read_some(fd, buf, 3, &n));
    EXPECT_STR("data", buf, n, "abc");
    EXPECT_ERRNO("add FD_WRITE back", __wasi_fd_fdstat_set_rights(fd, no_write | __WASI_RIGHTS_FD_WRITE, fs.fs_rights_inheriting), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(fd, &fs));
    EXPECT_TRUE("still without FD_WRITE", !HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    EXPECT_OK("drop FD_SEEK and FD_TELL", __wasi_fd_fdstat_set_rights(fd, fs.fs_rights_base & ~(__wasi_rights_t)(__WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL), fs.fs_rights_inheriting));
    EXPECT_ERRNO("seek without FD_SEEK", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("tell without FD_TELL", __wasi_fd_tell(fd, &pos), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_OK("drop everything", __wasi_fd_fdstat_set_rights(fd, 0, 0));
    EXPECT_OK("fdstat still works with no rights", __wasi_fd_fdstat_get(fd, &fs));
    EXPECT_U64("base rights", fs.fs_rights_base, 0);
    EXPECT_ERRNO("read with no rights", read_some(fd, buf, 1, &n), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("filestat with no rights", __wasi_fd_filestat_get(fd, &st), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_OK("close with no rights", __wasi_fd_close(fd));

    SECTION("directory rights");
    make_dir("d");
    make_file("d/file", "data");
    EXPECT_OK("open d", open_at(SANDBOX_FD, "d", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    EXPECT_OK("fdstat d", __wasi_fd_fdstat_get(dfd, &fs));
    EXPECT_OK("inheriting: drop FD_WRITE",
              __wasi_fd_fdstat_set_rights(dfd, fs.fs_rights_base, fs.fs_rights_inheriting & ~(__wasi_rights_t)__WASI_RIGHTS_FD_WRITE));
    /* Asking for more than the directory's inheriting rights either fails with
     * ENOTCAPABLE or yields an fd without those rights: never a writable fd. */
    __wasi_errno_t e = __wasi_path_open(dfd, F, "file", 0, RIGHTS_RW, RIGHTS_RW, 0, &fd);
    int writable = 0;
    if (e == 0) {
        writable = __wasi_fd_fdstat_get(fd, &fs) == 0 && HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE);
        writable |= write_all(fd, "x", 1, &n) == 0;
        (void)__wasi_fd_close(fd);
    }
    EXPECT_TRUE("open through d asking for write: ENOTCAPABLE or a read-only fd",
                (e == __WASI_ERRNO_NOTCAPABLE) || (e == 0 && !writable));
    EXPECT_STR("d/file unchanged", buf, (size_t)slurp("d/file", buf, sizeof buf), "data");
    EXPECT_OK("open d/file through d read-only", __wasi_path_open(dfd, F, "file", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("data", buf, n, "data");
    (void)__wasi_fd_close(fd);
    EXPECT_OK("fdstat d", __wasi_fd_fdstat_get(dfd, &fs));
    EXPECT_OK("base: drop PATH_CREATE_DIRECTORY and PATH_UNLINK_FILE",
              __wasi_fd_fdstat_set_rights(dfd, fs.fs_rights_base & ~(__wasi_rights_t)(__WASI_RIGHTS_PATH_CREATE_DIRECTORY | __WASI_RIGHTS_PATH_UNLINK_FILE), fs.fs_rights_inheriting));
    EXPECT_ERRNO("mkdir without the right", __wasi_path_create_directory(dfd, "sub"), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("unlink without the right", __wasi_path_unlink_file(dfd, "file"), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_OK("mkdir via the preopen still works", __wasi_path_create_directory(SANDBOX_FD, "d/sub"));
    EXPECT_OK("open sub through d", __wasi_path_open(dfd, F, "sub", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, RIGHTS_DIR, 0, &sub));
    EXPECT_OK("fdstat sub", __wasi_fd_fdstat_get(sub, &fs));
    EXPECT_TRUE("sub's inheriting rights lack FD_WRITE too", !HAS(fs.fs_rights_inheriting, __WASI_RIGHTS_FD_WRITE));
    (void)__wasi_fd_close(sub);
    EXPECT_ERRNO("set_rights bad fd", __wasi_fd_fdstat_set_rights(99, 0, 0), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(dfd);
    return done();
}
