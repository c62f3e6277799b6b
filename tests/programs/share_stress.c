/* One worker of the thread stress test: create, write, append, rename, list and delete
 * files in its PRIVATE directory and in a SHARED directory that every worker uses.
 *
 *   share_stress WORKER FIRST LAST SHARED PRIVATE
 *
 * runs rounds FIRST..LAST-1 (a later run continues where the last one stopped). Every round
 * is deterministic, so the final state is known (tests/test_threads.py models it):
 *   c = content(WORKER, r), its length varying with r (every 50th round over 20 KB)
 *   PRIVATE/tmp      written with the first half of c, then the rest appended (O_APPEND)
 *   PRIVATE/tmp  ->  PRIVATE/f<s>                 (rename, s = r % 16)
 *   r % 3 == 0:      PRIVATE/f<s> -> SHARED/w<W>_<s>   (rename across directories)
 *   otherwise:       SHARED/w<W>.tmp written with c, renamed to SHARED/w<W>_<s>
 *   r % 5 == 4:      unlink SHARED/w<W>_<(s+5)%16> and PRIVATE/f<(s+9)%16> if they exist
 *   r % 10 == 0:     mkdir PRIVATE/d, create and unlink PRIVATE/d/x, rmdir PRIVATE/d
 *   every round:     append the 12-byte record "wWW rRRRRRR\n" to SHARED/log, read back
 *                    PRIVATE/f<s> and SHARED/w<W>_<s> and compare them with the model
 *   r % 25 == 24:    list PRIVATE and this worker's names in SHARED; compare with the model
 * Any difference: a line on stderr and exit 1. At the end: "ok WORKER ops=N" on stdout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLOTS 16
#define MAX_CONTENT 21000

static int worker;
static const char *shared_dir, *private_dir;
static long ops;
static int in_private[SLOTS], in_shared[SLOTS];      /* the model: does the file exist */
static int private_round[SLOTS], shared_round[SLOTS]; /* which round's content it holds */
static unsigned char expected[MAX_CONTENT], actual[MAX_CONTENT + 1];

static void fail(const char *what, const char *path, int round) {
    fprintf(stderr, "worker %d round %d: %s %s (errno %d)\n", worker, round, what, path, errno);
    exit(1);
}

static size_t content(int round, unsigned char *out) {
    size_t len = 1 + (size_t)(worker * 131 + round * 37) % 500;
    if (round % 50 == 49) len += 20000;
    char header[32];
    size_t header_len = (size_t)snprintf(header, sizeof header, "w%dr%d:", worker, round);
    for (size_t i = 0; i < len; i++)
        out[i] = i < header_len ? (unsigned char)header[i]
                                : (unsigned char)('a' + (worker + round + (int)i) % 26);
    return len;
}

static void write_to(const char *path, int flags, const unsigned char *data, size_t len,
                     int round) {
    int fd = open(path, flags, 0644);
    ops++;
    if (fd < 0) fail("open", path, round);
    if (write(fd, data, len) != (ssize_t)len) fail("write", path, round);
    ops++;
    if (close(fd)) fail("close", path, round);
    ops++;
}

static void rename_or_fail(const char *from, const char *to, int round) {
    ops++;
    if (rename(from, to)) fail("rename", from, round);
}

static void unlink_if_exists(const char *path, int should_exist, int round) {
    ops++;
    int rc = unlink(path);
    if (should_exist ? rc != 0 : !(rc != 0 && errno == ENOENT)) fail("unlink", path, round);
}

/* Read `path` and compare with the content of `content_round` (-1: must not exist). */
static void check_file(const char *path, int content_round, int round) {
    int fd = open(path, O_RDONLY);
    ops++;
    if (content_round < 0) {
        if (fd >= 0 || errno != ENOENT) fail("should not exist:", path, round);
        return;
    }
    if (fd < 0) fail("open for reading", path, round);
    size_t len = content(content_round, expected), got = 0;
    ssize_t n;
    while ((n = read(fd, actual + got, MAX_CONTENT + 1 - got)) > 0) got += (size_t)n;
    ops += 2;
    close(fd);
    ops++;
    if (n < 0) fail("read", path, round);
    if (got != len || memcmp(actual, expected, len)) fail("wrong content in", path, round);
}

