"""A Wasi is a process; its filesystem is an object of its own (``wasi.fs``), whose every
public method is still reachable on the Wasi as it was before the split."""

from __future__ import annotations

import inspect

import pytest

import wasi_wasm
from wasi_wasm import Filesystem, Wasi
from wasi_wasm._filesystem import FILESYSTEM_METHODS

# The filesystem API of the Wasi before the split, which must stay on it.
BEFORE = {
    "copy_in_tree", "copy_out_tree", "exists", "frozen", "fsck", "is_dir", "is_file", "link",
    "listdir", "load_tar", "lstat", "mkdir", "read_file", "readlink", "remove", "rename",
    "rmdir", "rmtree", "save_tar", "set_times", "stat", "symlink", "used_bytes", "write_file",
}  # fmt: skip


def test_every_filesystem_method_is_reachable_on_the_wasi_with_its_signature() -> None:
    assert set(FILESYSTEM_METHODS) >= BEFORE
    for name in FILESYSTEM_METHODS:
        forwarded = getattr(Wasi, name)
        assert inspect.signature(forwarded) == inspect.signature(getattr(Filesystem, name))
        assert forwarded.__doc__ == getattr(Filesystem, name).__doc__


def test_wasi_fs_is_the_filesystem_and_the_wasi_forwards_to_it() -> None:
    with wasi_wasm.start_wasi() as wasi:
        assert isinstance(wasi.fs, Filesystem)
        assert not isinstance(wasi, Filesystem)  # the process is not the filesystem
        wasi.fs.mkdir("/a/b", parents=True)
        wasi.write_file("/a/b/f", b"one")
        assert wasi.fs.read_file("/a/b/f") == b"one"
        assert wasi.listdir("/a") == wasi.fs.listdir("/a") == ["b"]
        with wasi.frozen():
            assert wasi.fs.stat("/a/b/f").size == 3
        assert wasi.fsck() == wasi.fs.fsck() == 0
        copy = wasi.copy_for_rebinding()
        assert copy.fs is not wasi.fs
        with copy:
            assert copy.fs.read_file("/a/b/f") == b"one"  # one filesystem, two views
        with pytest.raises(ValueError, match="closed"):
            copy.fs.read_file("/a/b/f")
        assert wasi.fs.exists("/a/b/f")  # the copy's close does not close this one's view
    with pytest.raises(ValueError, match="closed"):
        wasi.fs.listdir("/")
    with pytest.raises(ValueError, match="closed"):
        wasi.listdir("/")
