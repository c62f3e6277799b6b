/* platform_wait32 in wasm: memory.atomic.wait32 in a function of its own, with nothing
   live across it. Node 20's V8 (11.3) compiles the instruction wrongly in its baseline
   compiler (Liftoff): values the function keeps in registers are clobbered by the wait.
   Inlined into mutex_lock's sleep path, the value to store was lost, a compare-exchange of
   0 with that lost value "took" a free mutex without taking it, and two threads held the
   lock at once (duplicated directory entries, lost appends, hangs). tests/test_js.py's lock
   torture runs the lock under Liftoff in every Node the tests find; docs/HOST_NOTES.md has
   the measurements. */
#include "base/platform.h"

#if defined(__wasm__)
__attribute__((noinline)) void platform_wait32(int *word, int expected, int64_t timeout_ns) {
    __builtin_wasm_memory_atomic_wait32(word, expected, timeout_ns);
}
#endif
