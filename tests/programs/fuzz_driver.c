/* Executes a sequence of filesystem operations read from stdin, one per line, and prints one
 * result line per operation: the errno name ("OK" on success) followed by the operation's
 * result, if any. Used by tests/test_fuzz_ops.py and tools/fuzz.py to compare wasi.wasm with
 * wasmtime's WASI and with tests/fs_model.py step by step.
 *
 * Line format: an operation name and space-separated arguments. S and T are fd slots
 * (0..7; an empty slot stands for a closed fd number, 100 + slot); B is a base directory for
 * a path: "." for the preopen (fd 3) or a slot number. "=" stands for an empty path or data.
 * Numbers are decimal (negative allowed for seek offsets); DATA is hex.
 *
 *   open S B PATH OFLAGS RIGHTS FDFLAGS LOOKUP [INHERITING]
 *                                                -> OK          (slot S gets the fd; the
 *                                                   inheriting rights default to RIGHTS)
 *   close S | tell S | sync S                    -> OK [pos]
 *   read S N | pread S N OFF                     -> OK hexbytes
 *   write S DATA | pwrite S DATA OFF             -> OK count
 *   seek S OFF WHENCE                            -> OK newpos
 *   trunc S SIZE | alloc S OFF LEN | fdflags S FLAGS
 *   fstat S | stat B PATH FOLLOW                 -> OK type size nlink  (size: files and
 *                                                   symlinks only; nlink: non-directories)
 *   mkdir B PATH | rmdir B PATH | unlink B PATH
 *   rename B PATH B2 PATH2 | link B PATH B2 PATH2 FOLLOW | symlink TARGET B PATH
 *   readlink B PATH                              -> OK target
 *   readdir S                                    -> OK name:type ... (sorted, with . and ..)
 *   settimes B PATH FOLLOW ATIM MTIM FLAGS | fsettimes S ATIM MTIM FLAGS
 *   renumber S T                                 (on success T holds the fd, S is empty)
 *   tree                                         -> the whole tree below the preopen, one
 *                                                   line per entry, sorted
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

#include "wasi_test.h" /* errname: the one errno-name table of the test programs */

#define PREOPEN 3
#define SLOTS 8
#define MAX_LINE 8192
#define MAX_DATA 4096

static int slot_fd[SLOTS];
static uint8_t data[MAX_DATA];
static uint8_t readbuf[MAX_DATA];
static char *tok[12];
static int ntok;

static void fail(const char *why) {
    printf("BADLINE %s\n", why);
    fflush(stdout);
    exit(2);
}

static long long num(int i) {
    if (i >= ntok) fail("missing number");
    char *end;
    long long v = strtoll(tok[i], &end, 10);
    if (*end) fail("bad number");
    return v;
}

static const char *path(int i) {
    if (i >= ntok) fail("missing path");
    return strcmp(tok[i], "=") == 0 ? "" : tok[i];
}

static int slot(int i) {
    long long s = num(i);
    if (s < 0 || s >= SLOTS) fail("bad slot");
    return (int)s;
}

static __wasi_fd_t slot_value(int s) { return slot_fd[s] >= 0 ? (__wasi_fd_t)slot_fd[s] : (__wasi_fd_t)(100 + s); }
static __wasi_fd_t fd_of(int i) { return slot_value(slot(i)); }

static __wasi_fd_t base(int i) {
    if (i >= ntok) fail("missing base");
    return strcmp(tok[i], ".") == 0 ? PREOPEN : fd_of(i);
}

static size_t hexdata(int i) {
    if (i >= ntok) fail("missing data");
    const char *s = tok[i];
    if (strcmp(s, "=") == 0) return 0;
    size_t n = strlen(s) / 2;
    if (n > MAX_DATA) fail("data too long");
    for (size_t k = 0; k < n; k++) {
        unsigned v;
        if (sscanf(s + 2 * k, "%2x", &v) != 1) fail("bad hex");
        data[k] = (uint8_t)v;
    }
    return n;
}

static void print_hex(const uint8_t *p, size_t n) {
    for (size_t k = 0; k < n; k++) printf("%02x", p[k]);
}

