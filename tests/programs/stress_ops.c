/* One thread's share of tests/test_thread_stress.py: conflicting filesystem operations that
 * several copies of this program, each in its own thread, run at once on one filesystem.
 *
 *   stress_ops setup ROOT                      make ROOT's directories and l/src<S> (once)
 *   stress_ops MODE ROOT ID THREADS ITERATIONS
 *
 * MODE (each iteration is one randomly chosen step; ID seeds the choices):
 *   rename   files f<ID>_<K> are created in a/, b/, c/ and the directories d<T>_<J> inside
 *            them, files of any thread are moved out of a/, b/ and c/ to anywhere, and
 *            directories d<T>_<J> are made, removed and moved (into a/, b/, c/ or into
 *            another directory, while other threads create files in them)
 *   rmdir    x/box<S> is made and removed by every thread, while every thread creates and
 *            removes files and directories in it, by path and through a directory fd held
 *            across steps (once the box is removed, a create through it must fail ENOENT)
 *   readdir  r/n<ID>_<K> are created, renamed and unlinked (every K used once, so a name
 *            never comes back) while every thread lists r/ (raw fd_readdir with small
 *            buffers and cookies, and libc readdir): a listing holds no name twice, no
 *            name that does not parse as one of these, and exactly this thread's own names
 *   link     hard links to l/src<S> (own names o<ID>_<S>_<J>, shared names h<S>_<J>) are
 *            made and removed by every thread, read through, their link count checked, and
 *            l/src<S> itself is unlinked and linked back from an own link
 *   all      each iteration one step of any of the above
 * and in every mode, now and then, keep/f<ID>_<K> is written (own names, so the expected
 * state is known), read back or removed.
 *
 * Every operation's outcome is checked against the outcomes the races allow; anything else
 * is one "FAIL ..." line on stderr and exit 1. On stdout, for the host to check afterwards:
 *   closed PATH LEN SUM   a content file written and closed (PATH under ROOT; the content is
 *                         a function of the file's name, see make_content; SUM its FNV-1a)
 *   removed PATH          this program unlinked a content file it had reported closed
 *   linked NAME           l/NAME, an own link, exists at the end
 *   present NAME          r/NAME, an own name, exists at the end
 *   listed n<T>_<K>       the highest K of thread T this program saw in a listing of r/
 *   done MODE ID t0=NS t1=NS COUNTER=N ...   (last line; monotonic start and end times)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#define MAX_THREADS 16
#define BOXES 4
#define SLOTS 24          /* readdir names a thread has at once */
#define SOURCES 4         /* l/src<S> */
#define OWN_LINKS 3       /* o<ID>_<S>_<J> */
#define SHARED_LINKS 4    /* h<S>_<J> */
#define DIR_NAMES 4       /* d<T>_<J> */
#define MAX_FILES 160     /* content files per thread (rename mode and keep/ together) */
#define MAX_CONTENT (3000 + 66000 + 64)

#define COUNTERS(X)                                                                          \
    X(files) X(removed) X(readbacks)                                                         \
    X(rename_ok) X(rename_enoent)                                                            \
    X(dir_rename_ok) X(dir_rename_enoent) X(dir_rename_einval) X(dir_rename_enotempty)       \
    X(create_ok) X(create_enoent) X(mkdir_ok) X(mkdir_eexist) X(mkdir_enoent)                \
    X(rmdir_ok) X(rmdir_enoent) X(rmdir_enotempty)                                           \
    X(box_create_ok) X(box_create_enoent) X(dead_dir_enoent) X(box_dirfd_ok)                 \
    X(lists) X(listed) X(names_made) X(dir_creates) X(dir_unlinks) X(dir_renames)            \
    X(link_ok) X(link_eexist) X(link_enoent) X(unlink_ok) X(unlink_enoent)                   \
    X(src_unlinked) X(src_relinked) X(link_reads)

#define ENUM(name) C_##name,
enum { COUNTERS(ENUM) C_COUNT };
#define NAME(name) #name,
static const char *const counter_names[C_COUNT] = {COUNTERS(NAME)};
static long counts[C_COUNT];
#define COUNT(name) (counts[C_##name]++)

