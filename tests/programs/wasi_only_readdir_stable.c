/* wasi.wasm only: fd_readdir cookies stay valid while entries are created and removed
 * between calls. Reading one entry per call and changing the directory after every call,
 * every entry that exists for the whole listing is returned exactly once, and no removed
 * entry that was not yet listed appears after its removal. (wasmtime's cookies are
 * positions in the host directory, so this can repeat or skip names there.) */
#include "wasi_test.h"

#define NSTART 60

static uint8_t buf[4096];

int main(void) {
    char name[64];
    make_dir("d");
    for (int i = 0; i < NSTART; i++) {
        snprintf(name, sizeof name, "d/keep-%02d", i);
        make_file(name, "");
        snprintf(name, sizeof name, "d/gone-%02d", i);
        make_file(name, "");
    }
    __wasi_fd_t dfd;
    EXPECT_OK("open d", open_at(SANDBOX_FD, "d", 0, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    int seen_keep[NSTART] = {0}, seen_gone_after_removal = 0, seen_new = 0, dots = 0, calls = 0;
    int removed[NSTART] = {0};
    int next_new = 0, next_gone = NSTART - 1;
    __wasi_dircookie_t cookie = 0;
    int ok = 1;
    for (;;) {
        __wasi_size_t used = 0;
        /* a buffer that holds exactly one header + a short name, so one entry per call */
        if (__wasi_fd_readdir(dfd, buf, sizeof(__wasi_dirent_t) + 7, cookie, &used)) { ok = 0; break; }
        if (++calls > 1000) { ok = 0; break; }
        if (used < sizeof(__wasi_dirent_t)) break; /* end */
        __wasi_dirent_t d;
        memcpy(&d, buf, sizeof d);
        char entry[256] = {0};
        if (d.d_namlen > 7) {
            /* truncated: read it again with room for the whole name */
            if (__wasi_fd_readdir(dfd, buf, sizeof buf, cookie, &used) || used < sizeof d + d.d_namlen) { ok = 0; break; }
        }
        memcpy(entry, buf + sizeof d, d.d_namlen < 255 ? d.d_namlen : 255);
        cookie = d.d_next;
        int k;
        if (!strcmp(entry, ".") || !strcmp(entry, "..")) dots++;
        else if (sscanf(entry, "keep-%d", &k) == 1 && k >= 0 && k < NSTART) seen_keep[k]++;
        else if (sscanf(entry, "gone-%d", &k) == 1 && k >= 0 && k < NSTART) seen_gone_after_removal += removed[k];
        else if (!strncmp(entry, "new-", 4)) seen_new++;
        /* mutate (a bounded number of times): add a new entry and remove a "gone" entry
         * that has not been removed yet */
        if (next_new < NSTART) {
            snprintf(name, sizeof name, "d/new-%03d", next_new++);
            make_file(name, "");
        }
        if (next_gone >= 0) {
            snprintf(name, sizeof name, "d/gone-%02d", next_gone);
            if (__wasi_path_unlink_file(SANDBOX_FD, name)) ok = 0;
            removed[next_gone--] = 1;
        }
        if (used < sizeof(__wasi_dirent_t) + 7 && d.d_namlen <= 7) break;
    }
    EXPECT_TRUE("listing completed without errors", ok);
    int once = 1;
    for (int i = 0; i < NSTART; i++) once &= seen_keep[i] == 1;
    EXPECT_TRUE("every kept entry listed exactly once", once);
    EXPECT_U64("removed entries listed after their removal", seen_gone_after_removal, 0);
    EXPECT_U64("\".\" and \"..\" listed", dots, 2);
    EXPECT_TRUE("entries created during the listing listed at most once", seen_new <= NSTART);
    (void)__wasi_fd_close(dfd);
    return done();
}
