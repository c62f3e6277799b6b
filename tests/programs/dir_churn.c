/* Names coming and going in one directory many times over: creates and unlinks, renames
 * away and back, a subdirectory made and removed, then listings (libc's and fd_readdir one
 * entry a call) and removal of everything. The names that stay are listed once each, keep
 * their bytes, and every call succeeds. Run under wasi.wasm with directories starting near
 * the end of their 32-bit entry numbers (tests/test_dir_numbers.py), the churn crosses the
 * point where the numbers start again (dev/vfs/dir.c, renumber). */
#include <dirent.h>
#include <sys/stat.h>
#include "wasi_test.h"

#define KEEP 5
#define ROUNDS 300

static int churn_errors;

static void count(int failed) { churn_errors += failed != 0; }

static void name_of(char *out, size_t size, const char *dir, const char *stem, int i) {
    snprintf(out, size, "%s/%s-%d", dir, stem, i);
}

static int file_has(const char *path, const char *want) {
    char got[32] = { 0 };
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, got, sizeof got - 1);
    close(fd);
    return n == (ssize_t)strlen(want) && memcmp(got, want, (size_t)n) == 0;
}

static void churn(const char *dir) {
    char a[64], b[64], sub[64], temp[64];
    snprintf(temp, sizeof temp, "%s/t", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    for (int i = 0; i < ROUNDS; i++) {
        int fd = open(temp, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        count(fd < 0);
        if (fd >= 0) {
            count(write(fd, "x", 1) != 1);
            count(close(fd));
        }
        count(unlink(temp));
        if (i % 10 == 0) {
            name_of(a, sizeof a, dir, "keep", i / 10 % KEEP);
            name_of(b, sizeof b, dir, "moved", i / 10 % KEEP);
            count(rename(a, b));
            count(rename(b, a));
        }
        if (i % 25 == 0) {
            count(mkdir(sub, 0755));
            count(rmdir(sub));
        }
    }
}

/* libc's listing: each kept name once, nothing else but "." and "..". */
static void check_listing(const char *dir) {
    int seen[KEEP] = { 0 }, others = 0, k;
    DIR *d = opendir(dir);
    EXPECT_TRUE("opendir", d != NULL);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (sscanf(e->d_name, "keep-%d", &k) == 1 && k >= 0 && k < KEEP) seen[k]++;
        else if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) others++;
    }
    closedir(d);
    int once = 1;
    for (int i = 0; i < KEEP; i++) once &= seen[i] == 1;
    EXPECT_TRUE("kept names listed once each", once);
    EXPECT_U64("other names listed", others, 0);
}

/* fd_readdir with a buffer for one entry, resuming at each cookie. */
static void check_cookies(const char *dir) {
    __wasi_fd_t fd;
    EXPECT_OK("open for fd_readdir", open_at(SANDBOX_FD, dir + strlen("/sandbox/"), 0, __WASI_OFLAGS_DIRECTORY,
                                              RIGHTS_DIR, 0, &fd));
    uint8_t buf[sizeof(__wasi_dirent_t) + 16];
    __wasi_dircookie_t cookie = 0;
    int entries = 0, calls = 0;
    for (;;) {
        __wasi_size_t used = 0;
        if (__wasi_fd_readdir(fd, buf, sizeof buf, cookie, &used) || ++calls > 100) break;
        if (used < sizeof(__wasi_dirent_t)) break;
        __wasi_dirent_t d;
        memcpy(&d, buf, sizeof d);
        entries++;
        cookie = d.d_next;
    }
    EXPECT_U64("entries listed one a call", entries, KEEP + 2);
    EXPECT_OK("close", __wasi_fd_close(fd));
}

static void run_in(const char *dir) {
    char path[64], content[16];
    SECTION(dir);
    EXPECT_LIBC("mkdir", mkdir(dir, 0755), 0);
    for (int i = 0; i < KEEP; i++) {
        name_of(path, sizeof path, dir, "keep", i);
        snprintf(content, sizeof content, "k%d", i);
        make_file(path + strlen("/sandbox/"), content);
    }
    churn(dir);
    EXPECT_U64("failed calls in the churn", churn_errors, 0);
    check_listing(dir);
    check_cookies(dir);
    int intact = 1;
    for (int i = 0; i < KEEP; i++) {
        name_of(path, sizeof path, dir, "keep", i);
        snprintf(content, sizeof content, "k%d", i);
        intact &= file_has(path, content);
        count(unlink(path));
    }
    EXPECT_TRUE("kept files hold their bytes", intact);
    EXPECT_U64("failed unlinks of the kept files", churn_errors, 0);
    EXPECT_LIBC("rmdir the emptied directory", rmdir(dir), 0);
}

int main(void) {
    run_in("/sandbox/one");
    run_in("/sandbox/two");
    return done();
}
