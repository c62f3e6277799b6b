/* A WASI reactor that imports host functions besides WASI's (module "host"), for the
   extra-imports tests of tests/test_reactors.py. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

__attribute__((import_module("host"), import_name("scale"))) int32_t host_scale(int32_t value);
__attribute__((import_module("host"), import_name("log"))) void host_log(const char *text,
                                                                      int32_t length);

/* Runs in _initialize: a reactor's start-up may already call its host. */
__attribute__((constructor)) static void construct(void) {
    printf("initialised, scale(1) = %d\n", host_scale(1));
}

__attribute__((export_name("scaled_sum"))) int32_t scaled_sum(int32_t a, int32_t b) {
    return host_scale(a + b);
}

/* Hands the host a pointer into this reactor's memory: a host function that reads it needs
   the caller (a Linker's define_func with access_caller=True). */
__attribute__((export_name("greet"))) int32_t greet(void) {
    static const char text[] = "hello, host";
    host_log(text, (int32_t)strlen(text));
    return (int32_t)strlen(text);
}
