"""Build wasi.wasm from dev/*/*.c, and the demo program, with the pinned zig (or $CC).

usage: python tools/build.py           write wasi.wasm, src/wasi_wasm/{wasi,demo}.wasm
       python tools/build.py --check   fail if the committed files differ from a fresh build
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import bundle

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "dev"
CORE_OUTPUTS = [ROOT / "wasi.wasm", ROOT / "src" / "wasi_wasm" / "wasi.wasm"]
DEMO_SOURCE = ROOT / "examples" / "demo.c"
DEMO_OUTPUT = ROOT / "src" / "wasi_wasm" / "demo.wasm"
DEMO_FLAGS = ["--target=wasm32-wasi", "-O2", "-s", "-Wall", "-Wextra", "-Werror"]
MAX_PAGES = 65536
SIZE_LIMIT = 64 * 1024

FLAGS = [
    "--target=wasm32-freestanding",
    "-std=c17",
    "-O2",
    "-mcpu=generic+atomics+bulk_memory+mutable_globals+sign_ext",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Idev",
    "-nostdlib",
    "-ffreestanding",
    "-Wl,--no-entry",
    "-Wl,--import-memory",
    "-Wl,--export-memory",
    "-Wl,--shared-memory",
    # wasm-ld cannot say 4 GiB here; patch_max_pages raises the limit to 65536 pages.
    f"-Wl,--max-memory={(MAX_PAGES - 1) * 65536}",
    "-Wl,--export-table",
    "-Wl,--export=__stack_pointer",
    "-Wl,-z,stack-size=65536",
    "-Wl,--strip-all",
    "-s",
]


def compiler() -> list[str]:
    cc = os.environ.get("CC")
    return shlex.split(cc) if cc else [sys.executable, "-m", "ziglang", "cc"]


def read_leb(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def patch_max_pages(wasm: bytes) -> bytes:
    """Raise the imported memory's maximum from 65535 to 65536 pages (both 3-byte LEBs)."""
    data = bytearray(wasm)
    pos = 8
    while pos < len(data):
        section, pos = data[pos], pos + 1
        size, body = read_leb(data, pos)
        if section == 2:
            count, p = read_leb(data, body)
            for _ in range(count):
                for _ in range(2):
                    length, p = read_leb(data, p)
                    p += length
                kind, p = data[p], p + 1
                if kind != 2:
                    raise SystemExit("build: expected only the memory import to patch")
                flags, p = data[p], p + 1
                _, p = read_leb(data, p)
                if flags & 1:
                    maximum, end = read_leb(data, p)
                    if maximum != MAX_PAGES - 1 or end - p != 3:
                        raise SystemExit(f"build: unexpected memory maximum {maximum}")
                    data[p:end] = bytes([0x80, 0x80, 0x04])
                    return bytes(data)
        pos = body + size
    raise SystemExit("build: no memory import found")


def compile_wasm(flags: list[str], sources: list[str]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wasm"
        result = subprocess.run(
            [*compiler(), *flags, "-o", str(out), *sources], cwd=ROOT, check=False
        )
        if result.returncode:
            raise SystemExit(f"build: the compiler failed (exit {result.returncode})")
        return out.read_bytes()


def build_core() -> bytes:
    sources = sorted(str(p.relative_to(ROOT)) for p in SOURCES.glob("*/*.c"))
    wasm = patch_max_pages(compile_wasm(FLAGS, sources))
    if len(wasm) >= SIZE_LIMIT:
        raise SystemExit(f"build: wasi.wasm is {len(wasm)} bytes, over the {SIZE_LIMIT} limit")
    return wasm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    core = build_core()
    demo = compile_wasm(DEMO_FLAGS, [str(DEMO_SOURCE.relative_to(ROOT))])
    wanted = {path: core for path in CORE_OUTPUTS} | {DEMO_OUTPUT: demo}
    if args.check:
        stale = [
            str(p.relative_to(ROOT))
            for p, data in wanted.items()
            if not p.exists() or p.read_bytes() != data
        ]
        if stale:
            print(
                f"build: stale, differs from a fresh build: {', '.join(stale)} "
                "(run python tools/build.py)"
            )
            return 1
        print(f"build: wasi.wasm ({len(core)} bytes) and demo.wasm are current")
        return 0
    for path, data in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # wasi-bundled.mjs inlines wasi.wasm: keep it in step with every core build.
    bundle.main([])
    print(f"build: wrote wasi.wasm ({len(core)} bytes) and demo.wasm ({len(demo)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
