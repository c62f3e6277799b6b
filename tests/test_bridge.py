"""The multi-memory bridge copies exactly the bytes asked, for every length: short copies
take a path of their own (loads and stores instead of memory.copy), so each length around
its cut-off and every alignment is checked against Python slicing, with nothing else in
either memory touched."""

from __future__ import annotations

import ctypes
import random
from typing import TypeAlias

import pytest
import wasmtime

from wasi_wasm import _bridge
from wasi_wasm._engine import get_engine, new_store
from wasi_wasm._shared_memory import base_address, importable

PAGES = 2
LENGTHS = [*range(0, 2 * _bridge.SMALL_COPY + 3), 4096, 70000]
OFFSETS = [0, 1, 3, 7, 8, 13]
Bytes: TypeAlias = "ctypes.Array[ctypes.c_ubyte]"
Bridge: TypeAlias = tuple[wasmtime.Store, Bytes, Bytes, wasmtime.Instance]


@pytest.fixture(scope="module")
def bridge() -> Bridge:
    if not _bridge.multi_memory_available():
        pytest.skip("the engine has no multi-memory")
    store = new_store()
    memory_type = wasmtime.MemoryType(wasmtime.Limits(PAGES, 65536), shared=True)
    core = wasmtime.SharedMemory(get_engine(), memory_type)
    guest = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(PAGES, None)))
    instance = wasmtime.Instance(
        store, _bridge.bridge_module(guest.type(store)), [importable(core), guest]
    )
    size = PAGES * 65536
    core_bytes = (ctypes.c_ubyte * size).from_address(base_address(core))
    guest_bytes = (ctypes.c_ubyte * size).from_address(
        ctypes.addressof(guest.data_ptr(store).contents)
    )
    return store, core_bytes, guest_bytes, instance


def fill(window: memoryview, seed: int) -> bytes:
    pattern = random.Random(seed).randbytes(len(window))
    window[:] = pattern
    return pattern


@pytest.mark.parametrize("direction", ["copy_in", "copy_out"])
def test_every_length_and_alignment(bridge: Bridge, direction: str) -> None:
    store, core_bytes, guest_bytes, instance = bridge
    copy = instance.exports(store)[direction]
    assert isinstance(copy, wasmtime.Func)
    for length in LENGTHS:
        span = 2000 + length + 64  # only this much of each memory is filled and compared
        core = memoryview(core_bytes).cast("B")[:span]
        guest = memoryview(guest_bytes).cast("B")[:span]
        for dst_offset in OFFSETS:
            src_offset = (dst_offset * 5 + length) % 16
            dst, src = 1000 + dst_offset, 1000 + src_offset
            core_before = fill(core, length * 31 + dst_offset)
            guest_before = fill(guest, length * 17 + dst_offset + 1)
            copy(store, dst, src, length)
            into, source = (core, guest_before) if direction == "copy_in" else (guest, core_before)
            expected = bytearray(core_before if direction == "copy_in" else guest_before)
            expected[dst : dst + length] = source[src : src + length]
            assert into.tobytes() == bytes(expected), (length, dst_offset)
            untouched, before = (guest, guest_before) if into is core else (core, core_before)
            assert untouched.tobytes() == before, (length, dst_offset)
