/* args_* and environ_*: both hand out a blob of NUL-terminated strings. */
#include "wasi/exports.h"
#include "process/guest.h"
#include "process/process.h"

static int32_t sizes_get(uint32_t count, uint32_t size, uint32_t count_out, uint32_t size_out) {
    errno_t err = guest_check(count_out, 4);
    if (err || (err = guest_check(size_out, 4))) return err;
    guest_write_u32(count_out, count);
    return guest_write_u32(size_out, size);
}

static int32_t strings_get(const uint8_t *blob, uint32_t size, uint32_t count, uint32_t ptrs,
                           uint32_t buf) {
    errno_t err = guest_check(ptrs, (uint64_t)count * 4);
    if (err || (err = guest_check(buf, size))) return err;
    uint32_t offset = 0;
    for (uint32_t i = 0; i < count; i++) {
        guest_write_u32(ptrs + i * 4, buf + offset);
        while (blob[offset++] != 0) {}
    }
    return guest_write(buf, blob, size);
}

EXPORT("args_sizes_get") int32_t wasi_args_sizes_get(uint32_t argc_out, uint32_t size_out) {
    struct process *p = current_process();
    return sizes_get(p->argc, p->args_size, argc_out, size_out);
}

EXPORT("args_get") int32_t wasi_args_get(uint32_t argv, uint32_t buf) {
    struct process *p = current_process();
    return strings_get(p->args, p->args_size, p->argc, argv, buf);
}

EXPORT("environ_sizes_get") int32_t wasi_environ_sizes_get(uint32_t count_out, uint32_t size_out) {
    struct process *p = current_process();
    return sizes_get(p->envc, p->env_size, count_out, size_out);
}

EXPORT("environ_get") int32_t wasi_environ_get(uint32_t environ, uint32_t buf) {
    struct process *p = current_process();
    return strings_get(p->env, p->env_size, p->envc, environ, buf);
}
