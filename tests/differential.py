"""Run one WASI program under wasmtime-py's own WASI (the reference) and under wasi.wasm.

Both runners give the program the same argv[0] (the .wasm file name), the same args,
environment and stdin, and one preopened directory with guest path ``/sandbox`` that starts
empty: a fresh temporary host directory for wasmtime, a fresh in-memory VFS directory for
wasi.wasm.  Each returns ``Outcome(exit_code, stdout, stderr)``.

A wasm trap (anything but ``proc_exit``) is reported as exit code ``TRAP_EXIT_CODE`` with a
``[trap] ...`` line appended to stderr, so a trap can never pass for a clean exit.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import wasmtime

SANDBOX = "/sandbox"
TRAP_EXIT_CODE = 134  # what a shell reports for an aborted process (128 + SIGABRT)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: bytes
    stderr: bytes

    def __iter__(self) -> Any:  # allows ``code, out, err = run_wasmtime(...)``
        return iter((self.exit_code, self.stdout, self.stderr))


@lru_cache(maxsize=1)
def _engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@lru_cache(maxsize=64)
def _module(wasm: Path, mtime_ns: int) -> wasmtime.Module:
    del mtime_ns  # part of the cache key only
    return wasmtime.Module.from_file(_engine(), str(wasm))


def run_wasmtime(
    wasm: str | Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    *,
    sandbox: str | Path | None = None,
) -> Outcome:
    """Run ``wasm`` under wasmtime-py's WASI with an empty temp dir preopened as /sandbox.

    ``sandbox`` (a host directory) replaces the fresh temp dir, e.g. to pre-populate it.
    """
    wasm = Path(wasm).resolve()
    module = _module(wasm, wasm.stat().st_mtime_ns)
    with tempfile.TemporaryDirectory(prefix="wasi-ref-") as tmp:
        tmpdir = Path(tmp)
        box = Path(sandbox) if sandbox is not None else tmpdir / "sandbox"
        box.mkdir(exist_ok=True)
        stdin_path = tmpdir / "stdin"
        stdout_path = tmpdir / "stdout"
        stderr_path = tmpdir / "stderr"
        stdin_path.write_bytes(stdin)

        config = wasmtime.WasiConfig()
        config.argv = [wasm.name, *args]
        config.env = list((env or {}).items())  # same order as given to wasi.wasm
        config.stdin_file = str(stdin_path)
        config.stdout_file = str(stdout_path)
        config.stderr_file = str(stderr_path)
        config.preopen_dir(str(box), SANDBOX)

        store = wasmtime.Store(_engine())
        store.set_wasi(config)
        linker = wasmtime.Linker(_engine())
        linker.define_wasi()
        trap_note = b""
        try:
            instance = linker.instantiate(store, module)
            start = instance.exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)
            start(store)
            exit_code = 0
        except wasmtime.ExitTrap as exc:
            exit_code = exc.code
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            exit_code = TRAP_EXIT_CODE
            trap_note = f"\n[trap] {str(exc).splitlines()[0] if str(exc) else exc!r}\n".encode()
        del store, linker
        return Outcome(exit_code, stdout_path.read_bytes(), stderr_path.read_bytes() + trap_note)


def wasi_wasm_available() -> str | None:
    """None if ``wasi_wasm.run`` can be used, else the reason it cannot."""
    try:
        module = importlib.import_module("wasi_wasm")
    except Exception as exc:  # any import failure means "not available"
        return f"wasi_wasm not importable: {exc!r}"
    if not callable(getattr(module, "run", None)):
        return "wasi_wasm.run does not exist yet"
    return None


def run_wasi_wasm(
    wasm: str | Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    *,
    bridge: bool | None = None,
    wasi: Any = None,
) -> Outcome:
    """Run ``wasm`` under wasi.wasm with VFS directory /sandbox preopened as /sandbox."""
    import wasi_wasm  # noqa: PLC0415 - optional until the package exists

    wasm = Path(wasm).resolve()
    kwargs: dict[str, Any] = {}
    if bridge is not None:
        kwargs["bridge"] = bridge
    if wasi is not None:
        kwargs["wasi"] = wasi
    try:
        result = wasi_wasm.run(
            wasm,
            args=tuple(args),
            env=dict(env or {}),
            stdin=stdin,
            preopens={SANDBOX: SANDBOX},
            **kwargs,
        )
    except wasmtime.ExitTrap as exc:  # should not escape wasi_wasm.run, but never hide it
        return Outcome(exc.code, b"", b"[ExitTrap escaped wasi_wasm.run]\n")
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        return Outcome(TRAP_EXIT_CODE, b"", f"\n[trap] {first}\n".encode())
    return Outcome(int(result.exit_code), bytes(result.stdout), bytes(result.stderr))


def first_difference(a: bytes, b: bytes, context: int = 300) -> str:
    """A readable description of where two outputs first differ (line-based)."""
    la, lb = a.splitlines(keepends=True), b.splitlines(keepends=True)
    for i, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            return f"line {i + 1}: reference {x[:context]!r} vs wasi.wasm {y[:context]!r}"
    if len(la) != len(lb):
        return f"line counts differ: reference {len(la)} vs wasi.wasm {len(lb)}"
    return "outputs equal"
