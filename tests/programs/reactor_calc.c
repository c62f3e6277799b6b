/* A WASI reactor (built with -mexec-model=reactor: _initialize, no _start) whose exports
   tests/test_reactors.py invokes: numbers of each wasm type in and out, output, exit, a
   trap, an endless loop, files, and proof that _initialize ran first. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int32_t constructed;

/* wasi-libc runs constructors in _initialize: 7 here means the host initialised us. */
__attribute__((constructor)) static void construct(void) { constructed = 7; }

__attribute__((export_name("constructed"))) int32_t get_constructed(void) { return constructed; }
__attribute__((export_name("add"))) int32_t add(int32_t a, int32_t b) { return a + b; }
__attribute__((export_name("neg64"))) int64_t neg64(int64_t a) { return -a; }
__attribute__((export_name("half32"))) float half32(float a) { return a / 2; }
__attribute__((export_name("half64"))) double half64(double a) { return a / 2; }
__attribute__((export_name("umax"))) uint32_t umax(void) { return 0xffffffffu; }

__attribute__((export_name("hello"))) void hello(void) {
    printf("hello from a reactor\n");
    fprintf(stderr, "and its stderr\n");
}

__attribute__((export_name("quit"))) int32_t quit(int32_t code) {
    printf("quitting with %d\n", code);
    exit(code);
}

__attribute__((export_name("trap"))) void trap(void) {
    printf("before the trap\n");
    fflush(stdout);
    __builtin_trap();
}

__attribute__((export_name("spin"))) void spin(void) {
    for (volatile int i = 0;; i++) {
    }
}

/* Writes `count` bytes to /out/file: the bytes written, or -errno. */
__attribute__((export_name("fill"))) int32_t fill(int32_t count) {
    int fd = open("/out/file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -errno;
    static char block[4096];
    memset(block, 'x', sizeof block);
    int32_t written = 0;
    while (written < count) {
        size_t chunk = (size_t)(count - written) < sizeof block ? (size_t)(count - written) : sizeof block;
        ssize_t n = write(fd, block, chunk);
        if (n < 0) {
            int error = errno;
            close(fd);
            return -error;
        }
        written += (int32_t)n;
    }
    close(fd);
    return written;
}

/* argc as the host passed it (a reactor has no main: it asks WASI directly). */
__attribute__((export_name("args_count"))) int32_t args_count(void) {
    size_t count, size;
    if (__wasi_args_sizes_get(&count, &size) != 0) return -1;
    return (int32_t)count;
}
