"""The one place that works around wasmtime-py 50's SharedMemory bugs.

wasmtime-py 50.0.1 wraps the shared-memory pointer once too often in two places:
``SharedMemory._as_extern`` builds its extern union with ``ctypes.pointer(self.ptr())``, so a
SharedMemory cannot be passed as an import (TypeError "LP_LP_wasmtime_sharedmemory"), and
``SharedMemory.size`` passes ``ctypes.byref(self.ptr())`` (ctypes.ArgumentError).
``ImportableSharedMemory`` fixes both. ``shared_memory_class()`` returns it only while the
installed wasmtime still has the bug (checked once, by behaviour), so a fixed wasmtime is used
as it is and this module becomes dead code that can be deleted.
"""

from __future__ import annotations

import ctypes
import functools
import sys

import wasmtime
from wasmtime import _ffi as ffi

PAGE_SIZE = 65536


class ImportableSharedMemory(wasmtime.SharedMemory):
    """A SharedMemory that can be passed as an import and reports its size."""

    def _as_extern(self) -> ffi.wasmtime_extern_t:
        # The union's field already has the pointer type: pass the pointer itself.
        union = ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return ffi.wasmtime_extern_t(ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)

    def size(self) -> int:
        return int(ffi.wasmtime_sharedmemory_size(self.ptr()))


def _has_import_bug() -> bool:
    """True when a plain SharedMemory cannot be turned into an extern (the import path)."""
    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    probe = wasmtime.SharedMemory(
        wasmtime.Engine(config), wasmtime.MemoryType(wasmtime.Limits(1, 1), shared=True)
    )
    try:
        probe._as_extern()
    except TypeError:
        return True
    return False


@functools.cache
def shared_memory_class() -> type[wasmtime.SharedMemory]:
    """The SharedMemory class to create importable shared memories with."""
    return ImportableSharedMemory if _has_import_bug() else wasmtime.SharedMemory


def new_shared_memory(
    engine: wasmtime.Engine, min_pages: int, max_pages: int
) -> wasmtime.SharedMemory:
    """A shared memory usable as an import on the installed wasmtime."""
    memory_type = wasmtime.MemoryType(wasmtime.Limits(min_pages, max_pages), shared=True)
    memory = shared_memory_class()(engine, memory_type)
    _advise_huge_pages(memory, max_pages * PAGE_SIZE)
    return memory


# Fresh memory costs the kernel a fault and a zeroed page per 4 KiB touched; writing a new
# large file is bound by that (1.4 GB/s here, against 1.9 GB/s for wasmtime's WASI writing
# to tmpfs, which skips zeroing pages it overwrites whole). With transparent huge pages
# (2 MiB: one fault instead of 512) it runs at 2.1 GB/s. The first 8 MiB stay in small pages
# so that a small filesystem costs no more resident memory than it uses.
_SMALL_PAGES_BELOW = 8 << 20
_MADV_HUGEPAGE = 14


def _advise_huge_pages(memory: wasmtime.SharedMemory, reserved: int) -> None:
    """A hint only: where madvise or THP is missing, nothing changes."""
    if not sys.platform.startswith("linux") or reserved <= _SMALL_PAGES_BELOW:
        return
    madvise = ctypes.CDLL(None).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    start = base_address(memory) + _SMALL_PAGES_BELOW
    madvise(start, reserved - _SMALL_PAGES_BELOW, _MADV_HUGEPAGE)


def importable(memory: wasmtime.SharedMemory) -> wasmtime.SharedMemory:
    """A handle to the same shared memory that can be passed as an import.

    A SharedMemory obtained from an instance's exports is a plain SharedMemory; on a buggy
    wasmtime it gets a second, fixed handle (wasmtime_sharedmemory_clone: same memory, its own
    reference count, so each handle frees only itself)."""
    cls = shared_memory_class()
    if isinstance(memory, cls):
        return memory
    clone = ffi.wasmtime_sharedmemory_clone(memory.ptr())
    return cls._from_ptr(clone)


def pages(memory: wasmtime.SharedMemory) -> int:
    """Current size in 64 KiB pages (data_len is correct on every wasmtime version)."""
    return memory.data_len() // PAGE_SIZE


def base_address(memory: wasmtime.SharedMemory) -> int:
    """Address of byte 0. Shared memories never move (other threads may be using them)."""
    address = ctypes.cast(memory.data_ptr(), ctypes.c_void_p).value
    assert address is not None
    return address
