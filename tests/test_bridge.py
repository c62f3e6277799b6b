"""The multi-memory bridge (dev/bridge/bridge.wat, one module for both hosts) copies exactly
the bytes asked, for every length: short copies take a path of their own (loads and stores
instead of memory.copy), so each length around its cut-off and every alignment is checked
against slicing, with nothing else in either memory touched, into shared and non-shared
guest memories, through the Python host and the JS loader (Node 24, multi-memory)."""

from __future__ import annotations

import ctypes
import json
import random
import subprocess
import sys
from pathlib import Path
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


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=[None, 17, 65536], ids=["plain", "shared17", "shared"])
def bridge(request: pytest.FixtureRequest) -> Bridge:
    """A bridge into a guest memory that is not shared, or shared with this maximum."""
    if not _bridge.multi_memory_available():
        pytest.skip("the engine has no multi-memory")
    store = new_store()
    memory_type = wasmtime.MemoryType(wasmtime.Limits(PAGES, 65536), shared=True)
    core = wasmtime.SharedMemory(get_engine(), memory_type)
    size = PAGES * 65536
    guest: wasmtime.Memory | wasmtime.SharedMemory
    guest_import: wasmtime.Memory | wasmtime.SharedMemory
    if request.param is None:
        guest = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(PAGES, None)))
        guest_type, guest_import = guest.type(store), guest
        address = ctypes.addressof(guest.data_ptr(store).contents)
    else:
        shared_type = wasmtime.MemoryType(wasmtime.Limits(PAGES, request.param), shared=True)
        guest = wasmtime.SharedMemory(get_engine(), shared_type)
        guest_type, guest_import, address = guest.type(), importable(guest), base_address(guest)
    instance = wasmtime.Instance(
        store, _bridge.bridge_module(guest_type), [importable(core), guest_import]
    )
    core_bytes = (ctypes.c_ubyte * size).from_address(base_address(core))
    guest_bytes = (ctypes.c_ubyte * size).from_address(address)
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


def test_the_hosts_patch_only_the_guest_limits() -> None:
    """Both hosts load the one assembled module and change only its guest memory's limits,
    keeping its size: a memory that is not shared gets no maximum (a padded minimum)."""
    plain = _bridge.bridge_wasm(shared=False, max_pages=None)
    shared = _bridge.bridge_wasm(shared=True, max_pages=65536)
    assert shared == (ROOT / "src" / "wasi_wasm" / "bridge.wasm").read_bytes()
    assert len(plain) == len(shared)
    assert [i for i in range(len(plain)) if plain[i] != shared[i]] == [56, 57, 60]
    assert _bridge.guest_limits(True, 17) == bytes([3, 0, 0x91, 0x80, 0])
    assert _bridge.guest_limits(True, 300) == bytes([3, 0, 0xAC, 0x82, 0])
    with pytest.raises(ValueError, match="65536"):
        _bridge.guest_limits(True, 65537)
    js = (ROOT / "js" / "bridge_wasm.mjs").read_text()
    assert "export const GUEST_LIMITS_AT = 56;" in js  # where js/bridge.mjs patches


def test_the_js_loaders_bridge_copies_every_length_and_alignment() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_js import ENGINES  # noqa: PLC0415 - the engines the JS tests use

    node = ENGINES["node24"].require()
    script = ROOT / "tests" / "js" / "bridge_lengths.mjs"
    output = subprocess.run(
        [node, str(script)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    result = json.loads(output)
    assert result == {"multiMemory": True, "failures": []}
