/* path_create_directory, path_remove_directory, path_unlink_file: nesting, errors,
 * trailing slashes, and an open file that stays readable after unlink. */
#include <sys/stat.h>
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

int main(void) {
    __wasi_filestat_t st;
    __wasi_fd_t fd;
    char buf[64];
    size_t n;

    SECTION("mkdir");
    EXPECT_OK("mkdir a", __wasi_path_create_directory(SANDBOX_FD, "a"));
    EXPECT_OK("mkdir a/b", __wasi_path_create_directory(SANDBOX_FD, "a/b"));
    EXPECT_OK("mkdir a/b/c", __wasi_path_create_directory(SANDBOX_FD, "a/b/c"));
    char deep[512] = "a/b/c";
    int ok = 1;
    for (int i = 0; i < 40; i++) {
        strcat(deep, "/x");
        ok &= __wasi_path_create_directory(SANDBOX_FD, deep) == 0;
    }
    EXPECT_TRUE("40 more levels", ok);
    strcat(deep, "/leaf.txt");
    make_file(deep, "deep");
    EXPECT_U64("deep file readable", slurp(deep, buf, sizeof buf), 4);
    EXPECT_OK("stat a/b", __wasi_path_filestat_get(SANDBOX_FD, F, "a/b", &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_ERRNO("mkdir existing", __wasi_path_create_directory(SANDBOX_FD, "a"), __WASI_ERRNO_EXIST);
    make_file("file", "data");
    EXPECT_ERRNO("mkdir over file", __wasi_path_create_directory(SANDBOX_FD, "file"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("mkdir below file", __wasi_path_create_directory(SANDBOX_FD, "file/sub"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("mkdir missing parent", __wasi_path_create_directory(SANDBOX_FD, "nope/sub"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("mkdir empty path", __wasi_path_create_directory(SANDBOX_FD, ""), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("mkdir \".\"", __wasi_path_create_directory(SANDBOX_FD, "."), __WASI_ERRNO_EXIST);
    EXPECT_OK("mkdir with trailing slash", __wasi_path_create_directory(SANDBOX_FD, "t/"));
    EXPECT_OK("stat t", __wasi_path_filestat_get(SANDBOX_FD, F, "t", &st));
    EXPECT_ERRNO("mkdir bad fd", __wasi_path_create_directory(99, "q"), __WASI_ERRNO_BADF);
    EXPECT_OK("open a/b as dir", open_at(SANDBOX_FD, "a/b", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &fd));
    EXPECT_OK("mkdir relative to a/b", __wasi_path_create_directory(fd, "rel"));
    EXPECT_OK("visible as a/b/rel", __wasi_path_filestat_get(SANDBOX_FD, F, "a/b/rel", &st));
    EXPECT_OK("rmdir relative to a/b", __wasi_path_remove_directory(fd, "rel"));
    (void)__wasi_fd_close(fd);
    __wasi_fd_t ffd;
    EXPECT_OK("open file", open_at(SANDBOX_FD, "file", F, 0, RIGHTS_RW, 0, &ffd));
    EXPECT_ERRNO("mkdir relative to a file fd", __wasi_path_create_directory(ffd, "q"), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(ffd);
    EXPECT_LIBC("libc mkdir", mkdir("/sandbox/libc_dir", 0755), 0);
    EXPECT_LIBC("libc mkdir again", mkdir("/sandbox/libc_dir", 0755), EEXIST);

    SECTION("rmdir");
    EXPECT_ERRNO("rmdir non-empty", __wasi_path_remove_directory(SANDBOX_FD, "a"), __WASI_ERRNO_NOTEMPTY);
    EXPECT_ERRNO("rmdir missing", __wasi_path_remove_directory(SANDBOX_FD, "nope"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rmdir a file", __wasi_path_remove_directory(SANDBOX_FD, "file"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("rmdir \".\"", __wasi_path_remove_directory(SANDBOX_FD, "."), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("rmdir \"a/b/..\"", __wasi_path_remove_directory(SANDBOX_FD, "a/b/.."), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("rmdir empty path", __wasi_path_remove_directory(SANDBOX_FD, ""), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rmdir with trailing slash", __wasi_path_remove_directory(SANDBOX_FD, "t/"), __WASI_ERRNO_INVAL);
    EXPECT_OK("rmdir empty dir", __wasi_path_remove_directory(SANDBOX_FD, "t"));
    EXPECT_ERRNO("stat after rmdir", __wasi_path_filestat_get(SANDBOX_FD, F, "t", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rmdir again", __wasi_path_remove_directory(SANDBOX_FD, "t"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rmdir bad fd", __wasi_path_remove_directory(99, "a"), __WASI_ERRNO_BADF);
    EXPECT_LIBC("libc rmdir", rmdir("/sandbox/libc_dir"), 0);
    EXPECT_LIBC("libc rmdir missing", rmdir("/sandbox/libc_dir"), ENOENT);
    /* an open directory can be removed; the fd keeps working for fdstat */
    EXPECT_OK("mkdir gone", __wasi_path_create_directory(SANDBOX_FD, "gone"));
    __wasi_fd_t gfd;
    EXPECT_OK("open gone", open_at(SANDBOX_FD, "gone", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &gfd));
    EXPECT_OK("rmdir open dir", __wasi_path_remove_directory(SANDBOX_FD, "gone"));
    EXPECT_OK("fd_filestat_get on removed dir", __wasi_fd_filestat_get(gfd, &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_ERRNO("create inside removed dir", open_at(gfd, "x", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOENT);
    (void)__wasi_fd_close(gfd);

    SECTION("unlink");
    EXPECT_ERRNO("unlink a dir", __wasi_path_unlink_file(SANDBOX_FD, "a"), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("unlink missing", __wasi_path_unlink_file(SANDBOX_FD, "nope"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("unlink below a file", __wasi_path_unlink_file(SANDBOX_FD, "file/x"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("unlink with trailing slash", __wasi_path_unlink_file(SANDBOX_FD, "file/"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("unlink empty path", __wasi_path_unlink_file(SANDBOX_FD, ""), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("unlink bad fd", __wasi_path_unlink_file(99, "file"), __WASI_ERRNO_BADF);
    EXPECT_OK("unlink file", __wasi_path_unlink_file(SANDBOX_FD, "file"));
    EXPECT_ERRNO("stat after unlink", __wasi_path_filestat_get(SANDBOX_FD, F, "file", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("unlink again", __wasi_path_unlink_file(SANDBOX_FD, "file"), __WASI_ERRNO_NOENT);
    EXPECT_OK("unlink the deep file", __wasi_path_unlink_file(SANDBOX_FD, deep));
    EXPECT_LIBC("libc unlink missing", unlink("/sandbox/none"), ENOENT);
    {
        char path[600] = "/sandbox/";
        strcat(path, deep);
        *strrchr(path, '/') = 0; /* the innermost x directory, now empty */
        EXPECT_LIBC("libc remove() of an empty dir", remove(path), 0);
        EXPECT_LIBC("libc remove() of a non-empty dir", remove("/sandbox/a/b"), ENOTEMPTY);
    }

    SECTION("unlink while open");
    make_file("open.txt", "still here");
    EXPECT_OK("open", open_at(SANDBOX_FD, "open.txt", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("unlink open file", __wasi_path_unlink_file(SANDBOX_FD, "open.txt"));
    EXPECT_ERRNO("path gone", __wasi_path_filestat_get(SANDBOX_FD, F, "open.txt", &st), __WASI_ERRNO_NOENT);
    EXPECT_OK("read through fd", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("content", buf, n, "still here");
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("nlink after unlink", st.nlink, 0);
    EXPECT_U64("size", st.size, 10);
    EXPECT_OK("write through fd", write_all(fd, "!", 1, &n));
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
    __wasi_size_t got;
    EXPECT_OK("pread", __wasi_fd_pread(fd, &iov, 1, 0, &got));
    EXPECT_STR("content", buf, got, "still here!");
    make_file("open.txt", "new file");
    EXPECT_OK("pread old fd again", __wasi_fd_pread(fd, &iov, 1, 0, &got));
    EXPECT_STR("old fd still sees old data", buf, got, "still here!");
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_U64("new file length", slurp("open.txt", buf, sizeof buf), 8);
    return done();
}
