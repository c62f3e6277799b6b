/* fd_readdir: "." and "..", d_type, d_ino vs filestat, d_next cookies (resume, restart,
 * past the end), a buffer too small for the next entry, listing after adds/removes,
 * big directories, libc opendir/readdir/seekdir. Names are sorted before printing because
 * entry order is not specified (wasmtime gives the host's order). */
#include <dirent.h>
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define MAXE 512

struct entry {
    char name[256];
    __wasi_filetype_t type;
    __wasi_inode_t ino;
    __wasi_dircookie_t next;
};

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Parse complete entries of a readdir buffer; returns count, sets *complete_bytes. */
static int parse(const uint8_t *buf, size_t used, struct entry *out, int max, size_t *complete_bytes) {
    size_t off = 0;
    int count = 0;
    while (off + sizeof(__wasi_dirent_t) <= used && count < max) {
        __wasi_dirent_t d;
        memcpy(&d, buf + off, sizeof d);
        if (off + sizeof d + d.d_namlen > used) break;
        memset(&out[count], 0, sizeof out[count]);
        memcpy(out[count].name, buf + off + sizeof d, d.d_namlen < 255 ? d.d_namlen : 255);
        out[count].type = d.d_type;
        out[count].ino = d.d_ino;
        out[count].next = d.d_next;
        count++;
        off += sizeof d + d.d_namlen;
    }
    if (complete_bytes) *complete_bytes = off;
    return count;
}

static uint8_t big[1 << 18];

/* Full listing with a big buffer from cookie 0. */
static int list_all(__wasi_fd_t fd, struct entry *out) {
    __wasi_size_t used = 0;
    if (__wasi_fd_readdir(fd, big, sizeof big, 0, &used)) return -1;
    return parse(big, used, out, MAXE, NULL);
}

/* Listing by following d_next with a buffer of buf_len bytes, growing it when an entry
 * does not fit (the spec's protocol). */
static int list_by_cookies(__wasi_fd_t fd, size_t buf_len, struct entry *out, int *calls) {
    __wasi_dircookie_t cookie = 0;
    int count = 0;
    *calls = 0;
    for (;;) {
        __wasi_size_t used = 0;
        if (__wasi_fd_readdir(fd, big, buf_len, cookie, &used)) return -1;
        (*calls)++;
        size_t complete;
        int k = parse(big, used, out + count, MAXE - count, &complete);
        if (k == 0) {
            if (used < buf_len) break; /* end of directory */
            buf_len *= 2;              /* next entry does not fit: grow */
            continue;
        }
        count += k;
        cookie = out[count - 1].next;
        if (used < buf_len) break;
        if (*calls > 10000) return -2;
    }
    return count;
}

static void print_sorted(const char *label, struct entry *e, int n) {
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    printf("%s (%d):", label, n);
    for (int i = 0; i < n; i++) printf(" %s/%s", e[i].name, filetype_name(e[i].type));
    printf("\n");
}

static int same_names(struct entry *a, int na, struct entry *b, int nb) {
    if (na != nb) return 0;
    qsort(a, (size_t)na, sizeof *a, cmp_entry);
    qsort(b, (size_t)nb, sizeof *b, cmp_entry);
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || a[i].type != b[i].type) return 0;
    return 1;
}

static struct entry e1[MAXE], e2[MAXE];