/* Outcomes a step allows. */
enum { A_OK = 1, A_NOENT = 2, A_EXIST = 4, A_NOTEMPTY = 8, A_INVAL = 16 };

static const char *mode = "?", *root;
static int id, threads;
static uint32_t rng;
static unsigned char content[MAX_CONTENT], readback[MAX_CONTENT + 1];
static char path1[512], path2[512];

static void fail(const char *what, const char *path, int err) {
    fprintf(stderr, "FAIL %s %d: %s %s: errno %d (%s)\n", mode, id, what, path, err,
            err ? strerror(err) : "no error");
    exit(1);
}

static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng % n;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 0 on success, else errno; `allowed` outcomes pass, any other one fails the program. */
static int outcome(int rc, int allowed, const char *what, const char *path) {
    int err = rc < 0 ? errno : 0;
    int bit = err == 0 ? A_OK : err == ENOENT ? A_NOENT : err == EEXIST ? A_EXIST
            : err == ENOTEMPTY ? A_NOTEMPTY : err == EINVAL ? A_INVAL : 0;
    if (!(bit & allowed)) fail(what, path, err);
    return err;
}

static uint32_t fnv1a(const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The content of a file named `name` (its last path component): "name\n", then a pattern
   from the name's hash; 1..3000 bytes, or over 64 KiB (more than one chunk) for 1 in 8. */
static size_t make_content(const char *name, unsigned char *out) {
    size_t name_len = strlen(name);
    uint32_t h = fnv1a(name, name_len);
    size_t n = 1 + h % 3000 + ((h >> 16) % 8 == 0 ? 66000 : 0);
    for (size_t i = 0; i < n; i++)
        out[i] = i < name_len ? (unsigned char)name[i]
               : i == name_len ? '\n'
                               : (unsigned char)((h >> ((i & 3) * 8)) + i * 7 + (i >> 8));
    return n;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void write_all_at(int fd, const unsigned char *data, size_t len, off_t at, const char *path) {
    while (len) {
        size_t piece = 1 + rnd(5000);
        if (piece > len) piece = len;
        ssize_t n = at < 0 ? write(fd, data, piece) : pwrite(fd, data, piece, at);
        if (n != (ssize_t)piece) fail("write", path, n < 0 ? errno : 0);
        data += piece;
        len -= piece;
        if (at >= 0) at += (off_t)piece;
    }
}

/* Create `path` (O_EXCL) with its content, in one of three ways; `allowed` says which
   failures of the create itself are races. Prints "closed" when the file is closed. */
static int write_content_file(const char *path, int allowed) {
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    int err = outcome(fd, allowed, "create content file", path);
    if (err) return err;
    size_t n = make_content(base_name(path), content), half = n / 2;
    switch (rnd(3)) {
    case 0: /* in order */
        write_all_at(fd, content, n, -1, path);
        break;
    case 1: /* the second half first, with pwrite */
        write_all_at(fd, content + half, n - half, (off_t)half, path);
        write_all_at(fd, content, half, 0, path);
        break;
    default: /* set the size first, then fill the zeros */
        if (ftruncate(fd, (off_t)n)) fail("ftruncate", path, errno);
        write_all_at(fd, content + half, n - half, (off_t)half, path);
        write_all_at(fd, content, half, 0, path);
        break;
    }
    if (close(fd)) fail("close", path, errno);
    COUNT(files);
    printf("closed %s %zu %08x\n", path + strlen(root) + 1, n, (unsigned)fnv1a(content, n));
    return 0;
}

/* Read `path` whole and compare with `expected` (ENOENT allowed if `allowed` says so). */
static int read_and_compare(const char *path, const unsigned char *expected, size_t n,
                            int allowed, int *nlink) {
    int fd = open(path, O_RDONLY);
    int err = outcome(fd, allowed, "open to read", path);
    if (err) return err;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, readback + got, sizeof readback - got);
        if (r < 0) fail("read", path, errno);
        if (r == 0 || got + (size_t)r >= sizeof readback) {
            got += (size_t)r;
            break;
        }
        got += (size_t)r;
    }
    if (got != n || memcmp(readback, expected, n)) fail("content differs", path, 0);
    struct stat st;
    if (fstat(fd, &st)) fail("fstat", path, errno);
    if (nlink) *nlink = (int)st.st_nlink;
    if (close(fd)) fail("close after read", path, errno);
    COUNT(readbacks);
    return 0;
}

