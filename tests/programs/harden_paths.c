/* Paths that are not valid strings: an embedded NUL byte and invalid UTF-8 (a lone
 * continuation byte, a truncated sequence, an overlong encoding, an encoded surrogate, a code
 * point above U+10FFFF) given to every path_* function, as the link path, as a symlink's
 * target and as the old or new name of rename / link. The errnos are wasmtime's (EINVAL for
 * NUL, EILSEQ for invalid UTF-8); nothing is created, and valid non-ASCII names work. */
#include "wasi_test.h"
#include "wasi_raw.h"

#define INVAL __WASI_ERRNO_INVAL
#define ILSEQ __WASI_ERRNO_ILSEQ

struct bad_name {
    const char *label;
    const char *bytes;
    i32 len;
    int want;
};

static const struct bad_name names[] = {
    {"NUL inside", "a\0b", 3, INVAL},
    {"NUL at the end", "ab\0", 3, INVAL},
    {"NUL in a directory component", "d\0/x", 4, INVAL},
    {"lone continuation byte", "\x80" "a", 2, ILSEQ},
    {"0xff byte", "a\xff", 2, ILSEQ},
    {"truncated sequence", "a\xc3", 2, ILSEQ},
    {"overlong '/'", "\xc0\xaf" "x", 3, ILSEQ},
    {"encoded surrogate", "\xed\xa0\x80", 3, ILSEQ},
    {"above U+10FFFF", "\xf4\x90\x80\x80", 4, ILSEQ},
    {"invalid byte in a directory component", "d\xfe/x", 4, ILSEQ},
};

#define COUNT (sizeof names / sizeof *names)

static void check(const char *what, const struct bad_name *n, i32 got) {
    char label[128];
    snprintf(label, sizeof label, "%s, %s", what, n->label);
    EXPECT_ERRNO(label, (__wasi_errno_t)got, n->want);
}

int main(void) {
    char buf[64];
    i32 out[16];
    make_file("f", "data");
    make_dir("d");
    EXPECT_OK("symlink l -> f", __wasi_path_symlink("f", SANDBOX_FD, "l"));

    for (size_t i = 0; i < COUNT; i++) {
        const struct bad_name *n = &names[i];
        i32 p = P(n->bytes);
        SECTION(n->label);
        check("path_open", n, raw_path_open(SANDBOX_FD, 0, p, n->len, 0, (i64)RIGHTS_RW, 0, 0, P(out)));
        check("path_open CREAT", n, raw_path_open(SANDBOX_FD, 0, p, n->len, __WASI_OFLAGS_CREAT, (i64)RIGHTS_RW, 0, 0, P(out)));
        check("path_create_directory", n, raw_path_create_directory(SANDBOX_FD, p, n->len));
        check("path_filestat_get", n, raw_path_filestat_get(SANDBOX_FD, 0, p, n->len, P(buf)));
        check("path_filestat_set_times", n, raw_path_filestat_set_times(SANDBOX_FD, 0, p, n->len, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
        check("path_readlink", n, raw_path_readlink(SANDBOX_FD, p, n->len, P(buf), sizeof buf, P(out)));
        check("path_remove_directory", n, raw_path_remove_directory(SANDBOX_FD, p, n->len));
        check("path_unlink_file", n, raw_path_unlink_file(SANDBOX_FD, p, n->len));
        check("path_rename old", n, raw_path_rename(SANDBOX_FD, p, n->len, SANDBOX_FD, P("new"), 3));
        check("path_rename new", n, raw_path_rename(SANDBOX_FD, P("f"), 1, SANDBOX_FD, p, n->len));
        check("path_link old", n, raw_path_link(SANDBOX_FD, 0, p, n->len, SANDBOX_FD, P("new"), 3));
        check("path_link new", n, raw_path_link(SANDBOX_FD, 0, P("f"), 1, SANDBOX_FD, p, n->len));
        check("path_symlink link path", n, raw_path_symlink(P("f"), 1, SANDBOX_FD, p, n->len));
        check("path_symlink target", n, raw_path_symlink(p, n->len, SANDBOX_FD, P("new"), 3));
    }

    SECTION("nothing was created or changed");
    __wasi_filestat_t st;
    EXPECT_ERRNO("new does not exist", __wasi_path_filestat_get(SANDBOX_FD, 0, "new", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("a does not exist", __wasi_path_filestat_get(SANDBOX_FD, 0, "a", &st), __WASI_ERRNO_NOENT);
    long len = slurp("f", buf, sizeof buf);
    EXPECT_STR("f unchanged", buf, len < 0 ? 0 : (size_t)len, "data");
    __wasi_size_t used = 0;
    EXPECT_OK("readlink l", __wasi_path_readlink(SANDBOX_FD, "l", (uint8_t *)buf, sizeof buf, &used));
    EXPECT_STR("l -> f", buf, used, "f");

    SECTION("valid non-ASCII names work");
    const char *nice = "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80";
    __wasi_fd_t fd;
    EXPECT_OK("create", open_at(SANDBOX_FD, nice, 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("close", __wasi_fd_close(fd));
    EXPECT_OK("stat", __wasi_path_filestat_get(SANDBOX_FD, 0, nice, &st));
    EXPECT_OK("symlink to it", __wasi_path_symlink(nice, SANDBOX_FD, "ln"));
    EXPECT_OK("readlink", __wasi_path_readlink(SANDBOX_FD, "ln", (uint8_t *)buf, sizeof buf, &used));
    EXPECT_STR("target", buf, used, nice);
    EXPECT_OK("unlink", __wasi_path_unlink_file(SANDBOX_FD, nice));
    return done();
}
