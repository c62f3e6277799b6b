#include "base/hooks.h"

IMPORT("copy_in") void host_copy_in(uintptr_t, uint32_t, uint32_t);
IMPORT("copy_out") void host_copy_out(uint32_t, uintptr_t, uint32_t);
IMPORT("guest_pages") uint32_t host_guest_pages(void);
IMPORT("output") void host_output(uint32_t, uintptr_t, uint32_t);
IMPORT("input") int32_t host_input(uintptr_t, uint32_t);
IMPORT("clock_time_get") uint32_t host_clock_time_get(uint32_t, uint64_t, uintptr_t);
IMPORT("clock_res_get") uint32_t host_clock_res_get(uint32_t, uintptr_t);
IMPORT("random_get") uint32_t host_random_get(uintptr_t, uint32_t);
IMPORT("exit") void host_exit(uint32_t);
IMPORT("cpu_clock_time_get") uint32_t host_cpu_clock_time_get(uint32_t, uint64_t, uintptr_t);
IMPORT("lazy_list") int32_t host_lazy_list(uint64_t, uintptr_t, uint32_t);
IMPORT("lazy_read") int32_t host_lazy_read(uint64_t, uint64_t, uintptr_t, uint32_t);

/* Not const: the compiler must call through the table slot, never devirtualise. */
void (*hook_copy_in)(uintptr_t, uint32_t, uint32_t) = host_copy_in;
void (*hook_copy_out)(uint32_t, uintptr_t, uint32_t) = host_copy_out;
uint32_t (*hook_guest_pages)(void) = host_guest_pages;
void (*hook_output)(uint32_t, uintptr_t, uint32_t) = host_output;
int32_t (*hook_input)(uintptr_t, uint32_t) = host_input;
uint32_t (*hook_clock_time_get)(uint32_t, uint64_t, uintptr_t) = host_clock_time_get;
uint32_t (*hook_clock_res_get)(uint32_t, uintptr_t) = host_clock_res_get;
uint32_t (*hook_random_get)(uintptr_t, uint32_t) = host_random_get;
void (*hook_exit)(uint32_t) = host_exit;
uint32_t (*hook_cpu_clock_time_get)(uint32_t, uint64_t, uintptr_t) = host_cpu_clock_time_get;
int32_t (*hook_lazy_list)(uint64_t, uintptr_t, uint32_t) = host_lazy_list;
int32_t (*hook_lazy_read)(uint64_t, uint64_t, uintptr_t, uint32_t) = host_lazy_read;

int32_t hook_table_index(int32_t hook) {
    switch (hook) {
    case HOOK_COPY_IN: return (int32_t)(uintptr_t)hook_copy_in;
    case HOOK_COPY_OUT: return (int32_t)(uintptr_t)hook_copy_out;
    case HOOK_GUEST_PAGES: return (int32_t)(uintptr_t)hook_guest_pages;
    case HOOK_OUTPUT: return (int32_t)(uintptr_t)hook_output;
    case HOOK_INPUT: return (int32_t)(uintptr_t)hook_input;
    case HOOK_CLOCK_TIME_GET: return (int32_t)(uintptr_t)hook_clock_time_get;
    case HOOK_CLOCK_RES_GET: return (int32_t)(uintptr_t)hook_clock_res_get;
    case HOOK_RANDOM_GET: return (int32_t)(uintptr_t)hook_random_get;
    case HOOK_EXIT: return (int32_t)(uintptr_t)hook_exit;
    case HOOK_CPU_CLOCK_TIME_GET: return (int32_t)(uintptr_t)hook_cpu_clock_time_get;
    case HOOK_LAZY_LIST: return (int32_t)(uintptr_t)hook_lazy_list;
    case HOOK_LAZY_READ: return (int32_t)(uintptr_t)hook_lazy_read;
    default: return -1;
    }
}

uint64_t realtime_now(void) {
    uint64_t now = 0;
    hook_clock_time_get(CLOCK_REALTIME, 1, core_addr(&now));
    return now;
}
