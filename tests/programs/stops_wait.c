/* A program that waits or works forever, for the tests that stop programs (test_stops.py).
 * It prints "started" (to stderr for the modes whose stdout is a pipe) before it waits.
 *
 *   stops_wait sleep SECONDS   sleep in poll_oneoff
 *   stops_wait read            read stdin until end-of-file, then print the byte count
 *   stops_wait write           write to stdout forever (blocks once a pipe is full)
 *   stops_wait spin            compute forever, making no WASI call
 *   stops_wait exit CODE       proc_exit(CODE) at once
 *   stops_wait trap            execute `unreachable` at once */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

static void started(FILE *stream) {
    fputs("started\n", stream);
    fflush(stream);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "sleep") == 0 && argc > 2) {
        started(stdout);
        sleep((unsigned)atoi(argv[2]));
        puts("slept");
        return 0;
    }
    if (strcmp(mode, "read") == 0) {
        started(stderr);
        char buffer[4096];
        long total = 0;
        ssize_t got;
        while ((got = read(0, buffer, sizeof buffer)) > 0) total += got;
        printf("read %ld\n", total);
        return 0;
    }
    if (strcmp(mode, "write") == 0) {
        started(stderr);
        static char block[65536];
        memset(block, 'x', sizeof block);
        for (;;)
            if (write(1, block, sizeof block) < 0) return 1;
    }
    if (strcmp(mode, "spin") == 0) {
        started(stdout);
        volatile unsigned x = 1;
        for (;;) x = x * 1664525u + 1013904223u;
    }
    if (strcmp(mode, "exit") == 0 && argc > 2)
        __wasi_proc_exit((__wasi_exitcode_t)strtoul(argv[2], 0, 10));
    if (strcmp(mode, "trap") == 0) __builtin_trap();
    fprintf(stderr, "usage: stops_wait sleep SECONDS|read|write|spin|exit CODE|trap\n");
    return 2;
}
