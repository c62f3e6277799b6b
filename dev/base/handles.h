/* Handles for objects a host names by number (pipes): an index into a table plus a
   generation, so a stale, released or forged number is refused instead of being taken
   for a pointer. Lock held. */
#ifndef BASE_HANDLES_H
#define BASE_HANDLES_H

#include "base/core.h"

/* HANDLE_FILE: a new file a host is writing, not yet linked (host/fs_write.c). */
enum handle_kind { HANDLE_PIPE = 1, HANDLE_BUFFER = 2, HANDLE_FILE = 3 };

/* size: the object's extent, for handle_covers (0 where nobody asks). */
uint32_t handle_new(void *object, uint32_t size, uint8_t kind); /* 0 when the table cannot grow */
void *handle_get(uint32_t handle, uint8_t kind); /* NULL unless live and of that kind */
void handle_drop(uint32_t handle);               /* after handle_get said it is live */
uint32_t handle_find(const void *object, uint8_t kind); /* its live handle, or 0 */
/* Whether [p, p+len) lies inside one live object of that kind. */
bool handle_covers(uintptr_t p, uint32_t len, uint8_t kind);
/* Calls visit(object) for every live handle of that kind. */
void handle_visit(uint8_t kind, void (*visit)(void *object, void *context), void *context);
uint32_t handle_check(void);                     /* inconsistencies, for fsck */

#endif
