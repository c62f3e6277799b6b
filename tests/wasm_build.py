"""Compile the C test programs to wasm32-wasi with the pinned zig, cached by source hash."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

PROGRAMS_DIR = Path(__file__).parent / "programs"
CACHE_DIR = Path(os.environ.get("WASI_WASM_TEST_CACHE", Path(__file__).parent / ".cache"))
CFLAGS = ["--target=wasm32-wasi", "-O2", "-s", "-Wall", "-Wextra", "-Werror"]


def _compiler() -> list[str]:
    cc = os.environ.get("WASI_CC")
    return cc.split() if cc else [sys.executable, "-m", "ziglang", "cc"]


def compile_program(source: str | Path, extra_flags: tuple[str, ...] = ()) -> Path:
    """Return a cached .wasm for a C file (a name in tests/programs or a path)."""
    path = Path(source)
    if not path.suffix:
        path = PROGRAMS_DIR / f"{path}.c"
    elif not path.is_absolute() and not path.exists():
        path = PROGRAMS_DIR / path
    text = path.read_bytes()
    headers = b"".join(h.read_bytes() for h in sorted(path.parent.glob("*.h")))
    key = hashlib.sha256(text + headers + repr((CFLAGS, extra_flags)).encode()).hexdigest()[:16]
    out = CACHE_DIR / f"{path.stem}-{key}.wasm"
    if out.exists():
        return out
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    subprocess.run([*_compiler(), *CFLAGS, *extra_flags, "-o", str(tmp), str(path)], check=True)
    tmp.replace(out)
    return out


def compile_core(name: str, extra_flags: tuple[str, ...]) -> Path:
    """The core as tools/build.py builds it, with extra -D knobs (cached by sources and
    flags): tests that need a number to start near its limit or a window held open."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "tools"))
    try:
        import build  # noqa: PLC0415 - tools/ is not a package

        sources = sorted(build.SOURCES.glob("*/*.c"))
        headers = sorted(build.SOURCES.glob("*/*.h"))
        flags = [*build.FLAGS, *extra_flags]
        text = b"".join(path.read_bytes() for path in (*sources, *headers))
        key = hashlib.sha256(text + repr(flags).encode()).hexdigest()[:16]
        out = CACHE_DIR / f"wasi-{name}-{key}.wasm"
        if not out.exists():
            relative = [str(path.relative_to(root)) for path in sources]
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(build.patch_max_pages(build.compile_wasm(flags, relative)))
            tmp.replace(out)
        return out
    finally:
        sys.path.remove(str(root / "tools"))
