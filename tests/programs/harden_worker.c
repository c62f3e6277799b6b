/* A worker for the fault tests: writes, checks and shuffles files in DIR, and can fail on
 * purpose in the middle of its work.
 *
 *   harden_worker DIR NAME normal ROUNDS   do ROUNDS rounds, print "done NAME", exit 0
 *   harden_worker DIR NAME trap ROUNDS     ... then, with a file open, execute `unreachable`
 *   harden_worker DIR NAME exit ROUNDS     ... then, with a file open, proc_exit(7)
 *   harden_worker DIR NAME spin            rounds forever (until the host interrupts it)
 *   harden_worker DIR NAME compute ROUNDS  ... then print "computing" and compute forever,
 *                                          making no WASI call (an interrupt lands there)
 *
 * A round: create DIR/NAME-I.tmp, write 4 KiB of a pattern derived from (NAME, I) in three
 * writes, close, rename it to DIR/NAME-I, read it back and compare, list DIR, create and
 * remove a scratch directory. "closed NAME-I" is printed once DIR/NAME-I is complete, so the
 * host knows which files must exist afterwards with exactly that content. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

#define SIZE 4096

static char expected[SIZE], got[SIZE];

static void pattern(const char *name, int round) {
    unsigned h = 2166136261u;
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h ^= (unsigned)round * 2654435761u;
    for (int i = 0; i < SIZE; i++) {
        h = h * 1103515245u + 12345u;
        expected[i] = (char)(h >> 16);
    }
}

static void fail(const char *what, const char *path) {
    printf("FAILED %s %s\n", what, path);
    fflush(stdout);
    exit(1);
}

static void round_trip(const char *dir, const char *name, int round) {
    char tmp[256], final[256], scratch[256];
    snprintf(tmp, sizeof tmp, "%s/%s-%d.tmp", dir, name, round);
    snprintf(final, sizeof final, "%s/%s-%d", dir, name, round);
    snprintf(scratch, sizeof scratch, "%s/%s-scratch", dir, name);
    pattern(name, round);
    int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) fail("create", tmp);
    if (write(fd, expected, 1000) != 1000 || write(fd, expected + 1000, 3000) != 3000 ||
        write(fd, expected + 4000, SIZE - 4000) != SIZE - 4000)
        fail("write", tmp);
    if (close(fd)) fail("close", tmp);
    if (rename(tmp, final)) fail("rename", tmp);
    printf("closed %s-%d\n", name, round);
    fd = open(final, O_RDONLY);
    if (fd < 0) fail("open", final);
    if (read(fd, got, SIZE) != SIZE || memcmp(got, expected, SIZE)) fail("content", final);
    close(fd);
    DIR *d = opendir(dir);
    if (!d) fail("opendir", dir);
    while (readdir(d)) {
    }
    closedir(d);
    if (mkdir(scratch, 0755) || rmdir(scratch)) fail("scratch dir", scratch);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 4) {
        fprintf(stderr, "usage: harden_worker DIR NAME normal|trap|exit|spin [ROUNDS]\n");
        return 2;
    }
    const char *dir = argv[1], *name = argv[2], *mode = argv[3];
    int rounds = argc > 4 ? atoi(argv[4]) : 0;
    int spin = strcmp(mode, "spin") == 0;
    for (int round = 0; spin || round < rounds; round++) round_trip(dir, name, round);
    if (strcmp(mode, "normal") == 0) {
        printf("done %s\n", name);
        return 0;
    }
    if (strcmp(mode, "compute") == 0) {
        printf("computing\n");
        volatile unsigned x = 1;
        for (;;) x = x * 1664525u + 1013904223u;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s-open", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || write(fd, "half", 4) != 4) fail("open before the fault", path);
    printf("faulting %s\n", name);
    if (strcmp(mode, "trap") == 0) __builtin_trap();
    if (strcmp(mode, "exit") == 0) __wasi_proc_exit(7);
    return 3;
}
