"""The two ways to fill a core instance's copy-hook table slots for a program's memory.

(a) The bridge: a tiny wasm module (dev/bridge/bridge.wat, assembled into bridge.wasm)
    importing the core memory and the program's memory (multi-memory) whose copy functions
    go into the slots, so a syscall never leaves wasm (nanoseconds per copy).
(b) The fallback: Python host functions doing memmove between the two memories
    (microseconds per copy), for engines without multi-memory.
Both fill the same slots, found with wasi_wasm_hook_index, with Table.set.
"""

from __future__ import annotations

import functools
import importlib.resources
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


# Copies up to this many bytes are done with loads and stores (dev/bridge/bridge.wat).
SMALL_COPY = 64

# The bridge, assembled from dev/bridge/bridge.wat by tools/build.py. Its guest memory import
# is "(memory 0 65536 shared)"; the 5 bytes of its limits are patched for each guest type.
_GUEST_IMPORT = b"\x06bridge\x05guest\x02"
_GUEST_LIMITS = bytes([0x03, 0x00, 0x80, 0x80, 0x04])


@functools.cache
def _bridge_bytes() -> bytes:
    wasm = importlib.resources.files(__package__).joinpath("bridge.wasm").read_bytes()
    if wasm.count(_GUEST_IMPORT) != 1 or _limits_at(wasm, 5) != _GUEST_LIMITS:
        raise RuntimeError("bridge.wasm is not the one tools/build.py assembles")
    return wasm


def _limits_at(wasm: bytes, length: int) -> bytes:
    at = wasm.index(_GUEST_IMPORT) + len(_GUEST_IMPORT)
    return wasm[at : at + length]


def guest_limits(shared: bool, max_pages: int | None) -> bytes:
    """The 5 bytes of a guest memory import's limits, minimum 0: a shared memory with its
    maximum (a 3-byte LEB), or a memory with no maximum (the minimum as a padded 4-byte
    LEB, so that the module keeps its size)."""
    if not shared:
        return bytes([0x00, 0x80, 0x80, 0x80, 0x00])
    if max_pages is None or not 0 <= max_pages <= CORE_MAX_PAGES:
        raise ValueError(f"a shared wasm32 memory has 0 to 65536 pages at most, not {max_pages}")
    low, middle, high = max_pages & 0x7F, max_pages >> 7 & 0x7F, max_pages >> 14
    return bytes([0x03, 0x00, low | 0x80, middle | 0x80, high])


def bridge_wasm(shared: bool, max_pages: int | None) -> bytes:
    """The bridge for a guest memory that is ``shared`` (with ``max_pages``) or not."""
    wasm = _bridge_bytes()
    at = wasm.index(_GUEST_IMPORT) + len(_GUEST_IMPORT)
    return wasm[:at] + guest_limits(shared, max_pages) + wasm[at + 5 :]


_bridge_lock = threading.Lock()


@functools.cache
def _bridge_module(shared: bool, max_pages: int | None) -> wasmtime.Module:
    # A shared memory is imported with its exact maximum.
    return wasmtime.Module(get_engine(), bridge_wasm(shared, max_pages))


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