/* The names in `dir` that start with `prefix` must be exactly prefix<s> for the slots set. */
static void check_listing(const char *dir, const char *prefix, const int *present, int round) {
    DIR *d = opendir(dir);
    ops++;
    if (!d) fail("opendir", dir, round);
    int seen[SLOTS] = {0};
    size_t plen = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        ops++;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (strncmp(e->d_name, prefix, plen)) {
            if (!strcmp(dir, private_dir)) fail("unexpected entry", e->d_name, round);
            continue;
        }
        char *end;
        long slot = strtol(e->d_name + plen, &end, 10);
        if (*end || slot < 0 || slot >= SLOTS || seen[slot]++) fail("bad entry", e->d_name, round);
    }
    closedir(d);
    for (int s = 0; s < SLOTS; s++) {
        if (!seen[s] != !present[s]) {
            char name[64];
            snprintf(name, sizeof name, "%s%d (in %s)", prefix, s, dir);
            fail(present[s] ? "missing" : "extra", name, round);
        }
    }
}

/* The model's effect of one round (shared with the real operations below). */
static void model_round(int r) {
    int s = r % SLOTS;
    if (r % 3 == 0) {
        in_private[s] = 0;
    } else {
        in_private[s] = 1;
        private_round[s] = r;
    }
    in_shared[s] = 1;
    shared_round[s] = r;
    if (r % 5 == 4) {
        in_shared[(s + 5) % SLOTS] = 0;
        in_private[(s + 9) % SLOTS] = 0;
    }
}

static void run_round(int r) {
    int s = r % SLOTS;
    char tmp[256], slot_file[256], shared_tmp[256], shared_slot[256], path[256];
    snprintf(tmp, sizeof tmp, "%s/tmp", private_dir);
    snprintf(slot_file, sizeof slot_file, "%s/f%d", private_dir, s);
    snprintf(shared_tmp, sizeof shared_tmp, "%s/w%d.tmp", shared_dir, worker);
    snprintf(shared_slot, sizeof shared_slot, "%s/w%d_%d", shared_dir, worker, s);

    size_t len = content(r, expected);
    write_to(tmp, O_WRONLY | O_CREAT | O_TRUNC, expected, len / 2, r);
    write_to(tmp, O_WRONLY | O_APPEND, expected + len / 2, len - len / 2, r);
    rename_or_fail(tmp, slot_file, r);
    if (r % 3 == 0) {
        rename_or_fail(slot_file, shared_slot, r);
    } else {
        write_to(shared_tmp, O_WRONLY | O_CREAT | O_TRUNC, expected, len, r);
        rename_or_fail(shared_tmp, shared_slot, r);
    }
    if (r % 5 == 4) {
        int gone = (s + 5) % SLOTS, also = (s + 9) % SLOTS;
        /* the model before this round's deletions, with this round's renames applied */
        int shared_exists = gone == s ? 1 : in_shared[gone];
        int private_exists = also == s ? r % 3 != 0 : in_private[also];
        snprintf(path, sizeof path, "%s/w%d_%d", shared_dir, worker, gone);
        unlink_if_exists(path, shared_exists, r);
        snprintf(path, sizeof path, "%s/f%d", private_dir, also);
        unlink_if_exists(path, private_exists, r);
    }
    if (r % 10 == 0) {
        snprintf(path, sizeof path, "%s/d", private_dir);
        ops++;
        if (mkdir(path, 0755)) fail("mkdir", path, r);
        snprintf(path, sizeof path, "%s/d/x", private_dir);
        write_to(path, O_WRONLY | O_CREAT | O_EXCL, expected, 1, r);
        unlink_if_exists(path, 1, r);
        snprintf(path, sizeof path, "%s/d", private_dir);
        ops++;
        if (rmdir(path)) fail("rmdir", path, r);
    }
    char record[16];
    snprintf(record, sizeof record, "w%02d r%06d\n", worker, r);
    snprintf(path, sizeof path, "%s/log", shared_dir);
    write_to(path, O_WRONLY | O_CREAT | O_APPEND, (const unsigned char *)record, 12, r);

    model_round(r);
    check_file(slot_file, in_private[s] ? private_round[s] : -1, r);
    check_file(shared_slot, in_shared[s] ? shared_round[s] : -1, r);
    if (r % 25 == 24) {
        check_listing(private_dir, "f", in_private, r);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "w%d_", worker);
        check_listing(shared_dir, prefix, in_shared, r);
    }
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: share_stress WORKER FIRST LAST SHARED PRIVATE\n");
        return 2;
    }
    worker = atoi(argv[1]);
    int first = atoi(argv[2]), last = atoi(argv[3]);
    shared_dir = argv[4];
    private_dir = argv[5];
    for (int r = 0; r < first; r++) model_round(r);
    for (int r = first; r < last; r++) run_round(r);
    printf("ok %d ops=%ld\n", worker, ops);
    return 0;
}
