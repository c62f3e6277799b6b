"""The wasmtime-py SharedMemory workaround (src/wasi_wasm/_shared_memory.py).

The bug tests skip themselves once a fixed wasmtime is installed; the workaround tests show
that what the package relies on works on the installed version either way."""

from __future__ import annotations

import ctypes
import threading

import pytest
import wasmtime

from wasi_wasm import _shared_memory, _wasmtime_private
from wasi_wasm._engine import get_engine, new_store

BUGGY = _shared_memory._has_import_bug()
needs_bug = pytest.mark.skipif(not BUGGY, reason="the installed wasmtime is fixed")

IMPORTER_WAT = """(module
  (import "env" "memory" (memory 1 4 shared))
  (func (export "add") (param i32) (result i32)
    (i32.atomic.rmw.add (i32.const 0) (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))
"""


def _plain_shared_memory() -> wasmtime.SharedMemory:
    memory_type = wasmtime.MemoryType(wasmtime.Limits(1, 4), shared=True)
    return wasmtime.SharedMemory(get_engine(), memory_type)


def _importer(store: wasmtime.Store, memory: wasmtime.SharedMemory) -> wasmtime.Instance:
    module = wasmtime.Module(get_engine(), bytes(wasmtime.wat2wasm(IMPORTER_WAT)))
    return wasmtime.Instance(store, module, [memory])


@needs_bug
def test_plain_shared_memory_cannot_be_imported() -> None:
    with pytest.raises(TypeError, match="LP_LP_wasmtime_sharedmemory"):
        _importer(new_store(), _plain_shared_memory())


@needs_bug
def test_plain_shared_memory_size_is_broken() -> None:
    with pytest.raises(ctypes.ArgumentError):
        _plain_shared_memory().size()


@needs_bug
def test_workaround_is_chosen_only_while_buggy() -> None:
    assert _shared_memory.shared_memory_class() is _wasmtime_private.ImportableSharedMemory


def test_new_shared_memory_imports_and_reports_size() -> None:
    memory = _shared_memory.new_shared_memory(get_engine(), 2, 4)
    assert memory.size() == 2
    assert _shared_memory.pages(memory) == 2
    store = new_store()
    add = _importer(store, memory).exports(store)["add"]
    assert isinstance(add, wasmtime.Func)
    assert add(store, 5) == 0
    assert add(store, 7) == 5
    # The instance wrote into the very memory the host sees.
    assert ctypes.c_int32.from_address(_shared_memory.base_address(memory)).value == 12


def test_importable_gives_a_second_handle_to_an_exported_shared_memory() -> None:
    exporter = wasmtime.Module(
        get_engine(), bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1 4 shared))'))
    )
    store = new_store()
    exported = wasmtime.Instance(store, exporter, []).exports(store)["memory"]
    assert isinstance(exported, wasmtime.SharedMemory)
    handle = _shared_memory.importable(exported)
    load = _importer(store, handle).exports(store)["load"]
    assert isinstance(load, wasmtime.Func)
    ctypes.c_int32.from_address(_shared_memory.base_address(exported) + 8).value = 4242
    assert load(store, 8) == 4242
    # Both handles can be freed independently (each owns one reference).
    del handle
    assert exported.data_len() == 65536


def test_two_threads_share_one_memory() -> None:
    memory = _shared_memory.new_shared_memory(get_engine(), 1, 4)
    rounds = 2000

    def work() -> None:
        store = new_store()
        add = _importer(store, memory).exports(store)["add"]
        assert isinstance(add, wasmtime.Func)
        for _ in range(rounds):
            add(store, 1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ctypes.c_int32.from_address(_shared_memory.base_address(memory)).value == 4 * rounds