/* -- keep/: own content files, in every mode -------------------------------------------- */
static int next_file; /* K of the next f<ID>_<K>, shared by keep/ and rename mode */
static unsigned char keep_present[MAX_FILES], in_keep[MAX_FILES];

/* Until MAX_FILES are made: makes 3, removes 1 and reads back 1 in 32 steps; then reads. */
static void keep_step(void) {
    uint32_t r = rnd(32);
    if (next_file >= MAX_FILES && r < 4) r = 4;
    if (r < 3) {
        int k = next_file++;
        snprintf(path1, sizeof path1, "%s/keep/f%d_%d", root, id, k);
        write_content_file(path1, A_OK);
        keep_present[k] = in_keep[k] = 1;
    } else if (r < 5 && next_file) {
        int k = (int)rnd((uint32_t)next_file);
        if (!keep_present[k]) return;
        snprintf(path1, sizeof path1, "%s/keep/f%d_%d", root, id, k);
        if (r == 3) {
            outcome(unlink(path1), A_OK, "unlink own keep file", path1);
            keep_present[k] = 0;
            COUNT(removed);
            printf("removed %s\n", path1 + strlen(root) + 1);
        } else {
            size_t n = make_content(base_name(path1), content);
            read_and_compare(path1, content, n, A_OK, NULL);
        }
    }
}

/* -- rename ------------------------------------------------------------------------------ */
/* a, b or c (half the time), or a directory in one, or a directory in that. */
static void random_container(char *out, size_t cap, int top_only) {
    char top = "abc"[rnd(3)];
    switch (top_only ? 0 : rnd(4)) {
    case 0:
    case 1:
        snprintf(out, cap, "%s/%c", root, top);
        break;
    case 2:
        snprintf(out, cap, "%s/%c/d%u_%u", root, top, rnd((uint32_t)threads), rnd(DIR_NAMES));
        break;
    default:
        snprintf(out, cap, "%s/%c/d%u_%u/d%u_%u", root, top, rnd((uint32_t)threads),
                 rnd(DIR_NAMES), rnd((uint32_t)threads), rnd(DIR_NAMES));
        break;
    }
}

static void rename_step(void) {
    char from[300], to[300];
    uint32_t r = rnd(16);
    random_container(from, sizeof from, r >= 3 && r < 9); /* files move from a, b or c */
    random_container(to, sizeof to, 0);
    if (r < 3) {
        if (next_file >= MAX_FILES) return;
        snprintf(path1, sizeof path1, "%s/f%d_%d", from, id, next_file++);
        if (write_content_file(path1, A_OK | A_NOENT)) COUNT(create_enoent);
        else COUNT(create_ok);
    } else if (r < 9) { /* any thread's file, from a, b or c to anywhere */
        uint32_t made = (uint32_t)next_file + 4;
        char name[32];
        snprintf(name, sizeof name, "f%u_%u", rnd((uint32_t)threads), rnd(made));
        snprintf(path1, sizeof path1, "%s/%s", from, name);
        snprintf(path2, sizeof path2, "%s/%s", to, name);
        if (outcome(rename(path1, path2), A_OK | A_NOENT, "rename file", path1)) COUNT(rename_enoent);
        else COUNT(rename_ok);
    } else if (r < 12) { /* a directory, into a top directory or into another directory */
        char name[32];
        snprintf(name, sizeof name, "d%u_%u", rnd((uint32_t)threads), rnd(DIR_NAMES));
        snprintf(path1, sizeof path1, "%s/%s", from, name);
        snprintf(path2, sizeof path2, "%s/%s", to, name);
        int err = outcome(rename(path1, path2), A_OK | A_NOENT | A_INVAL | A_NOTEMPTY,
                          "rename directory", path1);
        if (!err) COUNT(dir_rename_ok);
        else if (err == ENOENT) COUNT(dir_rename_enoent);
        else if (err == EINVAL) COUNT(dir_rename_einval);
        else COUNT(dir_rename_enotempty);
    } else if (r < 14) {
        snprintf(path1, sizeof path1, "%s/d%d_%u", from, id, rnd(DIR_NAMES));
        int err = outcome(mkdir(path1, 0755), A_OK | A_EXIST | A_NOENT, "mkdir", path1);
        if (!err) COUNT(mkdir_ok);
        else if (err == EEXIST) COUNT(mkdir_eexist);
        else COUNT(mkdir_enoent);
    } else if (r < 15) {
        snprintf(path1, sizeof path1, "%s/d%u_%u", from, rnd((uint32_t)threads), rnd(DIR_NAMES));
        int err = outcome(rmdir(path1), A_OK | A_NOENT | A_NOTEMPTY, "rmdir", path1);
        if (!err) COUNT(rmdir_ok);
        else if (err == ENOENT) COUNT(rmdir_enoent);
        else COUNT(rmdir_enotempty);
    } else if (next_file && next_file < MAX_FILES) { /* an own file, if in a, b or c now */
        int k = (int)rnd((uint32_t)next_file);
        if (in_keep[k]) return; /* that one was made in keep/ */
        snprintf(path1, sizeof path1, "%s/%c/f%d_%d", root, "abc"[rnd(3)], id, k);
        if (!outcome(unlink(path1), A_OK | A_NOENT, "unlink own file", path1)) {
            COUNT(removed);
            printf("removed %s\n", path1 + strlen(root) + 1);
        }
    }
}