static const char *type_name(__wasi_filetype_t t) {
    switch (t) {
    case __WASI_FILETYPE_DIRECTORY: return "dir";
    case __WASI_FILETYPE_REGULAR_FILE: return "file";
    case __WASI_FILETYPE_SYMBOLIC_LINK: return "symlink";
    case __WASI_FILETYPE_CHARACTER_DEVICE: return "chr";
    default: return "other";
    }
}

static void print_stat(const __wasi_filestat_t *st) {
    printf(" %s", type_name(st->filetype));
    if (st->filetype != __WASI_FILETYPE_DIRECTORY)
        printf(" size=%llu nlink=%llu", (unsigned long long)st->size, (unsigned long long)st->nlink);
}

/* One whole listing of a directory fd into names[] ("name:type"), sorted. */
#define MAX_ENTRIES 256
static char names[MAX_ENTRIES][300];
static int nnames;
static uint8_t dirbuf[65536];

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

static __wasi_errno_t list_dir(__wasi_fd_t fd) {
    nnames = 0;
    __wasi_dircookie_t cookie = 0;
    for (;;) {
        __wasi_size_t used = 0;
        __wasi_errno_t e = __wasi_fd_readdir(fd, dirbuf, sizeof dirbuf, cookie, &used);
        if (e) return e;
        size_t pos = 0;
        while (pos + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t d;
            memcpy(&d, dirbuf + pos, sizeof d);
            size_t end = pos + sizeof d + d.d_namlen;
            if (end > used) break;
            if (nnames < MAX_ENTRIES && d.d_namlen < 250) {
                snprintf(names[nnames], sizeof names[nnames], "%.*s:%s", (int)d.d_namlen,
                         (const char *)dirbuf + pos + sizeof d, type_name(d.d_type));
                nnames++;
            }
            cookie = d.d_next;
            pos = end;
        }
        if (used < sizeof dirbuf) break;
    }
    qsort(names, (size_t)nnames, sizeof names[0], cmp_names);
    return 0;
}

#define DIR_RIGHTS (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN | \
                    __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_PATH_FILESTAT_GET |          \
                    __WASI_RIGHTS_PATH_READLINK)

static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h) {
    for (size_t k = 0; k < n; k++) h = (h ^ p[k]) * 0x100000001b3ULL;
    return h;
}

