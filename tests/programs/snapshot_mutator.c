/* Changes a tree while the host takes snapshots of it, until /ctl/stop exists; prints the
 * number of rounds. Each mode keeps an invariant that holds at every moment, so any
 * snapshot taken at one moment satisfies it:
 *   rename DIR   DIR/A (made by the host) renamed to DIR/B and back: exactly one exists;
 *   counter DIR  DIR/x then DIR/y replaced (write a temp file, rename it) with round n, so
 *                x == y or x == y + 1;
 *   churn DIR    files and directories made, written, linked and removed in DIR. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int stopped(void) { return access("/ctl/stop", F_OK) == 0; }

static int put(const char *dir, const char *name, long n) {
    char tmp[512], path[512];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%ld\n", n);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: snapshot_mutator rename|counter|churn DIR\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    char a[512], b[512], c[512];
    long n = 0;
    if (strcmp(mode, "rename") == 0) {
        snprintf(a, sizeof a, "%s/A", dir);
        snprintf(b, sizeof b, "%s/B", dir);
        for (; !stopped(); n++) {
            if (rename(n % 2 ? b : a, n % 2 ? a : b) != 0) { perror("rename"); return 1; }
        }
    } else if (strcmp(mode, "counter") == 0) {
        for (; !stopped(); n++) {
            if (put(dir, "x", n) != 0 || put(dir, "y", n) != 0) { perror("put"); return 1; }
        }
    } else if (strcmp(mode, "churn") == 0) {
        for (; !stopped(); n++) {
            snprintf(a, sizeof a, "%s/f%ld", dir, n % 7);
            snprintf(b, sizeof b, "%s/d%ld", dir, n % 5);
            snprintf(c, sizeof c, "%s/d%ld/l%ld", dir, n % 5, n % 3);
            int fd = open(a, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd < 0) { perror("open"); return 1; }
            char line[64];
            int len = snprintf(line, sizeof line, "round %ld\n", n);
            if (write(fd, line, (size_t)len) != len) { perror("write"); return 1; }
            close(fd);
            mkdir(b, 0755);
            link(a, c);
            if (n % 3 == 0) { unlink(c); rmdir(b); }
            if (n % 11 == 0) unlink(a);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("%ld\n", n);
    return 0;
}
