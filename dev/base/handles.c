/* Handle numbers: (generation << 16) | (slot + 1). A slot's generation moves on each time
   it is freed, so an old number never names the slot's next object. */
#include "base/handles.h"
#include "base/alloc.h"

#define MAX_HANDLES 65535u

struct handle_slot {
    void *object;          /* NULL when free */
    uint32_t size;
    uint32_t owner;        /* the process number that made it, 0 for none (handles.h) */
    uint16_t generation;
    uint8_t kind;
};

static struct {
    struct handle_slot *slots;
    uint32_t count;
} handles;

static uint32_t number_of(uint32_t slot) {
    return ((uint32_t)handles.slots[slot].generation << 16) | (slot + 1);
}

static bool grow(void) {
    if (handles.count >= MAX_HANDLES) return false;
    uint32_t count = handles.count ? handles.count * 2 : 16;
    if (count > MAX_HANDLES) count = MAX_HANDLES;
    /* Host bookkeeping: from the reserve, outside the filesystem's budget. */
    uint32_t old_bytes = handles.count * (uint32_t)sizeof *handles.slots;
    struct handle_slot *slots = mem_alloc_reserve(count * (uint32_t)sizeof *slots);
    if (!slots) return false;
    if (old_bytes) mem_copy(slots, handles.slots, old_bytes);
    mem_free_reserve(handles.slots, old_bytes);
    mem_zero(slots + handles.count, (count - handles.count) * sizeof *slots);
    for (uint32_t i = handles.count; i < count; i++) slots[i].generation = 1;
    handles.slots = slots;
    handles.count = count;
    return true;
}

uint32_t handle_new(void *object, uint32_t size, uint8_t kind, uint32_t owner) {
    uint32_t slot = 0;
    while (slot < handles.count && handles.slots[slot].object) slot++;
    if (slot == handles.count && !grow()) return 0;
    handles.slots[slot].object = object;
    handles.slots[slot].size = size;
    handles.slots[slot].kind = kind;
    handles.slots[slot].owner = owner;
    return number_of(slot);
}

static struct handle_slot *slot_of(uint32_t handle) {
    uint32_t slot = (handle & 0xFFFFu) - 1;
    if ((handle & 0xFFFFu) == 0 || slot >= handles.count) return NULL;
    struct handle_slot *s = &handles.slots[slot];
    return s->object && s->generation == handle >> 16 ? s : NULL;
}

void *handle_get(uint32_t handle, uint8_t kind) {
    struct handle_slot *s = slot_of(handle);
    return s && s->kind == kind ? s->object : NULL;
}

void handle_drop(uint32_t handle) {
    struct handle_slot *s = slot_of(handle);
    if (!s) return;
    s->object = NULL;
    s->kind = 0;
    s->owner = 0;
    s->generation = (uint16_t)(s->generation == 0xFFFFu ? 1 : s->generation + 1);
}

uint32_t handle_find(const void *object, uint8_t kind) {
    for (uint32_t i = 0; i < handles.count; i++)
        if (handles.slots[i].object == object && handles.slots[i].kind == kind) return number_of(i);
    return 0;
}

bool handle_covers(uintptr_t p, uint32_t len, uint8_t kind) {
    for (uint32_t i = 0; i < handles.count; i++) {
        const struct handle_slot *s = &handles.slots[i];
        uintptr_t start = (uintptr_t)s->object;
        if (s->object && s->kind == kind && p >= start && (uint64_t)(p - start) + len <= s->size)
            return true;
    }
    return false;
}

void handle_visit(uint8_t kind, void (*visit)(void *object, void *context), void *context) {
    for (uint32_t i = 0; i < handles.count; i++)
        if (handles.slots[i].object && handles.slots[i].kind == kind) visit(handles.slots[i].object, context);
}

uint32_t handle_check(void) {
    uint32_t problems = 0;
    for (uint32_t i = 0; i < handles.count; i++) {
        const struct handle_slot *s = &handles.slots[i];
        if (s->generation == 0 || (s->object && s->kind == 0) || (!s->object && s->kind)) problems++;
    }
    return problems;
}

bool handle_take_owned(uint32_t owner, uint32_t *cursor, struct handle_taken *taken) {
    if (!owner) return false;
    for (; *cursor < handles.count; (*cursor)++) {
        const struct handle_slot *s = &handles.slots[*cursor];
        if (!s->object || s->owner != owner) continue;
        *taken = (struct handle_taken){ s->object, s->size, s->kind };
        handle_drop(number_of(*cursor));
        (*cursor)++;
        return true;
    }
    return false;
}

uint32_t handle_count_orphans(bool (*alive)(uint32_t owner)) {
    uint32_t orphans = 0;
    for (uint32_t i = 0; i < handles.count; i++)
        if (handles.slots[i].object && handles.slots[i].owner && !alive(handles.slots[i].owner)) orphans++;
    return orphans;
}
