/* The host hooks, called only through function pointers that are slots of the exported
   function table, so a host can replace them per instance (the multi-memory bridge).
   Guest addresses are 32-bit offsets into the bound program's memory; core addresses
   are the core's own (core_addr). */
#ifndef BASE_HOOKS_H
#define BASE_HOOKS_H

#include "base/core.h"
#include "base/host_abi.h" /* HOOK_* */


extern void (*hook_copy_in)(uintptr_t core_dst, uint32_t guest_src, uint32_t len);
extern void (*hook_copy_out)(uint32_t guest_dst, uintptr_t core_src, uint32_t len);
extern uint32_t (*hook_guest_pages)(void);
extern void (*hook_output)(uint32_t fd, uintptr_t core_ptr, uint32_t len);
extern int32_t (*hook_input)(uintptr_t core_ptr, uint32_t len);
extern uint32_t (*hook_clock_time_get)(uint32_t id, uint64_t precision, uintptr_t core_out);
extern uint32_t (*hook_clock_res_get)(uint32_t id, uintptr_t core_out);
extern uint32_t (*hook_random_get)(uintptr_t core_ptr, uint32_t len);
extern void (*hook_exit)(uint32_t code);
extern uint32_t (*hook_cpu_clock_time_get)(uint32_t id, uint64_t precision, uintptr_t core_out);
extern int32_t (*hook_lazy_list)(uint64_t token, uintptr_t core_buf, uint32_t cap);
extern int32_t (*hook_lazy_read)(uint64_t token, uint64_t offset, uintptr_t core_buf, uint32_t len);

/* The table slot of hook (a HOOK_* number), or -1. */
int32_t hook_table_index(int32_t hook);

/* Realtime clock in ns, for file timestamps. */
uint64_t realtime_now(void);

#endif