/* -- rmdir ------------------------------------------------------------------------------- */
static void small_content(unsigned char *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)(id * 31 + i);
}

static int held_box = -1, held_uses;
static char held_dir[300];

static void rmdir_step(void) {
    uint32_t r = rnd(8), box = rnd(BOXES);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/x/box%u", root, box);
    if (r < 2) {
        int err = outcome(mkdir(dir, 0755), A_OK | A_EXIST, "mkdir box", dir);
        if (!err) COUNT(mkdir_ok);
        else COUNT(mkdir_eexist);
    } else if (r < 5) { /* by path: the box can go at any moment, but not while our file is in it */
        snprintf(path1, sizeof path1, "%s/t%d", dir, id);
        int fd = open(path1, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (outcome(fd, A_OK | A_NOENT, "create in box", path1)) {
            COUNT(box_create_enoent);
            return;
        }
        COUNT(box_create_ok);
        size_t n = 1 + rnd(300);
        small_content(content, n);
        write_all_at(fd, content, n, -1, path1);
        if (close(fd)) fail("close in box", path1, errno);
        if (rnd(2)) {
            snprintf(path2, sizeof path2, "%s/s%d", dir, id);
            outcome(mkdir(path2, 0755), A_OK, "mkdir in a box holding our file", path2);
            outcome(rmdir(path2), A_OK, "rmdir in a box holding our file", path2);
        }
        read_and_compare(path1, content, n, A_OK, NULL);
        outcome(unlink(path1), A_OK, "unlink own file in box", path1);
    } else if (r < 7 && held_box < 0) { /* a directory fd, held across steps */
        held_box = open(dir, O_RDONLY | O_DIRECTORY);
        if (outcome(held_box, A_OK | A_NOENT, "open box", dir)) {
            held_box = -1;
            return;
        }
        snprintf(held_dir, sizeof held_dir, "%s", dir);
        held_uses = 0;
        COUNT(box_dirfd_ok);
    } else if (r < 7) { /* create through it: its box may have been removed meanwhile */
        char name[32];
        snprintf(name, sizeof name, "u%d", id);
        int fd = openat(held_box, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (outcome(fd, A_OK | A_NOENT, "create through box fd", held_dir)) {
            /* The box is gone for good: every create in it fails the same way. */
            COUNT(dead_dir_enoent);
            outcome(mkdirat(held_box, name, 0755), A_NOENT, "mkdir in a removed box", held_dir);
            outcome(openat(held_box, name, O_CREAT | O_WRONLY, 0644), A_NOENT,
                    "create again in a removed box", held_dir);
            held_uses = 1000;
        } else {
            size_t n = 1 + rnd(100);
            small_content(content, n);
            write_all_at(fd, content, n, -1, held_dir);
            if (close(fd)) fail("close through box fd", held_dir, errno);
            outcome(unlinkat(held_box, name, 0), A_OK, "unlink own file through box fd", held_dir);
        }
        if (++held_uses >= 6) {
            if (close(held_box)) fail("close box fd", held_dir, errno);
            held_box = -1;
        }
    } else {
        int err = outcome(rmdir(dir), A_OK | A_NOENT | A_NOTEMPTY, "rmdir box", dir);
        if (!err) COUNT(rmdir_ok);
        else if (err == ENOENT) COUNT(rmdir_enoent);
        else COUNT(rmdir_enotempty);
    }
}

/* -- readdir: names n<ID>_<K>, each K used once, so no name ever comes back and a listing
   that shows one twice is wrong even while entries come and go --------------------------- */
#define SEEN_CAP 2048
static int own_live[SLOTS];             /* K of each live own name, -1: none */
static int next_name;                   /* n<ID>_0 .. n<ID>_<next_name - 1> were made */
static long listed_max[MAX_THREADS];    /* the highest K listed of each thread, -1: none */
static uint32_t seen_set[SEEN_CAP];     /* this listing's names, as T << 22 | K, plus 1 */
static int seen_count, seen_dots, own_seen;

static void saw_name(const char *name, size_t len, const char *dir) {
    char copy[64];
    if (len >= sizeof copy) fail("over-long name listed", dir, 0);
    memcpy(copy, name, len);
    copy[len] = 0;
    if (!strcmp(copy, ".") || !strcmp(copy, "..")) {
        if (++seen_dots > 2) fail("'.' or '..' listed twice", dir, 0);
        return;
    }
    unsigned t, k;
    int used = 0;
    if (sscanf(copy, "n%u_%u%n", &t, &k, &used) != 2 || used != (int)len || copy[1] == '+'
        || t >= (unsigned)threads || k >= (1u << 22)) {
        fprintf(stderr, "listed name: [%s]\n", copy);
        fail("a name that never existed was listed", dir, 0);
    }
    uint32_t key = (t << 22 | k) + 1, i = (key * 2654435761u) % SEEN_CAP;
    while (seen_set[i] && seen_set[i] != key) i = (i + 1) % SEEN_CAP;
    if (seen_set[i]) {
        fprintf(stderr, "listed name: [%s]\n", copy);
        fail("a name was listed twice", dir, 0);
    }
    if (++seen_count > SEEN_CAP / 2) fail("too many names in one listing", dir, 0);
    seen_set[i] = key;
    if ((long)k > listed_max[t]) listed_max[t] = (long)k;
    if ((int)t == id) {
        int live = 0;
        for (int s = 0; s < SLOTS; s++) live |= own_live[s] == (int)k;
        if (!live) {
            fprintf(stderr, "listed name: [%s]\n", copy);
            fail("an own name that does not exist now was listed", dir, 0);
        }
        own_seen++;
    }
    COUNT(listed);
}

static void list_raw(const char *dir) {
    static uint8_t buf[400];
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    outcome(fd, A_OK, "open r", dir);
    uint32_t size = 64 + rnd(300);
    __wasi_dircookie_t cookie = 0;
    for (;;) {
        __wasi_size_t used = 0;
        __wasi_errno_t err = __wasi_fd_readdir((__wasi_fd_t)fd, buf, size, cookie, &used);
        if (err) fail("fd_readdir", dir, err);
        size_t at = 0;
        while (at + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t entry;
            memcpy(&entry, buf + at, sizeof entry);
            if (at + sizeof entry + entry.d_namlen > used) break; /* cut off: fetch again */
            saw_name((const char *)buf + at + sizeof entry, entry.d_namlen, dir);
            cookie = entry.d_next;
            at += sizeof entry + entry.d_namlen;
        }
        if (used < size) break;
        if (at == 0) fail("an entry larger than the readdir buffer", dir, 0);
    }
    if (close(fd)) fail("close r", dir, errno);
}

static void list_libc(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) fail("opendir", dir, errno);
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) saw_name(e->d_name, strlen(e->d_name), dir);
    if (errno) fail("readdir", dir, errno);
    closedir(d);
}

