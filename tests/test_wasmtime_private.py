"""The import-time check of wasmtime-py's private API (src/wasi_wasm/_wasmtime_private.py):
it passes on the installed wasmtime, and a missing or changed internal gives one ImportError
that names the installed wasmtime-py and the supported range."""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime
from wasmtime import _ffi

from wasi_wasm import _wasmtime_private as private

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = importlib.metadata.version("wasmtime")


def test_the_supported_range_is_the_one_in_pyproject() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = re.search(r"^dependencies = \[(.*)\]$", text, re.MULTILINE)
    assert dependencies is not None
    wanted = re.findall(r'"(wasmtime[^"]*)"', dependencies.group(1))
    assert [dep.replace(" ", "") for dep in wanted] == [f"wasmtime{private.SUPPORTED_WASMTIME}"]


def test_the_check_passes_on_the_installed_wasmtime() -> None:
    assert private.check() is private.SHARED_MEMORY_IMPORT_BUG


def assert_unsupported(error: BaseException, problem: str) -> None:
    message = str(error)
    assert isinstance(error, ImportError)
    assert f"installed wasmtime-py {INSTALLED}" in message
    assert f"supported: wasmtime{private.SUPPORTED_WASMTIME}" in message
    assert problem in message


def test_a_missing_c_function_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(_ffi, "wasmtime_func_call_unchecked")
    with pytest.raises(private.UnsupportedWasmtimeError) as caught:
        private.check()
    assert_unsupported(caught.value, "wasmtime._ffi.wasmtime_func_call_unchecked is missing")


def test_a_changed_signature_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def wasmtime_table_set(store: object, table: object, index: object) -> None:
        return None

    monkeypatch.setattr(_ffi, "wasmtime_table_set", wasmtime_table_set)
    with pytest.raises(private.UnsupportedWasmtimeError) as caught:
        private.check()
    assert_unsupported(caught.value, "wasmtime._ffi.wasmtime_table_set takes 3 arguments, not 4")


def test_a_missing_method_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(wasmtime.Store, "_context")
    with pytest.raises(private.UnsupportedWasmtimeError) as caught:
        private.check()
    assert_unsupported(caught.value, "wasmtime.Store._context is missing")


def test_a_deadline_callback_of_another_shape_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A C callback whose signature differs from wasmtime-py's would crash, not raise: the
    check compares the two."""
    monkeypatch.setattr(private, "_Finalizer", ctypes.CFUNCTYPE(None, ctypes.c_uint8))
    with pytest.raises(private.UnsupportedWasmtimeError) as caught:
        private.check()
    assert_unsupported(caught.value, "the epoch-deadline finalizer has another C signature")


def test_a_changed_behaviour_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private path that exists but does not work is caught by the check's tiny uses."""
    monkeypatch.setattr(private, "load_u32", lambda _address: 0)
    with pytest.raises(private.UnsupportedWasmtimeError) as caught:
        private.check()
    assert_unsupported(caught.value, "does not see the same bytes")


def test_a_failing_private_call_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_memory: object) -> object:
        raise AttributeError("'SharedMemory' object has no attribute '_SharedMemory__ptr'")

    monkeypatch.setattr(_ffi, "wasmtime_sharedmemory_clone", broken)
    with pytest.raises(private.UnsupportedWasmtimeError) as caught:
        private.check()
    assert_unsupported(caught.value, "AttributeError: 'SharedMemory' object has no attribute")


def test_importing_the_package_says_so(tmp_path: Path) -> None:
    """`import wasi_wasm` on a wasmtime without a needed internal fails with the message
    (and nothing else imports the internal first)."""
    script = "import wasmtime._ffi as ffi\ndel ffi.wasmtime_instance_export_get\nimport wasi_wasm\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("wasi_wasm._wasmtime_private.UnsupportedWasmtimeError: ")
    assert f"installed wasmtime-py {INSTALLED}" in last
    assert "wasmtime._ffi.wasmtime_instance_export_get is missing" in last
    assert re.search(r"pip install 'wasmtime>=[\d.]+,<\d+'$", last)