/* Depth-first dump of the tree below dirfd; prefix is the path so far. */
static void dump_tree(__wasi_fd_t dirfd, const char *prefix, int depth) {
    if (depth > 8) return;
    if (list_dir(dirfd)) {
        printf("tree %s: unreadable\n", prefix);
        return;
    }
    int count = nnames;
    char (*mine)[300] = malloc(sizeof(names[0]) * (size_t)(count ? count : 1));
    memcpy(mine, names, sizeof(names[0]) * (size_t)count);
    for (int i = 0; i < count; i++) {
        char *colon = strrchr(mine[i], ':');
        *colon = 0;
        const char *name = mine[i];
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        char full[1024];
        snprintf(full, sizeof full, "%s%s", prefix, name);
        __wasi_filestat_t st;
        __wasi_errno_t e = __wasi_path_filestat_get(dirfd, 0, name, &st);
        if (e) {
            printf("tree %s: stat %s\n", full, errname(e));
            continue;
        }
        printf("tree %s", full);
        print_stat(&st);
        if (st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK) {
            char target[600];
            __wasi_size_t used = 0;
            e = __wasi_path_readlink(dirfd, name, (uint8_t *)target, sizeof target - 1, &used);
            if (e) printf(" readlink %s", errname(e));
            else printf(" -> %.*s", (int)used, target);
            printf("\n");
        } else if (st.filetype == __WASI_FILETYPE_REGULAR_FILE) {
            __wasi_fd_t fd;
            e = __wasi_path_open(dirfd, 0, name, 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
            if (e) {
                printf(" open %s\n", errname(e));
                continue;
            }
            uint64_t h = 0xcbf29ce484222325ULL, total = 0;
            printf(" data=");
            for (;;) {
                __wasi_iovec_t iov = {readbuf, sizeof readbuf};
                __wasi_size_t got = 0;
                e = __wasi_fd_read(fd, &iov, 1, &got);
                if (e || got == 0) break;
                if (total < 64) print_hex(readbuf, got + total > 64 ? 64 - total : got);
                h = fnv(readbuf, got, h);
                total += got;
            }
            if (e) printf(" read %s", errname(e));
            if (total > 64) printf("... fnv=%016llx", (unsigned long long)h);
            printf("\n");
            (void)__wasi_fd_close(fd);
        } else if (st.filetype == __WASI_FILETYPE_DIRECTORY) {
            printf("\n");
            __wasi_fd_t fd;
            e = __wasi_path_open(dirfd, 0, name, __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, DIR_RIGHTS, 0, &fd);
            if (e) {
                printf("tree %s/: open %s\n", full, errname(e));
                continue;
            }
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/", full);
            dump_tree(fd, sub, depth + 1);
            (void)__wasi_fd_close(fd);
        } else {
            printf("\n");
        }
    }
    free(mine);
}

static void run_line(char *line) {
    ntok = 0;
    for (char *p = strtok(line, " "); p && ntok < 12; p = strtok(NULL, " ")) tok[ntok++] = p;
    if (ntok == 0) return;
    const char *op = tok[0];
    __wasi_errno_t e = 0;

    if (strcmp(op, "open") == 0) {
        int s = slot(1);
        __wasi_fd_t fd = 0;
        e = __wasi_path_open(base(2), (__wasi_lookupflags_t)num(7), path(3),
                             (__wasi_oflags_t)num(4), (__wasi_rights_t)num(5),
                             (__wasi_rights_t)num(ntok > 8 ? 8 : 5), (__wasi_fdflags_t)num(6), &fd);
        if (!e) {
            if (slot_fd[s] >= 0) (void)__wasi_fd_close((__wasi_fd_t)slot_fd[s]);
            slot_fd[s] = (int)fd;
        }
        printf("%s\n", errname(e));
    } else if (strcmp(op, "close") == 0) {
        int s = slot(1);
        e = __wasi_fd_close(slot_value(s));
        if (!e) slot_fd[s] = -1;
        printf("%s\n", errname(e));
    } else if (strcmp(op, "read") == 0 || strcmp(op, "pread") == 0) {
        long long n = num(2);
        if (n < 0 || n > MAX_DATA) fail("bad length");
        __wasi_iovec_t iov = {readbuf, (size_t)n};
        __wasi_size_t got = 0;
        e = op[0] == 'r' ? __wasi_fd_read(fd_of(1), &iov, 1, &got)
                         : __wasi_fd_pread(fd_of(1), &iov, 1, (__wasi_filesize_t)num(3), &got);
        printf("%s", errname(e));
        if (!e) {
            printf(" ");
            print_hex(readbuf, got);
        }
        printf("\n");
    } else if (strcmp(op, "write") == 0 || strcmp(op, "pwrite") == 0) {
        size_t n = hexdata(2);
        __wasi_ciovec_t iov = {data, n};
        __wasi_size_t got = 0;
        e = op[0] == 'w' ? __wasi_fd_write(fd_of(1), &iov, 1, &got)
                         : __wasi_fd_pwrite(fd_of(1), &iov, 1, (__wasi_filesize_t)num(3), &got);
        printf("%s", errname(e));
        if (!e) printf(" %u", (unsigned)got);
        printf("\n");
    } else if (strcmp(op, "seek") == 0) {
        __wasi_filesize_t pos = 0;
        e = __wasi_fd_seek(fd_of(1), (__wasi_filedelta_t)num(2), (__wasi_whence_t)num(3), &pos);
        printf("%s", errname(e));
        if (!e) printf(" %llu", (unsigned long long)pos);
        printf("\n");
    } else if (strcmp(op, "tell") == 0) {
        __wasi_filesize_t pos = 0;
        e = __wasi_fd_tell(fd_of(1), &pos);
        printf("%s", errname(e));
        if (!e) printf(" %llu", (unsigned long long)pos);
        printf("\n");
    } else if (strcmp(op, "sync") == 0) {
        printf("%s\n", errname(__wasi_fd_sync(fd_of(1))));
    } else if (strcmp(op, "trunc") == 0) {
        printf("%s\n", errname(__wasi_fd_filestat_set_size(fd_of(1), (__wasi_filesize_t)num(2))));
    } else if (strcmp(op, "alloc") == 0) {
        printf("%s\n", errname(__wasi_fd_allocate(fd_of(1), (__wasi_filesize_t)num(2),
                                                  (__wasi_filesize_t)num(3))));
    } else if (strcmp(op, "fdflags") == 0) {
        printf("%s\n", errname(__wasi_fd_fdstat_set_flags(fd_of(1), (__wasi_fdflags_t)num(2))));
    } else if (strcmp(op, "fstat") == 0 || strcmp(op, "stat") == 0) {
        __wasi_filestat_t st;
        e = op[0] == 'f' ? __wasi_fd_filestat_get(fd_of(1), &st)
                         : __wasi_path_filestat_get(base(1), num(3) ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0,
                                                    path(2), &st);
        printf("%s", errname(e));
        if (!e) print_stat(&st);
        printf("\n");
    } else if (strcmp(op, "mkdir") == 0) {
        printf("%s\n", errname(__wasi_path_create_directory(base(1), path(2))));
    } else if (strcmp(op, "rmdir") == 0) {
        printf("%s\n", errname(__wasi_path_remove_directory(base(1), path(2))));
    } else if (strcmp(op, "unlink") == 0) {
        printf("%s\n", errname(__wasi_path_unlink_file(base(1), path(2))));
    } else if (strcmp(op, "rename") == 0) {
        printf("%s\n", errname(__wasi_path_rename(base(1), path(2), base(3), path(4))));
    } else if (strcmp(op, "link") == 0) {
        printf("%s\n", errname(__wasi_path_link(base(1), num(5) ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0,
                                                path(2), base(3), path(4))));
    } else if (strcmp(op, "symlink") == 0) {
        printf("%s\n", errname(__wasi_path_symlink(path(1), base(2), path(3))));
    } else if (strcmp(op, "readlink") == 0) {
        char target[600];
        __wasi_size_t used = 0;
        e = __wasi_path_readlink(base(1), path(2), (uint8_t *)target, sizeof target, &used);
        printf("%s", errname(e));
        if (!e) printf(" %.*s", (int)used, target);
        printf("\n");
    } else if (strcmp(op, "readdir") == 0) {
        e = list_dir(fd_of(1));
        printf("%s", errname(e));
        if (!e)
            for (int i = 0; i < nnames; i++) printf(" %s", names[i]);
        printf("\n");
    } else if (strcmp(op, "settimes") == 0) {
        printf("%s\n", errname(__wasi_path_filestat_set_times(
                           base(1), num(3) ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path(2),
                           (__wasi_timestamp_t)num(4), (__wasi_timestamp_t)num(5),
                           (__wasi_fstflags_t)num(6))));
    } else if (strcmp(op, "fsettimes") == 0) {
        printf("%s\n", errname(__wasi_fd_filestat_set_times(fd_of(1), (__wasi_timestamp_t)num(2),
                                                            (__wasi_timestamp_t)num(3),
                                                            (__wasi_fstflags_t)num(4))));
    } else if (strcmp(op, "renumber") == 0) {
        int s = slot(1), t = slot(2);
        e = __wasi_fd_renumber(slot_value(s), slot_value(t));
        if (!e && s != t) {
            slot_fd[t] = (int)slot_value(t);
            slot_fd[s] = -1;
        }
        printf("%s\n", errname(e));
    } else if (strcmp(op, "tree") == 0) {
        dump_tree(PREOPEN, "", 0);
        printf("tree end\n");
    } else {
        fail("unknown operation");
    }
}

static char input[1 << 20];

int main(void) {
    for (int i = 0; i < SLOTS; i++) slot_fd[i] = -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(0, input + len, sizeof input - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    input[len] = 0;
    char *save = NULL;
    for (char *line = strtok_r(input, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strlen(line) >= MAX_LINE) fail("line too long");
        run_line(line);
    }
    fflush(stdout);
    return 0;
}
