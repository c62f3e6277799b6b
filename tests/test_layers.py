"""The core's layering (tools/check_layers.py): the real tree passes, and the checker
catches an upward include, an include cycle and a misplaced export."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import check_layers


def test_dev_is_layered() -> None:
    assert check_layers.check() == []


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_checker_catches_violations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "base/a.h", '#include "base/b.h"\n')
    write(tmp_path, "base/b.h", '#include "base/a.h"\n')
    write(tmp_path, "vfs/v.c", '#include "process/p.h"\n')
    write(tmp_path, "process/p.h", "\n")
    write(tmp_path, "wasi/w.c", '#include "host/h.h"\nEXPORT("wasi_wasm_x") int x;\n')
    write(tmp_path, "host/h.h", "\n")
    write(tmp_path, "host/host.c", 'EXPORT("fd_read") int y;\n')
    write(tmp_path, "stray.c", "\n")
    monkeypatch.setattr(check_layers, "DEV", tmp_path)
    problems = "\n".join(check_layers.check())
    assert "stray.c: not in a layer folder" in problems
    assert "include cycle: base/a.h -> base/b.h -> base/a.h" in problems
    assert "vfs/v.c: includes process/p.h, a layer it may not see" in problems
    assert "wasi/w.c: includes host/h.h, a layer it may not see" in problems
    assert "wasi/w.c: exports wasi_wasm_x" in problems
    assert "host/host.c: exports fd_read" in problems


def test_checker_catches_import_cycles(tmp_path: Path) -> None:
    """A cycle through a function-local import, one through a type-only import and a
    module importing itself are found in a planted package; in js/, a cycle through a JSDoc
    type import and a re-export."""
    package = tmp_path / "wasi_wasm"
    write(package, "__init__.py", "from ._a import A\n")
    write(package, "_a.py", "from . import _b\nA = 1\n")
    write(package, "_b.py", "def late():\n    from ._c import C  # noqa\n    return C\n")
    write(package, "_c.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
          "    import wasi_wasm._a\nC = 1\n")  # fmt: skip
    write(package, "_d.py", "from wasi_wasm import _e\n")
    write(package, "_e.py", "from ._d import y\n")
    write(package, "_f.py", "import wasi_wasm._f\n")
    write(package, "_ok.py", "from ._a import A\nimport os\nfrom .. import elsewhere\n")
    js = tmp_path / "js"
    write(js, "a.mjs", "import {b} from './b.mjs';\nexport const a = 1;\n")
    write(js, "b.mjs", "/** @import {C} from './c.mjs' */\nexport const b = 1;\n")
    write(js, "c.mjs", "export {a} from './a.mjs';\n")
    write(js, "d.mjs", "import {a} from './a.mjs';\n")
    problems = check_layers.import_cycle_problems(package, js)
    assert problems == [
        "python import cycle: _a -> _b -> _c -> _a",
        "python import cycle: _d -> _e -> _d",
        "python import cycle: _f -> _f",
        "js import cycle: a.mjs -> b.mjs -> c.mjs -> a.mjs",
    ], problems


def test_the_real_sources_have_no_import_cycle() -> None:
    assert check_layers.import_cycle_problems() == []
    graph = check_layers.python_imports(check_layers.PACKAGE)
    assert "_wasi" in graph["_run"] and "_fs" in graph["_snapshot"]  # the graph is read
    assert "platform.mjs" in check_layers.js_imports(check_layers.JS)["bridge.mjs"]


# -- the Python host: wasmtime-py's private API and ctypes in one module ---------------------

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "wasi_wasm"
PRIVATE_MODULE = "_wasmtime_private.py"
# Private attributes of wasmtime-py objects (and ctypes pointers from its public API) that the
# package uses; any attribute with a leading underscore reached from `wasmtime.` counts too.
PRIVATE_ATTRIBUTES = frozenset(
    {"_from_raw", "_from_ptr", "_context", "_as_extern", "_instance", "_func", "_consume",
     "_set_ptr", "ptr", "data_ptr"}
)  # fmt: skip


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def private_api_uses(source: str, name: str) -> list[str]:
    """Lines of ``source`` that import ctypes or a private wasmtime module, or reach into a
    private part of wasmtime-py."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ctypes" or alias.name.startswith("wasmtime._"):
                    found.append(f"{line}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            if module.split(".")[0] == "ctypes" or module.startswith("wasmtime._"):
                found.append(f"{line}: imports from {module}")
            elif module == "wasmtime":
                found += [
                    f"{line}: imports wasmtime.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
        elif isinstance(node, ast.Name) and node.id in ("ffi", "ctypes"):
            found.append(f"{line}: uses {node.id}")
        elif isinstance(node, ast.Attribute):
            from_wasmtime = _root_name(node) == "wasmtime" and node.attr.startswith("_")
            if node.attr in PRIVATE_ATTRIBUTES or from_wasmtime:
                found.append(f"{line}: uses .{node.attr}")
    return found


def test_only_one_module_uses_wasmtime_internals_or_ctypes() -> None:
    """Every use of wasmtime-py's private API and of ctypes is in _wasmtime_private.py, which
    checks at import that they still work (so an unsupported wasmtime fails in one place)."""
    modules = sorted(PACKAGE.glob("*.py"))
    assert PACKAGE / PRIVATE_MODULE in modules
    found = []
    for path in modules:
        if path.name != PRIVATE_MODULE:
            found += private_api_uses(path.read_text(), path.name)
    assert found == []


def test_the_private_api_rule_catches_each_kind_of_use() -> None:
    source = """
import ctypes
import wasmtime._func
from ctypes import byref
from wasmtime import _ffi as ffi, Store
from wasmtime._func import maybe_raise_last_exn
ffi.wasmtime_error_new(b"x")
store._context()
wasmtime.Func._from_raw(handle)
memory.data_ptr()
wasmtime._ffi
self.instance.exports(store)
from ._wasmtime_private import load_u32
"""
    found = sorted(use.split(":", 2)[2].strip() for use in private_api_uses(source, "m.py"))
    assert found == sorted(
        [
            "imports ctypes",
            "imports wasmtime._func",
            "imports from ctypes",
            "imports wasmtime._ffi",
            "imports from wasmtime._func",
            "uses ffi",
            "uses ._context",
            "uses ._from_raw",
            "uses .data_ptr",
            "uses ._ffi",
        ]
    )