int main(void) {
    __wasi_fd_t dfd;
    __wasi_size_t used;
    int calls;

    SECTION("empty directory");
    make_dir("d");
    EXPECT_OK("open d", open_at(SANDBOX_FD, "d", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    int n = list_all(dfd, e1);
    print_sorted("entries", e1, n);
    EXPECT_U64("count", n, 2);

    SECTION("populated");
    make_file("d/file.txt", "12345");
    make_dir("d/sub");
    make_file("d/sub/inner", "");
    EXPECT_OK("symlink", __wasi_path_symlink("file.txt", SANDBOX_FD, "d/link"));
    make_file("d/.hidden", "h");
    n = list_all(dfd, e1);
    print_sorted("entries", e1, n);
    EXPECT_U64("count", n, 6);
    int ino_ok = 1, dot_ok = 0, dotdot_ok = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(e1[i].name, ".")) dot_ok = e1[i].type == __WASI_FILETYPE_DIRECTORY;
        if (!strcmp(e1[i].name, "..")) dotdot_ok = e1[i].type == __WASI_FILETYPE_DIRECTORY;
        if (e1[i].name[0] == '.' && (e1[i].name[1] == 0 || e1[i].name[1] == '.')) continue;
        char path[300];
        snprintf(path, sizeof path, "d/%s", e1[i].name);
        __wasi_filestat_t st = stat_path(path, 0);
        ino_ok &= st.ino == e1[i].ino;
    }
    EXPECT_TRUE("\".\" is a directory entry", dot_ok);
    EXPECT_TRUE("\"..\" is a directory entry", dotdot_ok);
    EXPECT_TRUE("d_ino equals path_filestat_get ino", ino_ok);

    SECTION("cookies");
    int m = list_by_cookies(dfd, 4096, e2, &calls);
    EXPECT_TRUE("big-buffer cookie walk equals listing", same_names(e1, n, e2, m));
    m = list_by_cookies(dfd, 48, e2, &calls);
    EXPECT_TRUE("48-byte buffer walk equals listing", same_names(e1, n, e2, m));
    EXPECT_TRUE("48-byte buffer walk needed several calls", calls > 2);
    m = list_by_cookies(dfd, 1, e2, &calls);
    EXPECT_TRUE("1-byte buffer (growing) walk equals listing", same_names(e1, n, e2, m));
    /* resuming at each d_next gives exactly the entries after it */
    n = list_all(dfd, e1); /* unsorted: listing order */
    int resume_ok = 1;
    for (int i = 0; i < n; i++) {
        if (__wasi_fd_readdir(dfd, big, sizeof big, e1[i].next, &used)) { resume_ok = 0; break; }
        int k = parse(big, used, e2, MAXE, NULL);
        if (k != n - i - 1) resume_ok = 0;
        else for (int j = 0; j < k; j++) resume_ok &= strcmp(e2[j].name, e1[i + 1 + j].name) == 0;
    }
    EXPECT_TRUE("resuming at each d_next gives the rest in order", resume_ok);
    EXPECT_OK("readdir at the last d_next", __wasi_fd_readdir(dfd, big, sizeof big, e1[n - 1].next, &used));
    EXPECT_U64("bytes at end", used, 0);
    EXPECT_OK("readdir at cookie 1000000", __wasi_fd_readdir(dfd, big, sizeof big, 1000000, &used));
    EXPECT_U64("bytes past end", used, 0);
    EXPECT_OK("readdir at cookie 0 again", __wasi_fd_readdir(dfd, big, sizeof big, 0, &used));
    EXPECT_TRUE("restart gives the same bytes", parse(big, used, e2, MAXE, NULL) == n);

    SECTION("small buffers");
    uint8_t small[64];
    memset(small, 0xAA, sizeof small);
    EXPECT_OK("readdir 10-byte buffer", __wasi_fd_readdir(dfd, small, 10, 0, &used));
    EXPECT_U64("bufused", used, 10);
    EXPECT_TRUE("bytes past the buffer untouched", small[10] == 0xAA);
    EXPECT_OK("readdir 24-byte buffer", __wasi_fd_readdir(dfd, small, 24, 0, &used));
    EXPECT_U64("bufused", used, 24);
    __wasi_dirent_t d;
    memcpy(&d, small, sizeof d);
    EXPECT_TRUE("header of first entry is complete", d.d_namlen == strlen(e1[0].name) && d.d_next == e1[0].next);
    EXPECT_OK("readdir 0-byte buffer", __wasi_fd_readdir(dfd, small, 0, 0, &used));
    EXPECT_U64("bufused", used, 0);
    size_t first = sizeof(__wasi_dirent_t) + strlen(e1[0].name);
    EXPECT_OK("readdir exactly one entry + 1 byte", __wasi_fd_readdir(dfd, big, first + 1, 0, &used));
    EXPECT_U64("bufused is full (truncated 2nd entry)", used, first + 1);

    SECTION("changes between listings");
    EXPECT_OK("unlink d/.hidden", __wasi_path_unlink_file(SANDBOX_FD, "d/.hidden"));
    make_file("d/added", "a");
    n = list_all(dfd, e1);
    print_sorted("entries", e1, n);
    EXPECT_OK("unlink d/sub/inner", __wasi_path_unlink_file(SANDBOX_FD, "d/sub/inner"));
    EXPECT_OK("rmdir d/sub", __wasi_path_remove_directory(SANDBOX_FD, "d/sub"));
    n = list_all(dfd, e1);
    print_sorted("entries", e1, n);

    SECTION("many entries");
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/entry-%03d-%s", i, i % 2 ? "odd-name-longer" : "e");
        if (i == 0) make_dir("many");
        make_file(name, "");
    }
    __wasi_fd_t mfd;
    EXPECT_OK("open many", open_at(SANDBOX_FD, "many", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &mfd));
    n = list_all(mfd, e1);
    EXPECT_U64("entries incl . and ..", n, 302);
    m = list_by_cookies(mfd, 200, e2, &calls);
    EXPECT_TRUE("200-byte walk equals listing", same_names(e1, n, e2, m));
    int all_files = 1;
    for (int i = 0; i < n; i++)
        if (e1[i].name[0] != '.') all_files &= e1[i].type == __WASI_FILETYPE_REGULAR_FILE;
    EXPECT_TRUE("all regular files", all_files);
    DIR *dir = opendir("/sandbox/many");
    EXPECT_TRUE("opendir", dir != NULL);
    int count = 0;
    long mid = -1;
    char mid_name[256] = "";
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL) {
        if (++count == 150) {
            mid = telldir(dir);
            de = readdir(dir);
            count++;
            if (de) snprintf(mid_name, sizeof mid_name, "%s", de->d_name);
        }
    }
    EXPECT_U64("libc readdir count", count, 302);
    if (dir) {
        seekdir(dir, mid);
        de = readdir(dir);
        EXPECT_TRUE("seekdir(telldir()) returns to the same entry", de && !strcmp(de->d_name, mid_name));
        rewinddir(dir);
        count = 0;
        while (readdir(dir)) count++;
        EXPECT_U64("count after rewinddir", count, 302);
        closedir(dir);
    }
    char longname[300] = "many/";
    memset(longname + 5, 'L', 255);
    longname[260] = 0;
    make_file(longname, "");
    n = list_all(mfd, e1);
    int found_long = 0;
    for (int i = 0; i < n; i++) found_long |= strlen(e1[i].name) == 255;
    EXPECT_TRUE("255-byte name listed", found_long);
    (void)__wasi_fd_close(mfd);

    SECTION("errors");
    EXPECT_ERRNO("readdir bad fd", __wasi_fd_readdir(99, big, sizeof big, 0, &used), __WASI_ERRNO_BADF);
    __wasi_fd_t ffd;
    EXPECT_OK("open file", open_at(SANDBOX_FD, "d/file.txt", F, 0, RIGHTS_RW, 0, &ffd));
    EXPECT_ERRNO("readdir on a file", __wasi_fd_readdir(ffd, big, sizeof big, 0, &used), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(ffd);
    EXPECT_ERRNO("readdir on stdout", __wasi_fd_readdir(1, big, sizeof big, 0, &used), __WASI_ERRNO_BADF);
    EXPECT_TRUE("opendir on a file fails", opendir("/sandbox/d/file.txt") == NULL);
    EXPECT_TRUE("opendir on missing fails", opendir("/sandbox/none") == NULL);
    (void)__wasi_fd_close(dfd);
    EXPECT_OK("readdir of the preopen", __wasi_fd_readdir(SANDBOX_FD, big, sizeof big, 0, &used));
    n = parse(big, used, e1, MAXE, NULL);
    print_sorted("sandbox", e1, n);
    return done();
}
