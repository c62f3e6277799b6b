/* poll_oneoff: fd subscriptions are always ready (the VFS never blocks); clock ones sleep
   in memory.atomic.wait32 where the host allows blocking, and spin where it does not. */
#include "wasi/exports.h"
#include "process/fdops.h"
#include "process/guest.h"
#include "base/checked.h"
#include "base/hooks.h"
#include "base/lock.h"
#include "base/wait.h"

static uint64_t monotonic_now(void) {
    uint64_t now = 0;
    hook_clock_time_get(CLOCK_MONOTONIC, 1, core_addr(&now));
    return now;
}

/* A deadline past the end of the monotonic clock's range is never: the sum wrapped to one
   already passed where the monotonic clock reads more than the realtime one (a device whose
   wall clock counts from boot), and a sleep until 2^64 - 1 ended at once
   (tests/test_clock_ranges.py). */
static uint64_t realtime_to_monotonic(uint64_t when, uint64_t mono_now) {
    uint64_t real_now = realtime_now(), deadline;
    if (when <= real_now) return mono_now;
    return checked_add_u64(mono_now, when - real_now, &deadline) ? deadline : UINT64_MAX;
}

/* The monotonic deadline of a clock subscription, or an error for a bad clock. */
static errno_t clock_deadline(const uint8_t *sub, uint64_t mono_now, uint64_t *deadline) {
    uint32_t id = get_u32(sub + SUB_CLOCK_ID);
    uint64_t timeout = get_u64(sub + SUB_CLOCK_TIMEOUT);
    bool absolute = get_u16(sub + SUB_CLOCK_FLAGS) & SUBCLOCK_ABSTIME;
    if (id == CLOCK_MONOTONIC) *deadline = absolute ? timeout : mono_now + timeout;
    else if (id == CLOCK_REALTIME) *deadline = absolute ? realtime_to_monotonic(timeout, mono_now) : mono_now + timeout;
    else return E_INVAL;
    if (!absolute && *deadline < mono_now) *deadline = UINT64_MAX;
    return E_SUCCESS;
}

/* Fills the event's flags for an fd subscription, or says why the fd can't be polled. */
static errno_t fd_event(uint8_t tag, uint32_t fd, uint16_t *flags) {
    struct fd_entry *e;
    errno_t err = fd_get(fd, &e);
    if (err) return err;
    *flags = 0;
    if (e->kind == FD_FILE) {
        if (tag == EVENTTYPE_FD_READ) {
            process_lock_shared(current_process());
            if (e->offset >= e->node->size) *flags = EVENTRW_HANGUP;
            process_unlock_shared(current_process());
        }
        return E_SUCCESS;
    }
    if (tag == EVENTTYPE_FD_READ) return e->kind == FD_STDIN || e->kind == FD_PIPE_READ ? E_SUCCESS : E_BADF;
    return e->kind == FD_STDOUT || e->kind == FD_STDERR || e->kind == FD_PIPE_WRITE ? E_SUCCESS : E_BADF;
}

static void sleep_until(uint64_t deadline) {
    struct process *self = current_process();
    for (;;) {
        uint64_t now = monotonic_now();
        if (now >= deadline) return;
        if (self->can_block) wait_interruptibly((int *)&self->sleep_word, 0, deadline - now);
    }
}

/* First pass: validate every subscription; find whether any fd is polled and the
   earliest clock deadline. */
static errno_t scan(uint32_t in, uint32_t count, uint64_t mono_now, bool *any_fd, uint64_t *earliest) {
    uint8_t sub[SUB_SIZE];
    *any_fd = false;
    *earliest = UINT64_MAX;
    for (uint32_t i = 0; i < count; i++) {
        guest_read(sub, in + i * SUB_SIZE, SUB_SIZE);
        uint8_t tag = sub[SUB_TAG];
        errno_t err;
        uint16_t flags;
        uint64_t deadline;
        if (tag == EVENTTYPE_CLOCK) {
            if ((err = clock_deadline(sub, mono_now, &deadline))) return err;
            if (deadline < *earliest) *earliest = deadline;
        } else if (tag == EVENTTYPE_FD_READ || tag == EVENTTYPE_FD_WRITE) {
            if ((err = fd_event(tag, get_u32(sub + SUB_FD), &flags))) return err;
            *any_fd = true;
        } else {
            return E_INVAL;
        }
    }
    return E_SUCCESS;
}

/* More subscriptions than wasmtime takes in one call: it answers ENOMEM before it looks
   at the buffers. */
#define MAX_SUBSCRIPTIONS ((uint32_t)1 << 21)

EXPORT("poll_oneoff") int32_t wasi_poll_oneoff(uint32_t in, uint32_t out, uint32_t count, uint32_t nevents) {
    if (count == 0) return E_INVAL;
    if (count > MAX_SUBSCRIPTIONS) return E_NOMEM;
    errno_t err = guest_check(in, (uint64_t)count * SUB_SIZE);
    if (err || (err = guest_check(out, (uint64_t)count * EVENT_SIZE)) || (err = guest_check(nevents, 4)))
        return err;
    uint64_t start = monotonic_now(), earliest;
    bool any_fd;
    if ((err = scan(in, count, start, &any_fd, &earliest))) return err;
    if (!any_fd) sleep_until(earliest);
    uint64_t now = monotonic_now();
    uint32_t ready = 0;
    uint8_t sub[SUB_SIZE], event[EVENT_SIZE];
    for (uint32_t i = 0; i < count; i++) {
        guest_read(sub, in + i * SUB_SIZE, SUB_SIZE);
        uint8_t tag = sub[SUB_TAG];
        uint16_t flags = 0;
        uint64_t deadline = 0;
        if (tag == EVENTTYPE_CLOCK) {
            clock_deadline(sub, start, &deadline);
            if (deadline > now) continue;
        } else if (fd_event(tag, get_u32(sub + SUB_FD), &flags)) {
            continue;
        }
        mem_zero(event, sizeof event);
        mem_copy(event, sub, 8);
        event[EVENT_TYPE] = tag;
        if (tag != EVENTTYPE_CLOCK) put_u64(event + EVENT_NBYTES, 1);
        put_u16(event + EVENT_FLAGS, flags);
        guest_write(out + ready * EVENT_SIZE, event, sizeof event);
        ready++;
    }
    return guest_write_u32(nevents, ready);
}
