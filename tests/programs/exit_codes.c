/* proc_exit and the exit status: `exit_codes MODE CODE`.
 * MODE return: main returns CODE; exit: libc exit(CODE) (flushes stdio);
 * proc_exit: raw __wasi_proc_exit(CODE) after an explicit flush; unflushed: raw proc_exit with
 * text still in stdio's buffer (lost, as the buffer lives in the program);
 * atexit: exit(CODE) runs an atexit handler that prints. */
#include "wasi_test.h"

static void handler(void) { printf("atexit handler ran\n"); }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "return";
    int code = argc > 2 ? atoi(argv[2]) : 0;
    printf("mode %s code %d\n", mode, code);
    fprintf(stderr, "stderr before exit\n");
    if (strcmp(mode, "return") == 0) return code;
    if (strcmp(mode, "exit") == 0) {
        printf("partial line before exit");
        exit(code);
    }
    if (strcmp(mode, "proc_exit") == 0) {
        printf("flushed line, no newline");
        fflush(stdout);
        __wasi_proc_exit((__wasi_exitcode_t)code);
    }
    if (strcmp(mode, "unflushed") == 0) {
        fflush(stdout);
        setvbuf(stdout, NULL, _IOFBF, 4096);
        printf("this text stays in the program's stdio buffer\n");
        __wasi_proc_exit((__wasi_exitcode_t)code);
    }
    if (strcmp(mode, "atexit") == 0) {
        atexit(handler);
        exit(code);
    }
    printf("unknown mode\n");
    return 99;
}