static void readdir_step(void) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/r", root);
    uint32_t r = rnd(8), s = rnd(SLOTS);
    snprintf(path1, sizeof path1, "%s/n%d_%d", dir, id, own_live[s]);
    if (r < 3 && own_live[s] >= 0) {
        outcome(unlink(path1), A_OK, "unlink own name", path1);
        own_live[s] = -1;
        COUNT(dir_unlinks);
    } else if (r < 3) {
        own_live[s] = next_name++;
        snprintf(path1, sizeof path1, "%s/n%d_%d", dir, id, own_live[s]);
        int fd = open(path1, O_CREAT | O_EXCL | O_WRONLY, 0644);
        outcome(fd, A_OK, "create own name", path1);
        if (rnd(2) && write(fd, "x", 1) != 1) fail("write own name", path1, errno);
        if (close(fd)) fail("close own name", path1, errno);
        COUNT(dir_creates);
    } else if (r < 5) {
        if (own_live[s] < 0) return;
        own_live[s] = next_name++;
        snprintf(path2, sizeof path2, "%s/n%d_%d", dir, id, own_live[s]);
        outcome(rename(path1, path2), A_OK, "rename own name", path1);
        COUNT(dir_renames);
    } else {
        memset(seen_set, 0, sizeof seen_set);
        seen_count = seen_dots = own_seen = 0;
        if (r == 7) list_libc(dir);
        else list_raw(dir);
        int live = 0;
        for (int i = 0; i < SLOTS; i++) live += own_live[i] >= 0;
        if (own_seen != live) {
            fprintf(stderr, "listed %d of %d own names\n", own_seen, live);
            fail("an own name is missing from the listing", dir, 0);
        }
        COUNT(lists);
    }
}

