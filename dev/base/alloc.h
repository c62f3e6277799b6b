/* The allocator of the shared memory. Callers pass the size back to free (no headers),
   so an empty file's metadata stays small. All calls happen with the VFS lock held
   exclusive, or held shared and the allocator's mutex taken (mem_lock_shared), but
   mem_alloc_shared and mem_free_shared, which take it only when they must.

   Two budgets: what the filesystem and its processes hold counts against the limit a host
   sets (ENOSPC past it); the reserve serves the host's own scratch (fsck's walk, buffers a
   host passes in) and is never refused for the limit, so a full filesystem can still be
   checked, listed and cleaned. Freed blocks are poisoned (AddressSanitizer in the native
   build, a fill pattern in a WASI_WASM_DEBUG wasm build). */
#ifndef BASE_ALLOC_H
#define BASE_ALLOC_H

#include "base/core.h"
#include "base/lock.h"

void *mem_alloc(uint32_t size);               /* NULL when out of memory or over the limit */
void *mem_alloc_zeroed(uint32_t size);
void mem_free(void *p, uint32_t size);
void *mem_realloc(void *p, uint32_t old_size, uint32_t new_size); /* keeps p on failure */
void *mem_alloc_reserve(uint32_t size);       /* outside the limit; NULL only without memory */
void mem_free_reserve(void *p, uint32_t size);
uint32_t mem_block_size(uint32_t size);       /* what a request of size really takes */
uint64_t mem_used_bytes(void);                /* the filesystem budget's part */
uint64_t mem_available_bytes(void);           /* what mem_alloc may still hand out, at most */
void mem_set_limit(uint64_t bytes);           /* 0 = only the 4 GiB memory bounds it */
uint32_t mem_check(void); /* inconsistencies in the allocator's lists; lock exclusive: a cached block is one */
/* For a holder of the VFS lock shared (a file's writer): the allocator's mutex, a leaf. */
void mem_lock_shared(struct lock_holder *holder);
void mem_unlock_shared(struct lock_holder *holder);
/* For a holder of the VFS lock shared, without the allocator's mutex: small blocks come from
   and go back to the holder's own cache (alloc_cache.h), larger ones take the mutex. NULL
   when the budget or the memory is out (a cache keeps blocks only the exclusive lock can
   give back: the caller retries exclusive, whose mem_alloc takes them back). */
void *mem_alloc_shared(struct lock_holder *holder, uint32_t size);
void mem_free_shared(struct lock_holder *holder, void *p, uint32_t size);
/* Lock held exclusive: every holder's cached blocks back to the allocator, so that what
   the budget counts as used is exactly what the filesystem holds (mem_alloc's retry, the
   host's fsck and used bytes, an exclusive write's room). true if any cache had blocks. */
bool mem_drain_caches(void);

#endif
