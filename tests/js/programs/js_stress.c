/* js_stress ID RUN ROUNDS: filesystem work for the JS Worker tests, meant to run in several
 * threads at once on one shared VFS. Each round: rewrite a private file and read it back,
 * append a line to a shared file and to a per-worker log, create + rename a file in the
 * shared directory, create + delete a scratch file, and every 10 rounds list both directories.
 * The final state is a function of (ID, RUN, ROUNDS) only, so the test can check it exactly
 * (tests/js/workers.mjs). Prints "done ID RUN ops N"; any failure prints "ERROR ..." and
 * exits 1. Expects /shared to exist; creates /private/ID. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long ops;
static int failed, saved_errno;

#define FAIL(...) \
    (saved_errno = errno, printf("ERROR " __VA_ARGS__), printf(" (errno %d)\n", saved_errno), \
     failed = 1)

static int write_all(const char *path, int flags, const char *data, size_t len) {
    int fd = open(path, flags, 0644);
    ops++;
    if (fd < 0) return FAIL("open %s", path), -1;
    /* one write call: appends of whole lines stay whole */
    ssize_t n = write(fd, data, len);
    ops++;
    if (n != (ssize_t)len) FAIL("write %s: %zd of %zu", path, n, len);
    close(fd);
    ops++;
    return 0;
}

static void check_content(const char *path, const char *expected, size_t len) {
    static char buf[4096];
    int fd = open(path, O_RDONLY);
    ops++;
    if (fd < 0) {
        FAIL("reopen %s", path);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    ops++;
    close(fd);
    if (n != (ssize_t)len || memcmp(buf, expected, len) != 0)
        FAIL("content of %s: got %zd bytes, expected %zu", path, n, len);
}

static int count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    ops++;
    if (!d) return FAIL("opendir %s", dir), -1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        ops++;
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) count++;
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: js_stress ID RUN ROUNDS\n");
        return 2;
    }
    const char *id = argv[1];
    int run = atoi(argv[2]);
    int rounds = atoi(argv[3]);
    char dir[64], path[128], path2[128], line[64], data[512], prefix[64];
    mkdir("/private", 0755);
    snprintf(dir, sizeof dir, "/private/%s", id);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) FAIL("mkdir %s", dir);

    for (int r = 0; r < rounds && !failed; r++) {
        int line_len = snprintf(line, sizeof line, "%s %d %d\n", id, run, r);
        size_t data_len = 0;
        for (int i = 0; i < 1 + r % 7; i++) {
            memcpy(data + data_len, line, (size_t)line_len);
            data_len += (size_t)line_len;
        }
        snprintf(path, sizeof path, "%s/f%d", dir, r % 20);
        write_all(path, O_WRONLY | O_CREAT | O_TRUNC, data, data_len);
        check_content(path, data, data_len);

        write_all("/shared/common", O_WRONLY | O_CREAT | O_APPEND, line, (size_t)line_len);
        snprintf(path, sizeof path, "/shared/log-%s", id);
        write_all(path, O_WRONLY | O_CREAT | O_APPEND, line, (size_t)line_len);

        snprintf(path, sizeof path, "/shared/tmp-%s", id);
        snprintf(path2, sizeof path2, "/shared/rot-%s-%d", id, r % 5);
        write_all(path, O_WRONLY | O_CREAT | O_TRUNC, line, (size_t)line_len - 1);
        if (rename(path, path2) != 0) FAIL("rename %s %s", path, path2);
        ops++;

        snprintf(path, sizeof path, "%s/gone-%d", dir, r);
        write_all(path, O_WRONLY | O_CREAT | O_EXCL, data, data_len);
        if (unlink(path) != 0) FAIL("unlink %s", path);
        ops++;

        if (r % 10 == 9) {
            snprintf(prefix, sizeof prefix, "rot-%s-", id);
            int rotated = count_prefix("/shared", prefix);
            int expected = run > 0 || r >= 4 ? 5 : r + 1;
            if (rotated != expected) FAIL("%d files %s* in /shared, expected %d", rotated, prefix, expected);
            int leftovers = count_prefix(dir, "gone-");
            if (leftovers != 0) FAIL("%d gone-* files left in %s", leftovers, dir);
        }
    }
    printf("done %s %d ops %ld\n", id, run, ops);
    return failed;
}
