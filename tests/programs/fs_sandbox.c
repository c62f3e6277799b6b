/* Path resolution: `..` and symlinks cannot leave the directory fd a path is resolved
 * against (EPERM, as wasmtime), absolute paths, `.`/`..`/`//` components, trailing
 * slashes on files and directories, for every path_* function. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define PERM __WASI_ERRNO_PERM

int main(void) {
    __wasi_filestat_t st;
    __wasi_fd_t fd, dfd;
    char buf[64];
    __wasi_size_t got;

    make_dir("d");
    make_dir("d/e");
    make_file("f", "top");
    make_file("d/g", "in d");

    SECTION("dot-dot escapes");
    EXPECT_ERRNO("stat \"..\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "..", &st), PERM);
    EXPECT_ERRNO("stat \"../sandbox\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "../sandbox", &st), PERM);
    EXPECT_ERRNO("stat \"d/../..\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/../..", &st), PERM);
    EXPECT_ERRNO("stat \"d/e/../../../f\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/e/../../../f", &st), PERM);
    EXPECT_OK("stat \"d/e/../../f\" (stays inside)", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/e/../../f", &st));
    EXPECT_ERRNO("open \"../x\" CREAT", open_at(SANDBOX_FD, "../x", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), PERM);
    EXPECT_ERRNO("mkdir \"../x\"", __wasi_path_create_directory(SANDBOX_FD, "../x"), PERM);
    EXPECT_ERRNO("rmdir \"../sandbox\"", __wasi_path_remove_directory(SANDBOX_FD, "../sandbox"), PERM);
    EXPECT_ERRNO("unlink \"../f\"", __wasi_path_unlink_file(SANDBOX_FD, "../f"), PERM);
    EXPECT_ERRNO("rename f -> \"../f\"", __wasi_path_rename(SANDBOX_FD, "f", SANDBOX_FD, "../f"), PERM);
    EXPECT_ERRNO("rename \"../x\" -> f", __wasi_path_rename(SANDBOX_FD, "../x", SANDBOX_FD, "f"), PERM);
    EXPECT_ERRNO("symlink at \"../l\"", __wasi_path_symlink("f", SANDBOX_FD, "../l"), PERM);
    EXPECT_ERRNO("readlink \"../l\"", __wasi_path_readlink(SANDBOX_FD, "../l", (uint8_t *)buf, sizeof buf, &got), PERM);
    EXPECT_ERRNO("set_times \"..\"", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "..", 0, 0, __WASI_FSTFLAGS_ATIM_NOW), PERM);
    EXPECT_TRUE("f untouched", slurp("f", buf, sizeof buf) == 3);

    SECTION("absolute paths");
    EXPECT_ERRNO("stat \"/\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "/", &st), PERM);
    EXPECT_ERRNO("stat \"/sandbox/f\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "/sandbox/f", &st), PERM);
    EXPECT_ERRNO("open \"/f\"", open_at(SANDBOX_FD, "/f", F, 0, RIGHTS_RW, 0, &fd), PERM);
    EXPECT_ERRNO("mkdir \"/x\"", __wasi_path_create_directory(SANDBOX_FD, "/x"), PERM);
    EXPECT_LIBC("libc stat(\"/sandbox/f\") maps to the preopen", open("/sandbox/f", O_RDONLY), 0);
    EXPECT_LIBC("libc open(\"/sandbox/../etc\")", open("/sandbox/../etc", O_RDONLY), EPERM);

    SECTION("sub-directory fd is its own root");
    EXPECT_OK("open d", open_at(SANDBOX_FD, "d", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    EXPECT_OK("stat \"g\" via d", __wasi_path_filestat_get(dfd, 0, "g", &st));
    EXPECT_OK("stat \"e/..\" via d", __wasi_path_filestat_get(dfd, 0, "e/..", &st));
    EXPECT_ERRNO("stat \"..\" via d", __wasi_path_filestat_get(dfd, 0, "..", &st), PERM);
    EXPECT_ERRNO("open \"../f\" via d", open_at(dfd, "../f", F, 0, RIGHTS_RW, 0, &fd), PERM);
    EXPECT_OK("symlink d/up -> ../f", __wasi_path_symlink("../f", SANDBOX_FD, "d/up"));
    EXPECT_OK("d/up via sandbox resolves", __wasi_path_filestat_get(SANDBOX_FD, F, "d/up", &st));
    EXPECT_ERRNO("d/up via d escapes", __wasi_path_filestat_get(dfd, F, "up", &st), PERM);
    EXPECT_OK("d/up via d nofollow is fine", __wasi_path_filestat_get(dfd, 0, "up", &st));
    (void)__wasi_fd_close(dfd);

    SECTION("symlink escapes");
    EXPECT_OK("symlink out -> ..", __wasi_path_symlink("..", SANDBOX_FD, "out"));
    EXPECT_ERRNO("stat out follow", __wasi_path_filestat_get(SANDBOX_FD, F, "out", &st), PERM);
    EXPECT_ERRNO("stat out/sandbox", __wasi_path_filestat_get(SANDBOX_FD, 0, "out/sandbox", &st), PERM);
    EXPECT_ERRNO("create out/x", open_at(SANDBOX_FD, "out/x", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), PERM);
    EXPECT_ERRNO("mkdir out/x", __wasi_path_create_directory(SANDBOX_FD, "out/x"), PERM);
    EXPECT_OK("symlink dot -> .", __wasi_path_symlink(".", SANDBOX_FD, "dot"));
    EXPECT_OK("stat dot/dot/dot/f", __wasi_path_filestat_get(SANDBOX_FD, F, "dot/dot/dot/f", &st));
    EXPECT_OK("symlink back -> d/..", __wasi_path_symlink("d/..", SANDBOX_FD, "back"));
    EXPECT_OK("stat back/f", __wasi_path_filestat_get(SANDBOX_FD, 0, "back/f", &st));

    SECTION("odd components");
    EXPECT_OK("stat \"./f\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "./f", &st));
    EXPECT_OK("stat \"d/./g\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/./g", &st));
    EXPECT_OK("stat \"d//g\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d//g", &st));
    EXPECT_OK("stat \"d/e/..//./g\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/e/..//./g", &st));
    EXPECT_ERRNO("stat \"f/.\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "f/.", &st), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("stat \"f/..\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "f/..", &st), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("stat \"missing/..\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "missing/..", &st), __WASI_ERRNO_NOENT);

    SECTION("trailing slashes");
    EXPECT_OK("stat \"d/\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/", &st));
    EXPECT_OK("stat \"d//\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d//", &st));
    EXPECT_ERRNO("stat \"f/\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "f/", &st), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("stat \"missing/\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "missing/", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("open \"f/\"", open_at(SANDBOX_FD, "f/", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOTDIR);
    EXPECT_OK("open \"d/\"", open_at(SANDBOX_FD, "d/", F, 0, RIGHTS_DIR, 0, &fd));
    (void)__wasi_fd_close(fd);
    EXPECT_ERRNO("create \"new/\"", open_at(SANDBOX_FD, "new/", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("new was not created", __wasi_path_filestat_get(SANDBOX_FD, 0, "new", &st), __WASI_ERRNO_NOENT);
    EXPECT_OK("mkdir \"m//\"", __wasi_path_create_directory(SANDBOX_FD, "m//"));
    EXPECT_ERRNO("rmdir \"m/\"", __wasi_path_remove_directory(SANDBOX_FD, "m/"), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("symlink at \"s/\"", __wasi_path_symlink("f", SANDBOX_FD, "s/"), __WASI_ERRNO_NOENT);
    EXPECT_OK("symlink to a target with trailing slash", __wasi_path_symlink("d/", SANDBOX_FD, "ds"));
    EXPECT_OK("stat ds follow", __wasi_path_filestat_get(SANDBOX_FD, F, "ds", &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_OK("symlink fs -> \"f/\"", __wasi_path_symlink("f/", SANDBOX_FD, "fs"));
    EXPECT_ERRNO("stat fs follow", __wasi_path_filestat_get(SANDBOX_FD, F, "fs", &st), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("readlink \"ds/\"", __wasi_path_readlink(SANDBOX_FD, "ds/", (uint8_t *)buf, sizeof buf, &got), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("set_times \"f/\"", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "f/", 0, 0, __WASI_FSTFLAGS_ATIM_NOW), __WASI_ERRNO_NOTDIR);

    SECTION("non-directory base fds");
    /* wasmtime: path_open through a file fd gives ENOTDIR (fs_open.c), other path_* EBADF */
    EXPECT_OK("open f", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_ERRNO("path_filestat_get via a file fd", __wasi_path_filestat_get(fd, 0, "x", &st), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("path_unlink_file via a file fd", __wasi_path_unlink_file(fd, "x"), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("path_symlink via a file fd", __wasi_path_symlink("f", fd, "x"), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    EXPECT_ERRNO("path_filestat_get via stdout", __wasi_path_filestat_get(1, 0, "x", &st), __WASI_ERRNO_BADF);
    return done();
}
