/* stdout_pace MODE ...: output patterns for tests/test_stdout_delivery.py, each line one
   write(2), as a line-buffered or fflush-ing program writes.
   lines N: "line I\n" for I in 0..N-1 on stdout.
   interleave N: "out I\n" on stdout and "err I\n" on stderr, alternately.
   then-spin SECONDS: "first\n", then SECONDS of computing that makes no WASI call but the
   clock's, then "last\n". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void put(int fd, const char *text) {
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) exit(1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    char line[64];
    if (strcmp(argv[1], "lines") == 0) {
        for (long i = 0, n = atol(argv[2]); i < n; i++) {
            snprintf(line, sizeof line, "line %ld\n", i);
            put(1, line);
        }
    } else if (strcmp(argv[1], "interleave") == 0) {
        for (long i = 0, n = atol(argv[2]); i < n; i++) {
            snprintf(line, sizeof line, "%s %ld\n", i % 2 ? "err" : "out", i);
            put(i % 2 ? 2 : 1, line);
        }
    } else if (strcmp(argv[1], "then-spin") == 0) {
        put(1, "first\n");
        double end = now() + atof(argv[2]);
        volatile unsigned long spins = 0;
        while (now() < end) spins++;
        put(1, "last\n");
    } else {
        return 2;
    }
    return 0;
}
