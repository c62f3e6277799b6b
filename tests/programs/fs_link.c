/* path_link: hard links, link counts, inode / device relations, data shared between
 * names, linking symlinks with and without the follow flag, and errors. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define LINK(flags, a, b) __wasi_path_link(SANDBOX_FD, (flags), (a), SANDBOX_FD, (b))

int main(void) {
    char buf[64];
    __wasi_filestat_t st;
    __wasi_fd_t fd;
    size_t n;

    SECTION("links");
    make_file("orig", "shared");
    EXPECT_U64("nlink of new file", stat_path("orig", 0).nlink, 1);
    EXPECT_OK("link orig -> l1", LINK(0, "orig", "l1"));
    EXPECT_U64("nlink", stat_path("orig", 0).nlink, 2);
    make_dir("sub");
    EXPECT_OK("link orig -> sub/l2", LINK(0, "orig", "sub/l2"));
    EXPECT_U64("nlink", stat_path("l1", 0).nlink, 3);
    __wasi_filestat_t a = stat_path("orig", 0), b = stat_path("l1", 0), c = stat_path("sub/l2", 0);
    EXPECT_TRUE("ino equal across links", a.ino == b.ino && b.ino == c.ino);
    EXPECT_TRUE("dev equal across links", a.dev == b.dev && b.dev == c.dev);
    EXPECT_TRUE("ino differs from the directory's", a.ino != stat_path("sub", 0).ino);
    EXPECT_OK("open l1", open_at(SANDBOX_FD, "l1", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("fd ino equals path ino", st.ino == a.ino && st.dev == a.dev);
    EXPECT_U64("fd nlink", st.nlink, 3);
    EXPECT_OK("seek end", __wasi_fd_seek(fd, 0, __WASI_WHENCE_END, &(__wasi_filesize_t){0}));
    EXPECT_OK("append via l1", write_all(fd, "+more", 5, &n));
    (void)__wasi_fd_close(fd);
    EXPECT_STR("orig sees it", buf, (size_t)slurp("orig", buf, sizeof buf), "shared+more");
    EXPECT_STR("sub/l2 sees it", buf, (size_t)slurp("sub/l2", buf, sizeof buf), "shared+more");
    EXPECT_OK("unlink orig", __wasi_path_unlink_file(SANDBOX_FD, "orig"));
    EXPECT_U64("nlink", stat_path("l1", 0).nlink, 2);
    EXPECT_STR("l1 keeps data", buf, (size_t)slurp("l1", buf, sizeof buf), "shared+more");
    EXPECT_OK("link back to orig", LINK(0, "sub/l2", "orig"));
    EXPECT_U64("nlink", stat_path("orig", 0).nlink, 3);
    EXPECT_OK("rename l1 -> l3 keeps nlink", __wasi_path_rename(SANDBOX_FD, "l1", SANDBOX_FD, "l3"));
    EXPECT_U64("nlink", stat_path("orig", 0).nlink, 3);
    make_file("other", "o");
    EXPECT_OK("rename other over l3 drops a link", __wasi_path_rename(SANDBOX_FD, "other", SANDBOX_FD, "l3"));
    EXPECT_U64("nlink", stat_path("orig", 0).nlink, 2);

    SECTION("two directory fds");
    __wasi_fd_t sub;
    EXPECT_OK("open sub", open_at(SANDBOX_FD, "sub", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &sub));
    EXPECT_OK("link sandbox:orig -> sub:l4", __wasi_path_link(SANDBOX_FD, 0, "orig", sub, "l4"));
    EXPECT_U64("nlink", stat_path("sub/l4", 0).nlink, 3);
    EXPECT_ERRNO("link bad old fd", __wasi_path_link(99, 0, "orig", sub, "l5"), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("link bad new fd", __wasi_path_link(sub, 0, "l4", 99, "l5"), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(sub);

    SECTION("symlinks");
    EXPECT_OK("symlink s -> orig", __wasi_path_symlink("orig", SANDBOX_FD, "s"));
    EXPECT_OK("link s without follow", LINK(0, "s", "s_hard"));
    EXPECT_TYPE("s_hard is a symlink", stat_path("s_hard", 0).filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    EXPECT_TRUE("s_hard is the same symlink inode", stat_path("s_hard", 0).ino == stat_path("s", 0).ino);
    EXPECT_U64("symlink nlink", stat_path("s", 0).nlink, 2);
    EXPECT_ERRNO("link s with follow", LINK(F, "s", "s_follow"), __WASI_ERRNO_INVAL);

    SECTION("errors");
    EXPECT_ERRNO("link a directory", LINK(0, "sub", "sub2"), __WASI_ERRNO_PERM);
    EXPECT_ERRNO("link missing source", LINK(0, "missing", "x"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("link onto existing file", LINK(0, "orig", "sub/l2"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("link onto existing dir", LINK(0, "orig", "sub"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("link into missing dir", LINK(0, "orig", "nodir/x"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("link below a file", LINK(0, "orig", "orig/x"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("link with trailing slash on target", LINK(0, "orig", "x/"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("link empty source", LINK(0, "", "x"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("link escaping the preopen", LINK(0, "orig", "../x"), __WASI_ERRNO_PERM);
    EXPECT_LIBC("libc link", link("/sandbox/orig", "/sandbox/libc_link"), 0);
    EXPECT_LIBC("libc link existing", link("/sandbox/orig", "/sandbox/libc_link"), EEXIST);
    EXPECT_U64("final nlink", stat_path("orig", 0).nlink, 4);
    return done();
}
