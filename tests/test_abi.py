"""The ABI is written once (abi/*.toml) and generated into C, Python, JS and the test
headers (tools/gen_abi.py): the generated files are current, every number agrees with
wasi-libc's <wasi/api.h>, and the built core imports and exports exactly what the ABI says,
with the same wasm types."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

import wasi_wasm
from wasi_wasm import _abi
from wasi_wasm._engine import get_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import gen_abi  # noqa: E402


def test_generated_files_are_current() -> None:
    check = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_abi.py"), "--check"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_every_number_agrees_with_wasi_libc(wasm_program: Callable[..., Path]) -> None:
    """abi_check.c compiles only if each enum value, right bit, struct size and offset is
    wasi-libc's, and every function is one it declares; run, it counts them."""
    result = wasi_wasm.run(wasm_program("abi_check"), [])
    checked = len(_abi.WASI_FUNCTIONS) - len(gen_abi.load().libc_omits)
    assert result.stdout == f"{checked} functions agree\n".encode()


@pytest.mark.parametrize("wrong", ["errno", "struct", "right"])
def test_a_wrong_number_fails_the_check(
    wrong: str, wasm_program: Callable[..., Path], tmp_path: Path
) -> None:
    abi = gen_abi.load()
    if wrong == "errno":
        prefix, values, witx = abi.enums["errno"]
        errno = (prefix, {**values, "noent": 45}, witx)
        abi = dataclasses.replace(abi, enums={**abi.enums, "errno": errno})
    elif wrong == "struct":
        prefix, size, fields = abi.structs["filestat"]
        filestat = (prefix, size, {**fields, "filesize": (40, "size")})
        abi = dataclasses.replace(abi, structs={**abi.structs, "filestat": filestat})
    else:
        swapped = abi.rights[:5] + abi.rights[6:7] + abi.rights[5:6] + abi.rights[7:]
        abi = dataclasses.replace(abi, rights=swapped)
    source = tmp_path / "abi_check_wrong.c"
    source.write_text(gen_abi.abi_check(abi))
    with pytest.raises(subprocess.CalledProcessError):
        wasm_program(source)


def wasm_types(types: list[wasmtime.ValType]) -> tuple[str, ...]:
    return tuple(str(t) for t in types)


def test_the_core_exports_and_imports_what_the_abi_says() -> None:
    module = wasmtime.Module.from_file(get_engine(), ROOT / "wasi.wasm")
    exports = {e.name: e.type for e in module.exports if isinstance(e.type, wasmtime.FuncType)}
    expected = {name: _abi.SIGNATURES[name] for name in (*_abi.WASI_FUNCTIONS, *_abi.HOST_EXPORTS)}
    got = {name: (wasm_types(t.params), wasm_types(t.results)) for name, t in exports.items()}
    assert got == expected
    imports = {i.name: i.type for i in module.imports if isinstance(i.type, wasmtime.FuncType)}
    got_hooks = {name: (wasm_types(t.params), wasm_types(t.results)) for name, t in imports.items()}
    assert got_hooks == _abi.HOOK_SIGNATURES
