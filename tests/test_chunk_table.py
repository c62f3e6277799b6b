"""The two-level chunk table of file data (dev/vfs/chunk_table.h): SEEK_DATA and SEEK_HOLE
across leaf boundaries and missing leaves, and ENOSPC at every point where a write or an
allocate reserves blocks (a leaf 0, a top array, a far leaf, a larger chunk 0, the chunks),
which must leave the file and the allocator as they were."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from wasi_wasm import start_wasi
from wasi_wasm._abi import E_NOSPC, RIGHT_FD_ALLOCATE
from wasi_wasm._fs import READ_RIGHTS, WRITE_RIGHTS, _iovec
from wasi_wasm._wasi import Wasi

CHUNK = 1 << 16
LEAF = 1 << 26  # the span of a leaf: 1024 chunks
TIB = 1 << 40
LARGEST = (1 << 44) - 4096  # MAX_FILE_SIZE
E_NXIO = 60


class CoreFile:
    """A file opened through the filesystem's own host process: raw WASI calls that return
    their errno, and the core's SEEK_DATA / SEEK_HOLE."""

    def __init__(self, w: Wasi, path: str) -> None:
        self.w, self.path = w, path
        rights = READ_RIGHTS | WRITE_RIGHTS | RIGHT_FD_ALLOCATE
        self.fd = w.fs._open_at(w.fs._loc(path), 1, rights)  # O_CREAT

    def pwrite(self, offset: int, data: bytes) -> int:
        with self.w.fs._buffers(len(data), 8, 4) as (process, _root, (buf, iov, out)):
            process.memory.write(buf, data)
            process.memory.write(iov, _iovec(buf, len(data)))
            return process.call("fd_pwrite", self.fd, iov, 1, offset, out)

    def pread(self, offset: int, length: int) -> bytes:
        with self.w.fs._buffers(length, 8, 4) as (process, _root, (buf, iov, out)):
            process.memory.write(iov, _iovec(buf, length))
            assert process.call("fd_pread", self.fd, iov, 1, offset, out) == 0
            return process.memory.read(buf, process.memory.read_u32(out))

    def truncate(self, size: int) -> int:
        return self.w.fs._vfs_process()[0].call("fd_filestat_set_size", self.fd, size)

    def allocate(self, offset: int, length: int) -> int:
        return self.w.fs._vfs_process()[0].call("fd_allocate", self.fd, offset, length)

    def seek(self, offset: int, hole: bool) -> int:
        """The offset found, or -errno."""
        with self.w.fs._buffers(8) as (process, _root, (out,)):
            code = process.call("wasi_wasm_seek_data", self.fd, offset, int(hole), out)
            return process.memory.read_u64(out) if code == 0 else -code

    def data_map(self) -> list[tuple[int, int]]:
        """(start, end) of each run of data, as a snapshot finds them."""
        runs, offset = [], 0
        while (start := self.seek(offset, False)) >= 0:
            end = self.seek(start, True)
            runs.append((start, end))
            offset = end
        assert start == -E_NXIO
        return runs

    def close(self) -> None:
        self.w.fs._close(self.fd)


@contextmanager
def core_file(w: Wasi, path: str) -> Iterator[CoreFile]:
    f = CoreFile(w, path)
    try:
        yield f
    finally:
        f.close()


def set_max_bytes(w: Wasi, limit: int) -> None:
    assert w.fs._vfs_process()[0].call("wasi_wasm_set_limits", limit, 0, 0, 0) == 0


def test_seek_data_skips_missing_leaves_and_crosses_leaf_boundaries() -> None:
    with start_wasi() as w, core_file(w, "/f") as f:
        for offset in (5, LEAF - 1, LEAF, TIB, LARGEST - 1):  # chunk 0 holds bytes 0-5
            assert f.pwrite(offset, b"x") == 0
        last_chunk = (LARGEST - 1) // CHUNK * CHUNK
        assert f.data_map() == [
            (0, CHUNK),
            (LEAF - CHUNK, LEAF + CHUNK),  # the last chunk of leaf 0 and the first of leaf 1
            (TIB, TIB + CHUNK),  # past 16 Ki missing leaves
            (last_chunk, LARGEST),  # the end of the file is a hole
        ]
        assert f.seek(0, True) == CHUNK
        assert f.seek(LEAF - CHUNK + 7, True) == LEAF + CHUNK
        assert f.seek(LEAF + CHUNK, False) == TIB
        assert f.seek(2 * LEAF, True) == 2 * LEAF  # a missing leaf is a hole at once
        assert f.seek(TIB + 1, False) == TIB + 1
        assert f.seek(TIB + CHUNK, False) == last_chunk
        assert f.seek(LARGEST - 1, True) == LARGEST
        assert f.seek(LARGEST, False) == -E_NXIO
        assert f.truncate(TIB + 1) == 0
        assert f.data_map() == [(0, CHUNK), (LEAF - CHUNK, LEAF + CHUNK), (TIB, TIB + 1)]
        assert f.truncate(LEAF) == 0
        assert f.data_map() == [(0, CHUNK), (LEAF - CHUNK, LEAF)]
        assert f.seek(LEAF - 1, True) == LEAF
        assert f.truncate(LARGEST) == 0  # the holes of a grown file are holes
        assert f.data_map() == [(0, CHUNK), (LEAF - CHUNK, LEAF)]
        assert f.pread(LEAF - 1, 2) == b"x\0"
        assert w.fsck() == 0


