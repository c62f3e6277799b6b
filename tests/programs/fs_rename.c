/* path_rename: files and directories, replacement rules (file over file, dir over empty
 * dir), EISDIR / ENOTDIR / ENOTEMPTY / EINVAL (dir into itself), no-op renames, renames
 * between two directory fds, of open files and of symlinks, trailing slashes, errors. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define REN(a, b) __wasi_path_rename(SANDBOX_FD, (a), SANDBOX_FD, (b))

static int exists(const char *p) {
    __wasi_filestat_t st;
    return __wasi_path_filestat_get(SANDBOX_FD, 0, p, &st) == 0;
}

int main(void) {
    char buf[64];
    __wasi_fd_t fd;
    size_t n;

    SECTION("files");
    make_file("a", "AAA");
    __wasi_filestat_t sa = stat_path("a", 0);
    EXPECT_OK("rename a -> b", REN("a", "b"));
    EXPECT_FALSE("a exists", exists("a"));
    EXPECT_STR("b content", buf, (size_t)slurp("b", buf, sizeof buf), "AAA");
    __wasi_filestat_t sb = stat_path("b", 0);
    EXPECT_TRUE("ino preserved", sa.ino == sb.ino);
    EXPECT_TRUE("dev preserved", sa.dev == sb.dev);
    make_file("c", "CCCCC");
    __wasi_filestat_t sc = stat_path("c", 0);
    EXPECT_OK("rename b -> c (replace file)", REN("b", "c"));
    EXPECT_FALSE("b exists", exists("b"));
    EXPECT_STR("c content", buf, (size_t)slurp("c", buf, sizeof buf), "AAA");
    EXPECT_TRUE("c now has b's ino", stat_path("c", 0).ino == sb.ino && sb.ino != sc.ino);
    EXPECT_OK("rename c -> c (no-op)", REN("c", "c"));
    EXPECT_STR("c content", buf, (size_t)slurp("c", buf, sizeof buf), "AAA");
    EXPECT_ERRNO("rename missing", REN("missing", "x"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rename into missing dir", REN("c", "nodir/x"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rename below a file", REN("c", "c/x"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("rename empty source", REN("", "x"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rename empty target", REN("c", ""), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rename file with trailing slash", REN("c/", "x"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("rename file to trailing slash", REN("c", "x/"), __WASI_ERRNO_NOTDIR);
    EXPECT_TRUE("c still there", exists("c"));

    SECTION("hard links to one inode");
    EXPECT_OK("path_link c -> c2", __wasi_path_link(SANDBOX_FD, 0, "c", SANDBOX_FD, "c2"));
    EXPECT_OK("rename c -> c2 (same inode)", REN("c", "c2"));
    EXPECT_TRUE("c still exists", exists("c"));
    EXPECT_TRUE("c2 still exists", exists("c2"));
    EXPECT_U64("nlink", stat_path("c", 0).nlink, 2);
    EXPECT_OK("unlink c2", __wasi_path_unlink_file(SANDBOX_FD, "c2"));

    SECTION("directories");
    make_dir("d1");
    make_file("d1/f", "in d1");
    make_dir("d1/sub");
    make_dir("empty");
    make_dir("full");
    make_file("full/x", "x");
    EXPECT_ERRNO("rename file over dir", REN("c", "empty"), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("rename dir over file", REN("empty", "c"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("rename dir over non-empty dir", REN("empty", "full"), __WASI_ERRNO_NOTEMPTY);
    EXPECT_ERRNO("rename dir into itself", REN("d1", "d1/sub/d1"), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("rename dir into its child", REN("d1", "d1/new"), __WASI_ERRNO_INVAL);
    EXPECT_OK("rename dir to itself", REN("d1", "d1"));
    __wasi_filestat_t sd = stat_path("d1", 0);
    EXPECT_OK("rename dir over empty dir", REN("d1", "empty"));
    EXPECT_FALSE("d1 exists", exists("d1"));
    EXPECT_TRUE("empty has d1's ino", stat_path("empty", 0).ino == sd.ino);
    EXPECT_STR("moved content", buf, (size_t)slurp("empty/f", buf, sizeof buf), "in d1");
    EXPECT_OK("rename dir with trailing slashes", REN("empty/", "moved/"));
    EXPECT_TRUE("moved exists", exists("moved/sub"));
    EXPECT_OK("rename dir into another dir", REN("moved", "full/moved"));
    EXPECT_STR("deep content", buf, (size_t)slurp("full/moved/f", buf, sizeof buf), "in d1");
    EXPECT_OK("rename dir back up", REN("full/moved/sub", "sub"));
    EXPECT_TRUE("sub exists", exists("sub"));
    EXPECT_ERRNO("rename \".\"", REN(".", "dot"), __WASI_ERRNO_BUSY);
    EXPECT_ERRNO("rename onto \"..\" of a subdir", REN("sub", "full/.."), __WASI_ERRNO_BUSY);
    EXPECT_ERRNO("rename parent into child", REN("full", "full/moved/x"), __WASI_ERRNO_INVAL);

    SECTION("two directory fds");
    __wasi_fd_t d1, d2;
    make_dir("src");
    make_dir("dst");
    make_file("src/f", "moving");
    EXPECT_OK("open src", open_at(SANDBOX_FD, "src", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &d1));
    EXPECT_OK("open dst", open_at(SANDBOX_FD, "dst", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &d2));
    EXPECT_OK("rename across fds", __wasi_path_rename(d1, "f", d2, "g"));
    EXPECT_STR("dst/g", buf, (size_t)slurp("dst/g", buf, sizeof buf), "moving");
    EXPECT_ERRNO("rename bad old fd", __wasi_path_rename(99, "f", d2, "g"), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("rename bad new fd", __wasi_path_rename(d2, "g", 99, "h"), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(d1);
    (void)__wasi_fd_close(d2);

    SECTION("open file");
    make_file("open", "open data");
    EXPECT_OK("open", open_at(SANDBOX_FD, "open", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("rename while open", REN("open", "renamed"));
    EXPECT_OK("read via fd", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("content", buf, n, "open data");
    EXPECT_OK("write via fd", write_all(fd, "+", 1, &n));
    EXPECT_STR("new path sees write", buf, (size_t)slurp("renamed", buf, sizeof buf), "open data+");
    make_file("victim", "victim");
    __wasi_fd_t vfd;
    EXPECT_OK("open victim", open_at(SANDBOX_FD, "victim", F, 0, RIGHTS_RW, 0, &vfd));
    EXPECT_OK("rename over an open file", REN("renamed", "victim"));
    EXPECT_OK("read replaced file via its fd", read_some(vfd, buf, sizeof buf, &n));
    EXPECT_STR("old data still readable", buf, n, "victim");
    __wasi_filestat_t st;
    EXPECT_OK("fd_filestat_get replaced", __wasi_fd_filestat_get(vfd, &st));
    EXPECT_U64("nlink of replaced file", st.nlink, 0);
    (void)__wasi_fd_close(vfd);
    (void)__wasi_fd_close(fd);

    SECTION("symlinks");
    make_file("target", "T");
    EXPECT_OK("symlink", __wasi_path_symlink("target", SANDBOX_FD, "lnk"));
    EXPECT_OK("rename symlink", REN("lnk", "lnk2"));
    EXPECT_TYPE("lnk2 is a symlink", stat_path("lnk2", 0).filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    EXPECT_TRUE("target untouched", exists("target"));
    EXPECT_OK("rename file over symlink", REN("target", "lnk2"));
    EXPECT_TYPE("lnk2 is now a file", stat_path("lnk2", 0).filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT_OK("dangling symlink", __wasi_path_symlink("nowhere", SANDBOX_FD, "dang"));
    EXPECT_OK("rename dangling symlink", REN("dang", "dang2"));
    make_dir("dd");
    EXPECT_OK("symlink to dir", __wasi_path_symlink("dd", SANDBOX_FD, "dlink"));
    EXPECT_ERRNO("rename dir over symlink-to-dir", REN("sub", "dlink"), __WASI_ERRNO_NOTDIR);

    SECTION("libc");
    EXPECT_LIBC("rename()", rename("/sandbox/lnk2", "/sandbox/final"), 0);
    EXPECT_LIBC("rename() missing", rename("/sandbox/lnk2", "/sandbox/final"), ENOENT);
    return done();
}
