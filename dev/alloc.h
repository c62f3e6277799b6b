/* The allocator of the shared memory. Callers pass the size back to free (no headers),
   so an empty file's metadata stays small. All calls happen with the VFS lock held. */
#ifndef ALLOC_H
#define ALLOC_H

#include "core.h"

void *mem_alloc(uint32_t size);               /* NULL when out of memory or over the limit */
void *mem_alloc_zeroed(uint32_t size);
void mem_free(void *p, uint32_t size);
void *mem_realloc(void *p, uint32_t old_size, uint32_t new_size); /* keeps p on failure */
uint32_t mem_block_size(uint32_t size);       /* what a request of size really takes */
uint64_t mem_used_bytes(void);
void mem_set_limit(uint64_t bytes);           /* 0 = only the 4 GiB memory bounds it */
uint32_t mem_check(void);                     /* inconsistencies in the allocator's own lists */

#endif