def test_seek_data_in_a_small_leaf_0() -> None:
    """Leaf 0 of a small file has fewer slots than a leaf: the hole after it starts at its
    end, and data past it is found in the far leaves."""
    with start_wasi() as w, core_file(w, "/f") as f:
        assert f.pwrite(0, b"a" * (4 * CHUNK)) == 0  # leaf 0: 4 slots, all full
        assert f.pwrite(5 * LEAF, b"b") == 0
        assert f.seek(0, True) == 4 * CHUNK
        assert f.seek(3 * CHUNK, False) == 3 * CHUNK
        assert f.seek(4 * CHUNK, False) == 5 * LEAF
        assert f.seek(6 * CHUNK, True) == 6 * CHUNK
        assert f.data_map() == [(0, 4 * CHUNK), (5 * LEAF, 5 * LEAF + 1)]
        assert w.fsck() == 0


def test_a_small_file_takes_no_block_for_its_table() -> None:
    """Leaf 0 of one slot is the inode's own slot: 100 bytes take chunk 0's 128-byte block
    alone, a truncation to 0 gives that back and keeps the slot, and a write past chunk 0
    then replaces the empty slot with a leaf 0 of 4 (which a truncation shrinks back)."""
    with start_wasi() as w, core_file(w, "/f") as f:
        empty = w.used_bytes()
        assert f.pwrite(0, b"a" * 100) == 0
        assert w.used_bytes() == empty + 128
        assert f.truncate(0) == 0
        assert w.used_bytes() == empty
        data = bytes(range(256)) * 800  # chunks 0-3
        assert f.pwrite(0, data) == 0
        assert f.pread(0, len(data)) == data
        assert f.truncate(100) == 0
        assert f.pread(0, 200) == data[:100]
        assert w.used_bytes() == empty + CHUNK  # chunk 0 keeps its capacity
        assert w.fsck() == 0


# Each: writes that make the file's starting state, then the change whose reservation the
# limit cuts short at every point along the way.
Write = tuple[str, int, bytes | int]
SCENARIOS: dict[str, tuple[list[Write], Write]] = {
    "the first top array, a leaf and a chunk": ([], ("pwrite", TIB, b"x")),
    "a larger top array, a leaf and a chunk": (
        [("pwrite", 0, b"h" * 100), ("pwrite", 1 << 36, b"y")],
        ("pwrite", TIB, b"x"),
    ),
    "a new leaf in the top array": ([("pwrite", TIB, b"y")], ("pwrite", TIB - 2 * LEAF, b"x")),
    "a larger leaf 0 and chunk 0, new chunks": (
        [("pwrite", 0, b"h" * 100)],
        ("pwrite", 60_000, b"x" * 70_000),
    ),
    "leaf 0 and leaf 1 at once": ([("pwrite", 0, b"h" * 100)], ("pwrite", LEAF - 100, b"x" * 200)),
    "an allocate across a leaf boundary": (
        [("pwrite", LEAF - 1, b"y")],
        ("allocate", LEAF - 1, 3 * CHUNK),
    ),
}


def apply(f: CoreFile, change: Write) -> int:
    kind, offset, what = change
    if kind == "pwrite":
        assert isinstance(what, bytes)
        return f.pwrite(offset, what)
    assert isinstance(what, int)
    return f.allocate(offset, what)


def state(w: Wasi, f: CoreFile) -> tuple[object, ...]:
    probes = (0, 60_000, LEAF - 100, TIB - 2 * LEAF, TIB, 1 << 36)
    size = w.stat(f.path).size
    return (size, w.used_bytes(), f.data_map(), [f.pread(p, 8) for p in probes if p < size])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_enospc_at_each_reservation_point_changes_nothing(name: str) -> None:
    setup, change = SCENARIOS[name]
    with start_wasi() as w, core_file(w, "/f") as f:
        for write in setup:
            assert apply(f, write) == 0
        before = state(w, f)
        used = w.used_bytes()
        refused = 0
        for extra in range(0, 1 << 20, 1 << 10):
            set_max_bytes(w, used + extra)
            code = apply(f, change)
            if code == 0:
                break
            assert code == E_NOSPC, (extra, code)
            refused += 1
            assert state(w, f) == before, f"{extra} bytes more than used"
            assert w.fsck() == 0
        else:
            pytest.fail("never had room")
        set_max_bytes(w, 0)
        # One 64 KiB chunk at least was needed, so the first 64 limits were refused.
        assert refused >= 64
        assert state(w, f) != before
        _kind, offset, what = change
        if isinstance(what, bytes):
            assert f.pread(offset, len(what)) == what
        assert w.fsck() == 0