/* -- link -------------------------------------------------------------------------------- */
static unsigned char own_link[SOURCES][OWN_LINKS];

static int own_link_of(uint32_t s) {
    for (int j = 0; j < OWN_LINKS; j++)
        if (own_link[s][j]) return j;
    return -1;
}

static int own_links(uint32_t s) {
    int n = 0;
    for (int j = 0; j < OWN_LINKS; j++) n += own_link[s][j];
    return n;
}

static void link_step(void) {
    uint32_t r = rnd(10), s = rnd(SOURCES), j;
    char src[300];
    snprintf(src, sizeof src, "%s/l/src%u", root, s);
    if (r < 3) { /* toggle an own link */
        j = rnd(OWN_LINKS);
        snprintf(path1, sizeof path1, "%s/l/o%d_%u_%u", root, id, s, j);
        if (own_link[s][j]) {
            outcome(unlink(path1), A_OK, "unlink own link", path1);
            own_link[s][j] = 0;
            COUNT(unlink_ok);
            return;
        }
        int from = own_link_of(s);
        if (from >= 0) { /* from an own link, which nobody else removes */
            snprintf(path2, sizeof path2, "%s/l/o%d_%u_%d", root, id, s, from);
            outcome(link(path2, path1), A_OK, "link from own link", path2);
        } else if (outcome(link(src, path1), A_OK | A_NOENT, "link from src", src)) {
            COUNT(link_enoent); /* src is unlinked for a moment by another thread */
            return;
        }
        own_link[s][j] = 1;
        COUNT(link_ok);
    } else if (r < 5) {
        snprintf(path1, sizeof path1, "%s/l/h%u_%u", root, s, rnd(SHARED_LINKS));
        int err = outcome(link(src, path1), A_OK | A_EXIST | A_NOENT, "link shared name", path1);
        if (!err) COUNT(link_ok);
        else if (err == EEXIST) COUNT(link_eexist);
        else COUNT(link_enoent);
    } else if (r < 7) {
        snprintf(path1, sizeof path1, "%s/l/h%u_%u", root, s, rnd(SHARED_LINKS));
        if (outcome(unlink(path1), A_OK | A_NOENT, "unlink shared name", path1)) COUNT(unlink_enoent);
        else COUNT(unlink_ok);
    } else if (r < 9) { /* read it through some name; count the links */
        int from = own_link_of(s), allowed = A_OK | A_NOENT, nlink = 0;
        if (from >= 0 && rnd(2)) {
            snprintf(path1, sizeof path1, "%s/l/o%d_%u_%d", root, id, s, from);
            allowed = A_OK;
        } else if (rnd(2)) {
            snprintf(path1, sizeof path1, "%s", src);
        } else {
            snprintf(path1, sizeof path1, "%s/l/h%u_%u", root, s, rnd(SHARED_LINKS));
        }
        size_t n = make_content(base_name(src), content);
        if (read_and_compare(path1, content, n, allowed, &nlink)) return;
        COUNT(link_reads);
        /* Our own links stay while we look; the others come and go. */
        if (nlink < own_links(s) || nlink < 1 || nlink > 1 + threads * OWN_LINKS + SHARED_LINKS) {
            fprintf(stderr, "nlink %d, own links %d\n", nlink, own_links(s));
            fail("link count out of range", path1, 0);
        }
    } else { /* unlink src itself and link it back from an own link, which keeps the file */
        int from = own_link_of(s);
        if (from < 0) return;
        snprintf(path2, sizeof path2, "%s/l/o%d_%u_%d", root, id, s, from);
        if (!outcome(unlink(src), A_OK | A_NOENT, "unlink src", src)) COUNT(src_unlinked);
        if (!outcome(link(path2, src), A_OK | A_EXIST, "link src back", src)) COUNT(src_relinked);
    }
}

