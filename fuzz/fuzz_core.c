/* Coverage-guided fuzzing of the core under AddressSanitizer and UBSan (libFuzzer).
   An input decodes into a sequence of calls: WASI calls from up to three processes, each
   with its own guest memory, and host-API calls between them. Arguments lean towards
   the values that break things: fd numbers around 0-2, 16-17 and past the table, the
   edges of guest memory, offsets near 2^63 and 2^64, paths through .., symlinks and
   trailing slashes. After every call the core's own checker (fsck) must find nothing,
   and every guest copy is checked against the guest's memory by the stand-in host.
   The decoding of each op is fuzz/fuzz_ops.c, shared with the threaded harness
   (fuzz_core_threads.c). Build and run: python tools/fuzz_core.py (see its --help). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_api.h"
#include "fuzz_ops.h"
#include "native_host.h"

#define PROCESSES 3
static struct guest guests[PROCESSES];

static void attach(struct guest *g) { ops_attach(g, 1 + (uint32_t)(g - guests) % 2); }

static void check(const char *after, uint8_t op) {
    uint32_t problems = wasi_wasm_fsck();
    if (problems) {
        fprintf(stderr, "fsck found %u problems after %s op %u\n", problems, after, op);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    native_host_init();
    native_host_reset();
    ops_reset();
    struct input in = { data, size, 0 };
    for (int i = 0; i < PROCESSES; i++) attach(&guests[i]);
    native_host_select(&guests[0]);
    for (int steps = 0; in.pos < in.size && steps < 400; steps++) {
        uint8_t op = take_u8(&in);
        if (op >= 240) {
            struct guest *g = &guests[op % PROCESSES];
            attach(g); /* a process that exited is started again */
            continue;
        }
        if (!native_host_current()->process) attach(native_host_current());
        if (!native_host_current()->process) continue; /* out of memory: the core said so */
        if (op >= 220) ops_host_call(&in, op);
        else ops_wasi_call(&in, op);
        native_host_select(native_host_current());
        check(op >= 220 ? "host" : "wasi", op);
    }
    for (int i = 0; i < PROCESSES; i++) {
        ops_detach(&guests[i]);
        native_guest_free(&guests[i]);
    }
    native_host_select(NULL);
    return 0;
}
