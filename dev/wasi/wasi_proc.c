/* Clocks, randomness, process control, and the socket calls (no sockets exist here). */
#include "wasi/exports.h"
#include "process/fdops.h"
#include "process/guest.h"
#include "base/hooks.h"
#include "process/stdio.h"

EXPORT("clock_res_get") int32_t wasi_clock_res_get(uint32_t id, uint32_t out) {
    if (id > CLOCK_THREAD_CPUTIME_ID) return E_INVAL;
    errno_t err = guest_check(out, 8);
    if (err) return err;
    uint64_t res = 1; /* the CPU-time clocks count nanoseconds, as Linux reports */
    if (id <= CLOCK_MONOTONIC && (err = (errno_t)hook_clock_res_get(id, core_addr(&res)))) return err;
    return guest_write_u64(out, res);
}

EXPORT("clock_time_get") int32_t wasi_clock_time_get(uint32_t id, uint64_t precision, uint32_t out) {
    if (id > CLOCK_THREAD_CPUTIME_ID) return E_INVAL;
    errno_t err = guest_check(out, 8);
    if (err) return err;
    uint64_t now = 0;
    /* Separate hooks: a host can plug a native wall/monotonic clock (wasmtime's own WASI)
       into one while CPU time, which such a clock lacks, comes from the other. */
    uint32_t (*read_clock)(uint32_t, uint64_t, uintptr_t) =
        id <= CLOCK_MONOTONIC ? hook_clock_time_get : hook_cpu_clock_time_get;
    if ((err = (errno_t)read_clock(id, precision, core_addr(&now)))) return err;
    return guest_write_u64(out, now);
}

EXPORT("random_get") int32_t wasi_random_get(uint32_t buf, uint32_t len) {
    errno_t err = guest_check(buf, len);
    uint8_t chunk[256];
    while (!err && len) {
        uint32_t n = len < sizeof chunk ? len : (uint32_t)sizeof chunk;
        if (!(err = (errno_t)hook_random_get(core_addr(chunk), n))) err = guest_write(buf, chunk, n);
        buf += n;
        len -= n;
    }
    return err;
}

EXPORT("proc_exit") void wasi_proc_exit(uint32_t code) {
    stdio_flush(current_process());
    hook_exit(code);
    __builtin_trap(); /* a host whose exit hook returns has broken its contract */
}

EXPORT("proc_raise") int32_t wasi_proc_raise(uint32_t sig) {
    (void)sig;
    return E_NOTSUP;
}

EXPORT("sched_yield") int32_t wasi_sched_yield(void) { return E_SUCCESS; }

static int32_t not_a_socket(uint32_t fd) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    return err ? err : E_NOTSOCK;
}

EXPORT("sock_accept") int32_t wasi_sock_accept(uint32_t fd, uint32_t flags, uint32_t out) {
    (void)flags;
    (void)out;
    return not_a_socket(fd);
}

EXPORT("sock_recv") int32_t wasi_sock_recv(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t flags,
                                           uint32_t len_out, uint32_t flags_out) {
    (void)iovs, (void)count, (void)flags, (void)len_out, (void)flags_out;
    return not_a_socket(fd);
}

EXPORT("sock_send") int32_t wasi_sock_send(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t flags,
                                           uint32_t len_out) {
    (void)iovs, (void)count, (void)flags, (void)len_out;
    return not_a_socket(fd);
}

EXPORT("sock_shutdown") int32_t wasi_sock_shutdown(uint32_t fd, uint32_t how) {
    (void)how;
    return not_a_socket(fd);
}
