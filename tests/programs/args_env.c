/* args_get, args_sizes_get, environ_get, environ_sizes_get. */
#include "wasi_test.h"

int main(int argc, char **argv) {
    SECTION("libc view");
    printf("argc: %d\n", argc);
    for (int i = 1; i < argc; i++) {
        printf("argv[%d]: ", i);
        wt_print_bytes(argv[i], strlen(argv[i]));
        printf("\n");
    }
    EXPECT_TRUE("argv[0] non-empty", argv[0] && argv[0][0]);
    EXPECT_TRUE("argv[argc] is NULL", argv[argc] == NULL);

    SECTION("args raw");
    __wasi_size_t count = 0, size = 0;
    EXPECT_OK("args_sizes_get", __wasi_args_sizes_get(&count, &size));
    EXPECT_U64("args count", count, (uint64_t)argc);
    size_t want_size = 0;
    for (int i = 0; i < argc; i++) want_size += strlen(argv[i]) + 1;
    EXPECT_TRUE("args buf size matches strings", size == want_size);
    char **ptrs = calloc(count + 1, sizeof *ptrs);
    char *buf = malloc(size + 1);
    memset(buf, 'X', size + 1);
    EXPECT_OK("args_get", __wasi_args_get((uint8_t **)ptrs, (uint8_t *)buf));
    EXPECT_TRUE("byte after args buffer untouched", buf[size] == 'X');
    int same = 1;
    for (__wasi_size_t i = 0; i < count; i++) same &= strcmp(ptrs[i], argv[i]) == 0;
    EXPECT_TRUE("raw args equal libc argv", same);
    EXPECT_TRUE("pointers inside buffer", count == 0 || (ptrs[0] == buf && ptrs[count - 1] < buf + size));
    EXPECT_TRUE("strings are NUL-terminated", size == 0 || buf[size - 1] == '\0');

    SECTION("environ");
    EXPECT_OK("environ_sizes_get", __wasi_environ_sizes_get(&count, &size));
    printf("environ count: %u\n", (unsigned)count);
    char **eptrs = calloc(count + 1, sizeof *eptrs);
    char *ebuf = malloc(size + 1);
    memset(ebuf, 'X', size + 1);
    EXPECT_OK("environ_get", __wasi_environ_get((uint8_t **)eptrs, (uint8_t *)ebuf));
    EXPECT_TRUE("byte after environ buffer untouched", ebuf[size] == 'X');
    size_t total = 0;
    for (__wasi_size_t i = 0; i < count; i++) {
        total += strlen(eptrs[i]) + 1;
        printf("env[%u]: ", (unsigned)i);
        wt_print_bytes(eptrs[i], strlen(eptrs[i]));
        printf("\n");
    }
    EXPECT_TRUE("environ buf size matches strings", size == total);
    const char *v = getenv("WASI_TEST_VAR");
    printf("getenv WASI_TEST_VAR: %s\n", v ? v : "(unset)");
    const char *e = getenv("EMPTY");
    printf("getenv EMPTY: %s\n", e ? (*e ? e : "(empty)") : "(unset)");
    EXPECT_TRUE("getenv of missing var is NULL", getenv("NO_SUCH_VARIABLE_HERE") == NULL);
    /* Calling twice gives the same answer. */
    __wasi_size_t count2 = 0, size2 = 0;
    EXPECT_OK("environ_sizes_get again", __wasi_environ_sizes_get(&count2, &size2));
    EXPECT_TRUE("stable sizes", count2 == count && size2 == size);
    return done();
}