/* -- main -------------------------------------------------------------------------------- */
static void setup(void) {
    static const char *const dirs[] = {"a", "b", "c", "keep", "r", "x", "l"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path1, sizeof path1, "%s/%s", root, dirs[i]);
        outcome(mkdir(path1, 0755), A_OK | A_EXIST, "setup mkdir", path1);
    }
    for (int s = 0; s < SOURCES; s++) {
        snprintf(path1, sizeof path1, "%s/l/src%d", root, s);
        size_t n = make_content(base_name(path1), content);
        int fd = open(path1, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (outcome(fd, A_OK | A_EXIST, "setup src", path1)) continue;
        write_all_at(fd, content, n, -1, path1);
        if (close(fd)) fail("setup close", path1, errno);
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "setup")) {
        root = argv[2];
        mode = "setup";
        setup();
        puts("setup done");
        return 0;
    }
    if (argc != 6) {
        fprintf(stderr, "usage: stress_ops setup ROOT | stress_ops MODE ROOT ID THREADS ITERATIONS\n");
        return 2;
    }
    mode = argv[1];
    root = argv[2];
    id = atoi(argv[3]);
    threads = atoi(argv[4]);
    long iterations = atol(argv[5]);
    if (threads < 1 || threads > MAX_THREADS || id < 0 || id >= threads) {
        fprintf(stderr, "ID must be below THREADS, at most %d\n", MAX_THREADS);
        return 2;
    }
    void (*const steps[])(void) = {rename_step, rmdir_step, readdir_step, link_step};
    static const char *const names[] = {"rename", "rmdir", "readdir", "link", "all"};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(mode, names[i])) which = i;
    if (which < 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    for (int s = 0; s < SLOTS; s++) own_live[s] = -1;
    for (int t = 0; t < MAX_THREADS; t++) listed_max[t] = -1;
    rng = 2463534242u ^ (uint32_t)(id + 1) * 2654435761u ^ (uint32_t)which * 40503u;
    long long t0 = now_ns();
    for (long i = 0; i < iterations; i++) {
        steps[which == 4 ? rnd(4) : (uint32_t)which]();
        keep_step();
    }
    /* The end state this program knows: its own links and names. */
    for (int s = 0; s < SOURCES; s++)
        for (int j = 0; j < OWN_LINKS; j++)
            if (own_link[s][j]) printf("linked o%d_%d_%d\n", id, s, j);
    for (int s = 0; s < SLOTS; s++)
        if (own_live[s] >= 0) printf("present n%d_%d\n", id, own_live[s]);
    for (int t = 0; t < threads; t++)
        if (listed_max[t] >= 0) printf("listed n%d_%ld\n", t, listed_max[t]);
    counts[C_names_made] = next_name;
    long long t1 = now_ns();
    printf("done %s %d t0=%lld t1=%lld", mode, id, t0, t1);
    for (int i = 0; i < C_COUNT; i++) printf(" %s=%ld", counter_names[i], counts[i]);
    printf("\n");
    return 0;
}
