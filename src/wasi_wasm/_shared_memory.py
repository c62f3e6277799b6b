"""The one place that works around wasmtime-py 50's SharedMemory bugs.

wasmtime-py 50.0.1 wraps the shared-memory pointer once too often in two places:
``SharedMemory._as_extern`` builds its extern union with ``ctypes.pointer(self.ptr())``, so a
SharedMemory cannot be passed as an import (TypeError "LP_LP_wasmtime_sharedmemory"), and
``SharedMemory.size`` passes ``ctypes.byref(self.ptr())`` (ctypes.ArgumentError).
``ImportableSharedMemory`` (in ``_wasmtime_private``, with the other private-API uses) fixes
both. ``shared_memory_class()`` returns it only while the installed wasmtime still has the bug
(checked once, by behaviour, at import), so a fixed wasmtime is used as it is and the
workaround becomes dead code that can be deleted.
"""

from __future__ import annotations

import functools

import wasmtime

from ._wasmtime_private import (
    SHARED_MEMORY_IMPORT_BUG,
    ImportableSharedMemory,
    advise_huge_pages,
    clone_shared_memory,
    shared_memory_address,
)

PAGE_SIZE = 65536


def _has_import_bug() -> bool:
    """True when a plain SharedMemory cannot be turned into an extern (the import path)."""
    return SHARED_MEMORY_IMPORT_BUG


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


def _advise_huge_pages(memory: wasmtime.SharedMemory, reserved: int) -> None:
    """A hint only: where madvise or THP is missing, nothing changes."""
    if reserved <= _SMALL_PAGES_BELOW:
        return
    start = base_address(memory) + _SMALL_PAGES_BELOW
    advise_huge_pages(start, reserved - _SMALL_PAGES_BELOW)


def importable(memory: wasmtime.SharedMemory) -> wasmtime.SharedMemory:
    """A handle to the same shared memory that can be passed as an import.

    A SharedMemory obtained from an instance's exports is a plain SharedMemory; on a buggy
    wasmtime it gets a second, fixed handle (wasmtime_sharedmemory_clone: same memory, its own
    reference count, so each handle frees only itself)."""
    cls = shared_memory_class()
    if isinstance(memory, cls):
        return memory
    return clone_shared_memory(memory, cls)


def pages(memory: wasmtime.SharedMemory) -> int:
    """Current size in 64 KiB pages (data_len is correct on every wasmtime version)."""
    return memory.data_len() // PAGE_SIZE


def base_address(memory: wasmtime.SharedMemory) -> int:
    """Address of byte 0. Shared memories never move (other threads may be using them)."""
    return shared_memory_address(memory)
