/* The programs the README and docs name in their examples (prog.wasm, tool.wasm, cc1.wasm,
   gen.wasm, ...), all one stand-in that acts by its name (argv[0]), so that
   tests/test_doc_examples.py can run every example as written:
   gen N: prints 0..N-1, one per line; filter: copies stdin to stdout; count: prints the
   number of lines on stdin; any other name: for "-o OUT" writes OUT (making its parent
   directories), for a path that exists reads it and writes out.txt in its parent's parent,
   for a path that does not exist creates it; then copies stdin to stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void make_parents(const char *path) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) perror(dir);
        *p = '/';
    }
}

static int try_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static void write_text(const char *path, const char *text) {
    make_parents(path);
    if (!try_write_text(path, text)) { perror(path); exit(1); }
}

static void copy_stdin(void) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
}

static void grandparent_out(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s", path);
    for (int level = 0; level < 2; level++) {
        char *slash = strrchr(out, '/');
        if (!slash || slash == out) { snprintf(out, cap, "/"); break; }
        *slash = 0;
    }
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%sout.txt", len && out[len - 1] == '/' ? "" : "/");
}

int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (!strncmp(name, "gen", 3)) {
        long n = argc > 1 ? atol(argv[1]) : 10;
        for (long i = 0; i < n; i++) printf("%ld\n", i);
        return 0;
    }
    if (!strncmp(name, "count", 5)) {
        long lines = 0;
        int c;
        while ((c = getchar()) != EOF) lines += c == '\n';
        printf("%ld\n", lines);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            write_text(argv[++i], "built\n");
        } else if (argv[i][0] == '/') {
            char out[1024];
            if (access(argv[i], F_OK) == 0) {
                grandparent_out(argv[i], out, sizeof out);
                if (!try_write_text(out, "done\n")) {
                    struct stat st;
                    int is_dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);
                    snprintf(out, sizeof out, "%s", argv[i]);
                    char *slash = strrchr(out, '/');
                    if (!is_dir && slash) *slash = 0;
                    size_t len = strlen(out);
                    snprintf(out + len, sizeof out - len, "/out.txt");
                    write_text(out, "done\n");
                }
            } else {
                write_text(argv[i], "made\n");
            }
        }
    }
    copy_stdin();
    return 0;
}
