"""The core's layering (tools/check_layers.py): the real tree passes, and the checker
catches an upward include, an include cycle and a misplaced export."""

from __future__ import annotations

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
