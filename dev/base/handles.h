/* Handles for objects a host names by number (pipes, scratch buffers, new files): an index
   into a table plus a generation, so a stale, released or forged number is refused instead
   of being taken for a pointer. Each records its owner, the number of the process that made
   it (0: none), whose end (detach or reap) releases what it still holds: a host whose thread
   died (a terminated Worker) never drops its numbers itself. Any process with the number may
   use it while it lives. Lock held. */
#ifndef BASE_HANDLES_H
#define BASE_HANDLES_H

#include "base/core.h"

/* HANDLE_FILE: a new file a host is writing, not yet linked (host/fs_write.c). */
enum handle_kind { HANDLE_PIPE = 1, HANDLE_BUFFER = 2, HANDLE_FILE = 3 };

/* size: the object's extent, for handle_covers (0 where nobody asks); owner: a process
   number, or 0 for a handle no process's end releases. */
uint32_t handle_new(void *object, uint32_t size, uint8_t kind, uint32_t owner); /* 0 when the table cannot grow */
void *handle_get(uint32_t handle, uint8_t kind); /* NULL unless live and of that kind */
void handle_drop(uint32_t handle);               /* after handle_get said it is live */
uint32_t handle_find(const void *object, uint8_t kind); /* its live handle, or 0 */
/* Whether [p, p+len) lies inside one live object of that kind. */
bool handle_covers(uintptr_t p, uint32_t len, uint8_t kind);
/* Calls visit(object) for every live handle of that kind. */
void handle_visit(uint8_t kind, void (*visit)(void *object, void *context), void *context);
uint32_t handle_check(void);                     /* inconsistencies, for fsck */

/* What a handle named, once handle_take_owned dropped it. */
struct handle_taken {
    void *object;
    uint32_t size;
    uint8_t kind;
};
/* Drops the next live handle owner (nonzero) made, from slot *cursor on, and says what it
   named: the caller then releases the object. The handle goes first, so a stop in between
   leaves a leak, never a number naming a freed object. False when none is left. */
bool handle_take_owned(uint32_t owner, uint32_t *cursor, struct handle_taken *taken);
/* Live handles whose owner alive(owner) says is gone (a leak: nothing would release them). */
uint32_t handle_count_orphans(bool (*alive)(uint32_t owner));

#endif
