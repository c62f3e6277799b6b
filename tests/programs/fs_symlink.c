/* path_symlink, path_readlink, lookup follow flag, ELOOP, dangling links, links to dirs,
 * links in the middle of a path, absolute targets and targets leaving the preopen. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

int main(void) {
    char buf[300];
    __wasi_size_t got;
    __wasi_filestat_t st;
    __wasi_fd_t fd;
    size_t n;

    SECTION("create and read");
    make_file("file", "file data");
    make_dir("dir");
    make_file("dir/inner", "inner data");
    EXPECT_OK("symlink file -> link", __wasi_path_symlink("file", SANDBOX_FD, "link"));
    EXPECT_OK("readlink", __wasi_path_readlink(SANDBOX_FD, "link", (uint8_t *)buf, sizeof buf, &got));
    EXPECT_STR("target", buf, got, "file");
    memset(buf, '#', sizeof buf);
    EXPECT_OK("readlink into 2-byte buffer", __wasi_path_readlink(SANDBOX_FD, "link", (uint8_t *)buf, 2, &got));
    EXPECT_STR("truncated target", buf, got, "fi");
    EXPECT_TRUE("byte after buffer untouched", buf[2] == '#');
    EXPECT_OK("readlink into 0-byte buffer", __wasi_path_readlink(SANDBOX_FD, "link", (uint8_t *)buf, 0, &got));
    EXPECT_U64("bytes", got, 0);
    EXPECT_ERRNO("symlink over existing", __wasi_path_symlink("x", SANDBOX_FD, "file"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("symlink over existing link", __wasi_path_symlink("x", SANDBOX_FD, "link"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("symlink in missing dir", __wasi_path_symlink("x", SANDBOX_FD, "nodir/l"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("symlink below a file", __wasi_path_symlink("x", SANDBOX_FD, "file/l"), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("symlink empty link path", __wasi_path_symlink("x", SANDBOX_FD, ""), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("symlink bad fd", __wasi_path_symlink("x", 99, "l"), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("readlink of a file", __wasi_path_readlink(SANDBOX_FD, "file", (uint8_t *)buf, sizeof buf, &got), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("readlink of a dir", __wasi_path_readlink(SANDBOX_FD, "dir", (uint8_t *)buf, sizeof buf, &got), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("readlink missing", __wasi_path_readlink(SANDBOX_FD, "none", (uint8_t *)buf, sizeof buf, &got), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("readlink bad fd", __wasi_path_readlink(99, "link", (uint8_t *)buf, sizeof buf, &got), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("readlink empty path", __wasi_path_readlink(SANDBOX_FD, "", (uint8_t *)buf, sizeof buf, &got), __WASI_ERRNO_NOENT);
    EXPECT_LIBC("libc readlink", readlink("/sandbox/link", buf, sizeof buf), 0);
    EXPECT_LIBC("libc symlink", symlink("dir/inner", "/sandbox/link2"), 0);

    SECTION("follow flag");
    EXPECT_OK("stat link nofollow", __wasi_path_filestat_get(SANDBOX_FD, 0, "link", &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    EXPECT_U64("symlink size is target length", st.size, 4);
    __wasi_filestat_t lst = st;
    EXPECT_OK("stat link follow", __wasi_path_filestat_get(SANDBOX_FD, F, "link", &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT_U64("size", st.size, 9);
    __wasi_filestat_t fst = stat_path("file", 0);
    EXPECT_TRUE("followed ino equals target ino", st.ino == fst.ino);
    EXPECT_TRUE("link ino differs from target ino", lst.ino != fst.ino);
    EXPECT_TRUE("link and target on same dev", lst.dev == fst.dev);
    EXPECT_OK("open through link (follow)", open_at(SANDBOX_FD, "link", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("data", buf, n, "file data");
    (void)__wasi_fd_close(fd);
    EXPECT_ERRNO("open link without follow", open_at(SANDBOX_FD, "link", 0, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("open link CREAT|EXCL", open_at(SANDBOX_FD, "link", F, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, RIGHTS_RW, 0, &fd), __WASI_ERRNO_EXIST);
    EXPECT_OK("symlink to dir", __wasi_path_symlink("dir", SANDBOX_FD, "dlink"));
    EXPECT_OK("stat through dir link", __wasi_path_filestat_get(SANDBOX_FD, 0, "dlink/inner", &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT_OK("open dir via link", open_at(SANDBOX_FD, "dlink", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &fd));
    (void)__wasi_fd_close(fd);
    EXPECT_ERRNO("open dir link O_DIRECTORY nofollow", open_at(SANDBOX_FD, "dlink", 0, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &fd), __WASI_ERRNO_LOOP);
    EXPECT_OK("stat \"dlink/\" nofollow (trailing slash follows)", __wasi_path_filestat_get(SANDBOX_FD, 0, "dlink/", &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_OK("create through dir link", open_at(SANDBOX_FD, "dlink/new", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    (void)__wasi_fd_close(fd);
    EXPECT_OK("visible in dir", __wasi_path_filestat_get(SANDBOX_FD, 0, "dir/new", &st));
    EXPECT_ERRNO("unlink \"dlink/\"", __wasi_path_unlink_file(SANDBOX_FD, "dlink/"), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("rmdir through symlink", __wasi_path_remove_directory(SANDBOX_FD, "dlink"), __WASI_ERRNO_NOTDIR);
    EXPECT_OK("unlink link removes the link only", __wasi_path_unlink_file(SANDBOX_FD, "dlink"));
    EXPECT_OK("dir still there", __wasi_path_filestat_get(SANDBOX_FD, 0, "dir", &st));
    EXPECT_OK("chained link", __wasi_path_symlink("link", SANDBOX_FD, "chain"));
    EXPECT_OK("stat chain follow", __wasi_path_filestat_get(SANDBOX_FD, F, "chain", &st));
    EXPECT_TRUE("chain resolves to file", st.ino == fst.ino);
    EXPECT_OK("relative target with ..", __wasi_path_symlink("../file", SANDBOX_FD, "dir/up"));
    EXPECT_OK("stat dir/up follow", __wasi_path_filestat_get(SANDBOX_FD, F, "dir/up", &st));
    EXPECT_TRUE("dir/up resolves to file", st.ino == fst.ino);

    SECTION("dangling and loops");
    EXPECT_OK("dangling symlink", __wasi_path_symlink("missing", SANDBOX_FD, "dangling"));
    EXPECT_OK("stat dangling nofollow", __wasi_path_filestat_get(SANDBOX_FD, 0, "dangling", &st));
    EXPECT_ERRNO("stat dangling follow", __wasi_path_filestat_get(SANDBOX_FD, F, "dangling", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("open dangling", open_at(SANDBOX_FD, "dangling", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOENT);
    EXPECT_OK("open dangling CREAT creates target", open_at(SANDBOX_FD, "dangling", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    (void)__wasi_fd_close(fd);
    EXPECT_OK("target now exists", __wasi_path_filestat_get(SANDBOX_FD, 0, "missing", &st));
    EXPECT_OK("self loop", __wasi_path_symlink("self", SANDBOX_FD, "self"));
    EXPECT_ERRNO("stat self loop follow", __wasi_path_filestat_get(SANDBOX_FD, F, "self", &st), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("open self loop", open_at(SANDBOX_FD, "self", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_LOOP);
    EXPECT_OK("loop a -> b", __wasi_path_symlink("loop_b", SANDBOX_FD, "loop_a"));
    EXPECT_OK("loop b -> a", __wasi_path_symlink("loop_a", SANDBOX_FD, "loop_b"));
    EXPECT_ERRNO("stat two-link loop", __wasi_path_filestat_get(SANDBOX_FD, F, "loop_a", &st), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("loop in the middle of a path", __wasi_path_filestat_get(SANDBOX_FD, 0, "loop_a/x", &st), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("create through a loop", open_at(SANDBOX_FD, "loop_a", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_LOOP);
    /* a chain of 30 links resolves (Linux allows 40) */
    char name[32], target[32];
    make_file("c0", "end of chain");
    for (int i = 1; i <= 30; i++) {
        snprintf(name, sizeof name, "c%d", i);
        snprintf(target, sizeof target, "c%d", i - 1);
        (void)__wasi_path_symlink(target, SANDBOX_FD, name);
    }
    EXPECT_STR("30-link chain resolves", buf, (size_t)slurp("c30", buf, sizeof buf), "end of chain");
    EXPECT_OK("link to a file used as a dir", __wasi_path_symlink("file", SANDBOX_FD, "flink"));
    EXPECT_ERRNO("stat flink/x", __wasi_path_filestat_get(SANDBOX_FD, 0, "flink/x", &st), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("stat \"link/\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "link/", &st), __WASI_ERRNO_NOTDIR);

    SECTION("absolute and escaping targets");
    EXPECT_ERRNO("symlink with absolute target", __wasi_path_symlink("/sandbox/file", SANDBOX_FD, "abs"), __WASI_ERRNO_PERM);
    EXPECT_OK("symlink target leaving the preopen", __wasi_path_symlink("../outside", SANDBOX_FD, "esc"));
    EXPECT_OK("readlink it", __wasi_path_readlink(SANDBOX_FD, "esc", (uint8_t *)buf, sizeof buf, &got));
    EXPECT_STR("target", buf, got, "../outside");
    EXPECT_ERRNO("stat escaping link follow", __wasi_path_filestat_get(SANDBOX_FD, F, "esc", &st), __WASI_ERRNO_PERM);
    EXPECT_ERRNO("open escaping link", open_at(SANDBOX_FD, "esc", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_PERM);
    EXPECT_ERRNO("create through escaping link", open_at(SANDBOX_FD, "esc", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_PERM);
    EXPECT_OK("symlink dir/deep -> ../../x", __wasi_path_symlink("../../x", SANDBOX_FD, "dir/deep"));
    EXPECT_ERRNO("stat dir/deep follow", __wasi_path_filestat_get(SANDBOX_FD, F, "dir/deep", &st), __WASI_ERRNO_PERM);
    EXPECT_OK("symlink staying inside via ..", __wasi_path_symlink("../dir/inner", SANDBOX_FD, "dir/in2"));
    EXPECT_STR("dir/in2 resolves", buf, (size_t)slurp("dir/in2", buf, sizeof buf), "inner data");
    EXPECT_OK("stat escaping link nofollow", __wasi_path_filestat_get(SANDBOX_FD, 0, "esc", &st));
    EXPECT_OK("unlink escaping link", __wasi_path_unlink_file(SANDBOX_FD, "esc"));
    return done();
}
