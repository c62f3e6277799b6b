"""Byte access to the core's shared memory from Python (used by the hooks and the fs API)."""

from __future__ import annotations

import wasmtime

from ._shared_memory import base_address
from ._wasmtime_private import move_bytes, read_bytes, write_bytes

U32_MASK = 0xFFFFFFFF


class CoreMemory:
    """The shared memory that holds the whole filesystem, addressed by core offsets.

    Offsets come from the core itself (hook arguments, wasi_wasm_alloc results), which checks
    them, so these accessors do not bounds-check again. wasmtime hands i32 values to Python
    signed, so offsets and lengths are taken modulo 2**32 (a 4 GiB memory has offsets above
    2**31)."""

    def __init__(self, memory: wasmtime.SharedMemory) -> None:
        self.memory = memory
        # Shared memories never move, so the base address stays valid for the memory's life.
        self.base = base_address(memory)

    def address(self, offset: int) -> int:
        return self.base + (offset & U32_MASK)

    def read(self, offset: int, length: int) -> bytes:
        return read_bytes(self.address(offset), length & U32_MASK)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, bytes):  # the common case, without a second Python call
            if data:
                move_bytes(self.address(offset), data, len(data))
        else:
            write_bytes(self.address(offset), data)

    def read_u32(self, offset: int) -> int:
        return int.from_bytes(self.read(offset, 4), "little")

    def read_u64(self, offset: int) -> int:
        return int.from_bytes(self.read(offset, 8), "little")

    def write_u64(self, offset: int, value: int) -> None:
        self.write(offset, value.to_bytes(8, "little"))
