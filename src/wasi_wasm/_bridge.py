"""The two ways to fill a core instance's copy-hook table slots for a program's memory.

(a) The bridge: a tiny wasm module importing the core memory and the program's memory
    (multi-memory) whose `memory.copy` functions go into the slots, so a syscall never leaves
    wasm (nanoseconds per copy).
(b) The fallback: Python host functions doing memmove between the two memories
    (microseconds per copy), for engines without multi-memory.
Both fill the same slots, found with wasi_wasm_hook_index, with Table.set.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import wasmtime

from ._core_memory import U32_MASK, CoreMemory
from ._engine import get_engine
from ._hooks import Hook
from ._shared_memory import PAGE_SIZE, base_address, importable, pages
from ._wasmtime_private import (
    export_func,
    func_from_handle,
    instantiate,
    memory_address,
    move_bytes,
)

GuestMemory = wasmtime.Memory | wasmtime.SharedMemory
CORE_MAX_PAGES = 65536

_I32 = wasmtime.ValType.i32()
COPY_TYPE = wasmtime.FuncType([_I32, _I32, _I32], [])
PAGES_TYPE = wasmtime.FuncType([], [_I32])


# Copies up to this many bytes are done with loads and stores: wasmtime implements
# memory.copy between two memories as a call into the runtime (~25 ns), which dominated a
# short write (three copies: the iovec, the data, the count written).
SMALL_COPY = 64


def _small_copy(to: str, source: str) -> str:
    """Body that copies $len <= SMALL_COPY bytes from $source at $src to $to at $dst: 8-byte
    loads and stores, then one 4-, 2- and 1-byte step as $len's low bits say (unaligned
    access is allowed in wasm)."""
    tail = ""
    for width, load, store in ((4, "i32.load", "i32.store"), (2, "i32.load16_u", "i32.store16"),
                               (1, "i32.load8_u", "i32.store8")):  # fmt: skip
        tail += f"""
    (if (i32.and (local.get $len) (i32.const {width}))
      (then
        ({store} ${to} (local.get $dst) ({load} ${source} (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const {width})))
        (local.set $src (i32.add (local.get $src) (i32.const {width})))))"""
    return f"""
    (block $words_done
      (loop $words
        (br_if $words_done (i32.lt_u (local.get $len) (i32.const 8)))
        (i64.store ${to} (local.get $dst) (i64.load ${source} (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $len (i32.sub (local.get $len) (i32.const 8)))
        (br $words))){tail}"""


def _copy_function(name: str, to: str, source: str) -> str:
    return f"""
  (func (export "{name}") (param $dst i32) (param $src i32) (param $len i32)
    (if (i32.le_u (local.get $len) (i32.const {SMALL_COPY}))
      (then {_small_copy(to, source)}
        (return)))
    (memory.copy ${to} ${source} (local.get $dst) (local.get $src) (local.get $len)))"""


def _bridge_wat(guest: wasmtime.MemoryType) -> str:
    """Bridge source for one guest memory type. The minimum is 0 so any current size fits;
    a shared memory must be imported with its exact maximum. copy_in(core_dst, guest_src,
    len) and copy_out(guest_dst, core_src, len), as the core's hooks take them."""
    guest_limits = f"0 {guest.limits.max} shared" if guest.is_shared else "0"
    copy_in = _copy_function("copy_in", "core", "guest")
    copy_out = _copy_function("copy_out", "guest", "core")
    return f"""(module
  (import "bridge" "core" (memory $core 0 {CORE_MAX_PAGES} shared))
  (import "bridge" "guest" (memory $guest {guest_limits})){copy_in}{copy_out}
  (func (export "guest_pages") (result i32) (memory.size $guest)))
"""


_bridge_lock = threading.Lock()


@functools.cache
def _bridge_module(shared: bool, max_pages: int | None) -> wasmtime.Module:
    limits = wasmtime.Limits(0, max_pages)
    wat = _bridge_wat(wasmtime.MemoryType(limits, shared=shared))
    return wasmtime.Module(get_engine(), bytes(wasmtime.wat2wasm(wat)))


def bridge_module(guest: wasmtime.MemoryType) -> wasmtime.Module:
    """The compiled bridge for a guest memory type (cached per type)."""
    key = (guest.is_shared, guest.limits.max if guest.is_shared else None)
    with _bridge_lock:
        return _bridge_module(*key)


@functools.cache
def multi_memory_available() -> bool:
    """Whether the engine accepts the bridge (it needs multi-memory)."""
    try:
        bridge_module(wasmtime.MemoryType(wasmtime.Limits(0, None)))
    except wasmtime.WasmtimeError:
        return False
    return True


def memory_type(store: wasmtime.Store, memory: GuestMemory) -> wasmtime.MemoryType:
    if isinstance(memory, wasmtime.SharedMemory):
        return memory.type()
    return memory.type(store)


SlotSetter = Callable[[Hook, wasmtime.Func], None]
_BRIDGE_EXPORTS = ((Hook.COPY_IN, b"copy_in"), (Hook.COPY_OUT, b"copy_out"),
                   (Hook.GUEST_PAGES, b"guest_pages"))  # fmt: skip


def install_bridge(
    store: wasmtime.Store, set_slot: SlotSetter, core: CoreMemory, guest: GuestMemory
) -> None:
    """Instantiate a bridge between the core memory and ``guest`` and plug it in."""
    module = bridge_module(memory_type(store, guest))
    guest_import = importable(guest) if isinstance(guest, wasmtime.SharedMemory) else guest
    instance = instantiate(store, module, [core.memory, guest_import])
    for hook, name in _BRIDGE_EXPORTS:
        function = export_func(store, instance, name)
        assert function is not None
        set_slot(hook, func_from_handle(function))


def _guest_accessors(
    guest: GuestMemory,
) -> tuple[Callable[[wasmtime.Caller], int], Callable[[wasmtime.Caller], int]]:
    """(base address, pages) of the guest memory, looked up afresh on every call: a
    non-shared memory can move when it grows."""
    if isinstance(guest, wasmtime.SharedMemory):
        fixed_base = base_address(guest)
        return (lambda _caller: fixed_base), (lambda _caller: pages(guest))

    def base(caller: wasmtime.Caller) -> int:
        return memory_address(guest, caller)

    def size(caller: wasmtime.Caller) -> int:
        return guest.data_len(caller) // PAGE_SIZE

    return base, size


def install_fallback(
    store: wasmtime.Store, set_slot: SlotSetter, core: CoreMemory, guest: GuestMemory
) -> None:
    """Plug Python copy functions into the slots (the core has bounds-checked every range;
    i32 arguments arrive signed, hence the masks)."""
    guest_base, guest_pages = _guest_accessors(guest)
    core_base = core.base

    def copy_in(caller: wasmtime.Caller, core_dst: int, guest_src: int, length: int) -> None:
        move_bytes(
            core_base + (core_dst & U32_MASK),
            guest_base(caller) + (guest_src & U32_MASK),
            length & U32_MASK,
        )

    def copy_out(caller: wasmtime.Caller, guest_dst: int, core_src: int, length: int) -> None:
        move_bytes(
            guest_base(caller) + (guest_dst & U32_MASK),
            core_base + (core_src & U32_MASK),
            length & U32_MASK,
        )

    set_slot(Hook.COPY_IN, wasmtime.Func(store, COPY_TYPE, copy_in, access_caller=True))
    set_slot(Hook.COPY_OUT, wasmtime.Func(store, COPY_TYPE, copy_out, access_caller=True))
    set_slot(Hook.GUEST_PAGES, wasmtime.Func(store, PAGES_TYPE, guest_pages, access_caller=True))


def bind_memory(
    store: wasmtime.Store,
    set_slot: SlotSetter,
    core: CoreMemory,
    guest: GuestMemory,
    bridge: bool | None,
) -> bool:
    """Bind ``guest`` with the bridge (default when available) or the fallback.
    Returns whether the bridge is used."""
    guest_type = memory_type(store, guest)
    if guest_type.is_64:
        raise ValueError("a 64-bit memory cannot be bound: WASI preview 1 programs are wasm32")
    use_bridge = multi_memory_available() if bridge is None else bridge
    if use_bridge:
        install_bridge(store, set_slot, core, guest)
    else:
        install_fallback(store, set_slot, core, guest)
    return use_bridge
