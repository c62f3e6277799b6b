/* path_open flags (CREAT, EXCL, TRUNC, DIRECTORY, fdflags), fd_close, and their errors. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define CREAT __WASI_OFLAGS_CREAT
#define EXCL __WASI_OFLAGS_EXCL
#define TRUNC __WASI_OFLAGS_TRUNC
#define DIR __WASI_OFLAGS_DIRECTORY

int main(void) {
    __wasi_fd_t fd = 0, fd2 = 0;
    char buf[64];
    __wasi_filestat_t st;

    SECTION("create");
    EXPECT_ERRNO("open missing without CREAT", open_at(SANDBOX_FD, "a.txt", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOENT);
    EXPECT_OK("open CREAT", open_at(SANDBOX_FD, "a.txt", F, CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_TRUE("new fd is > 3", fd > 3);
    EXPECT_OK("fd_filestat_get new file", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TYPE("new file type", st.filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT_U64("new file size", st.size, 0);
    EXPECT_U64("new file nlink", st.nlink, 1);
    size_t n;
    EXPECT_OK("write", write_all(fd, "hello world", 11, &n));
    EXPECT_OK("fd_close", __wasi_fd_close(fd));
    EXPECT_ERRNO("fd_close again", __wasi_fd_close(fd), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("write to closed fd", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_close never-opened fd 1234", __wasi_fd_close(1234), __WASI_ERRNO_BADF);

    SECTION("existing");
    EXPECT_OK("open CREAT existing keeps data", open_at(SANDBOX_FD, "a.txt", F, CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("content", buf, n, "hello world");
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_ERRNO("open CREAT|EXCL existing", open_at(SANDBOX_FD, "a.txt", F, CREAT | EXCL, RIGHTS_RW, 0, &fd), __WASI_ERRNO_EXIST);
    EXPECT_TRUE("failed open leaves fd -1", fd == (__wasi_fd_t)-1);
    EXPECT_OK("open CREAT|EXCL new", open_at(SANDBOX_FD, "b.txt", F, CREAT | EXCL, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_ERRNO("open EXCL without CREAT on existing", open_at(SANDBOX_FD, "b.txt", F, EXCL, RIGHTS_RW, 0, &fd), __WASI_ERRNO_SUCCESS);
    if (fd != (__wasi_fd_t)-1) (void)__wasi_fd_close(fd);

    SECTION("truncate");
    EXPECT_OK("open TRUNC", open_at(SANDBOX_FD, "a.txt", F, TRUNC, RIGHTS_RW, 0, &fd));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size after TRUNC", st.size, 0);
    EXPECT_OK("read after TRUNC", read_some(fd, buf, sizeof buf, &n));
    EXPECT_U64("bytes after TRUNC", n, 0);
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_ERRNO("open TRUNC missing", open_at(SANDBOX_FD, "nope.txt", F, TRUNC, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOENT);
    EXPECT_OK("open CREAT|TRUNC missing creates", open_at(SANDBOX_FD, "c.txt", F, CREAT | TRUNC, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));

    SECTION("directories");
    make_dir("d");
    make_file("d/inner.txt", "inner");
    EXPECT_OK("open dir with DIRECTORY", open_at(SANDBOX_FD, "d", F, DIR, RIGHTS_DIR, 0, &fd));
    EXPECT_OK("fd_filestat_get dir", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TYPE("dir type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_OK("open relative to opened dir", open_at(fd, "inner.txt", F, 0, RIGHTS_RW, 0, &fd2));
    EXPECT_OK("read", read_some(fd2, buf, sizeof buf, &n));
    EXPECT_STR("inner content", buf, n, "inner");
    EXPECT_OK("close inner", __wasi_fd_close(fd2));
    EXPECT_OK("create relative to opened dir", open_at(fd, "new.txt", F, CREAT, RIGHTS_RW, 0, &fd2));
    EXPECT_OK("close", __wasi_fd_close(fd2));
    EXPECT_OK("visible from sandbox", __wasi_path_filestat_get(SANDBOX_FD, F, "d/new.txt", &st));
    {
        __wasi_fd_t ffd;
        EXPECT_OK("open a file", open_at(SANDBOX_FD, "a.txt", F, 0, RIGHTS_RW, 0, &ffd));
        EXPECT_ERRNO("path_open with file fd as dir", open_at(ffd, "x", F, 0, RIGHTS_RW, 0, &fd2), __WASI_ERRNO_NOTDIR);
        EXPECT_ERRNO("path_open with stdin as dir", open_at(0, "x", F, 0, RIGHTS_RW, 0, &fd2), __WASI_ERRNO_BADF);
        EXPECT_OK("close", __wasi_fd_close(ffd));
    }
    EXPECT_OK("close dir", __wasi_fd_close(fd));
    EXPECT_OK("open dir without DIRECTORY flag", open_at(SANDBOX_FD, "d", F, 0, RIGHTS_DIR, 0, &fd));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_ERRNO("open file with DIRECTORY", open_at(SANDBOX_FD, "a.txt", F, DIR, RIGHTS_DIR, 0, &fd), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("open missing with DIRECTORY", open_at(SANDBOX_FD, "nodir", F, DIR, RIGHTS_DIR, 0, &fd), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("open CREAT on existing dir", open_at(SANDBOX_FD, "d", F, CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("open CREAT|EXCL on existing dir", open_at(SANDBOX_FD, "d", F, CREAT | EXCL, RIGHTS_RW, 0, &fd), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("open dir TRUNC", open_at(SANDBOX_FD, "d", F, TRUNC, RIGHTS_RW, 0, &fd), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("open dir for writing", open_at(SANDBOX_FD, "d", F, 0, __WASI_RIGHTS_FD_WRITE, 0, &fd), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("open file below a file", open_at(SANDBOX_FD, "a.txt/x", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("create file below a file", open_at(SANDBOX_FD, "a.txt/x", F, CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("create in missing dir", open_at(SANDBOX_FD, "missing/x", F, CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("CREAT|DIRECTORY", open_at(SANDBOX_FD, "newdir", F, CREAT | DIR, RIGHTS_DIR, 0, &fd), __WASI_ERRNO_INVAL);

    SECTION("paths");
    EXPECT_OK("open \".\"", open_at(SANDBOX_FD, ".", F, DIR, RIGHTS_DIR, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_OK("open \"d/../a.txt\"", open_at(SANDBOX_FD, "d/../a.txt", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_OK("open \"./d/./inner.txt\"", open_at(SANDBOX_FD, "./d/./inner.txt", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_OK("open \"d//inner.txt\"", open_at(SANDBOX_FD, "d//inner.txt", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_ERRNO("open empty path", open_at(SANDBOX_FD, "", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("open on bad dir fd", open_at(77, "a.txt", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_BADF);
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = 0;
    EXPECT_ERRNO("create 299-byte name", open_at(SANDBOX_FD, longname, F, CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NAMETOOLONG);
    memset(longname, 'n', 255);
    longname[255] = 0;
    EXPECT_OK("create 255-byte name", open_at(SANDBOX_FD, longname, F, CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_OK("name with spaces and utf-8", open_at(SANDBOX_FD, "sp ace \xc3\xa9.txt", F, CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_OK("stat it", __wasi_path_filestat_get(SANDBOX_FD, F, "sp ace \xc3\xa9.txt", &st));

    SECTION("many fds");
    __wasi_fd_t fds[64];
    int ok = 1;
    for (int i = 0; i < 64; i++) ok &= open_at(SANDBOX_FD, "a.txt", F, 0, RIGHTS_RW, 0, &fds[i]) == 0;
    EXPECT_TRUE("64 opens of one file", ok);
    int distinct = 1;
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < i; j++) distinct &= fds[i] != fds[j];
    EXPECT_TRUE("64 distinct fds", distinct);
    ok = 1;
    for (int i = 0; i < 64; i++) ok &= __wasi_fd_close(fds[i]) == 0;
    EXPECT_TRUE("all closed", ok);

    SECTION("libc");
    int lfd = open("/sandbox/libc.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
    EXPECT_LIBC("open(O_CREAT|O_EXCL)", lfd, 0);
    EXPECT_LIBC("write", write(lfd, "abc", 3), 0);
    EXPECT_LIBC("close", close(lfd), 0);
    EXPECT_LIBC("open(O_CREAT|O_EXCL) again", open("/sandbox/libc.txt", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    EXPECT_LIBC("open missing", open("/sandbox/none", O_RDONLY), ENOENT);
    EXPECT_LIBC("open(O_DIRECTORY) on file", open("/sandbox/libc.txt", O_RDONLY | O_DIRECTORY), ENOTDIR);
    EXPECT_LIBC("open outside any preopen", open("/etc/passwd", O_RDONLY), ENOENT);
    FILE *f = fopen("/sandbox/libc.txt", "r");
    EXPECT_TRUE("fopen r", f != NULL);
    size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
    EXPECT_STR("fread", buf, got, "abc");
    if (f) fclose(f);
    f = fopen("/sandbox/libc.txt", "a");
    if (f) { fputs("def", f); fclose(f); }
    EXPECT_STR("after fopen a", buf, (size_t)(slurp("libc.txt", buf, sizeof buf) > 0 ? slurp("libc.txt", buf, sizeof buf) : 0), "abcdef");
    f = fopen("/sandbox/libc.txt", "w");
    if (f) fclose(f);
    EXPECT_U64("after fopen w", slurp("libc.txt", buf, sizeof buf), 0);
    return done();
}
