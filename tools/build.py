"""Build wasi.wasm from dev/*/*.c, and the demo program, with the pinned zig (or $CC); and the
multi-memory bridge from dev/bridge/bridge.wat, with wasmtime-py's wat2wasm.

usage: python tools/build.py           write wasi.wasm, src/wasi_wasm/{wasi,demo,bridge}.wasm
                                       and js/bridge_wasm.mjs
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
# A tripwire for bloat, not a budget: it was 64 KiB until the core took on the host's
# filesystem operations, lazy host mounts and per-process allocation caches (64.1 KiB then).
SIZE_LIMIT = 80 * 1024
BRIDGE_SOURCE = ROOT / "dev" / "bridge" / "bridge.wat"
BRIDGE_OUTPUT = ROOT / "src" / "wasi_wasm" / "bridge.wasm"
BRIDGE_JS = ROOT / "js" / "bridge_wasm.mjs"
# The hosts patch the guest memory's limits: the 5 bytes after this import's name and kind,
# as assembled from "(memory 0 65536 shared)": flags 3 (shared, with a maximum), minimum 0,
# maximum 65536 as a 3-byte LEB (src/wasi_wasm/_bridge.py, js/bridge.mjs).
BRIDGE_GUEST_IMPORT = b"\x06bridge\x05guest\x02"
BRIDGE_GUEST_LIMITS = bytes([0x03, 0x00, 0x80, 0x80, 0x04])

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


def without_custom_sections(wasm: bytes) -> bytes:
    """``wasm`` without its custom sections (the names wat2wasm writes, whose encoding is the
    assembler's and not the module's)."""
    out = bytearray(wasm[:8])
    pos = 8
    while pos < len(wasm):
        section = wasm[pos]
        size, body = read_leb(wasm, pos + 1)
        if section != 0:
            out += wasm[pos : body + size]
        pos = body + size
    return bytes(out)


def build_bridge() -> bytes:
    import wasmtime  # noqa: PLC0415 - only the bridge needs it (the core builds without)

    wasm = without_custom_sections(bytes(wasmtime.wat2wasm(BRIDGE_SOURCE.read_text())))
    at = wasm.find(BRIDGE_GUEST_IMPORT)
    limits = wasm[at + len(BRIDGE_GUEST_IMPORT) : at + len(BRIDGE_GUEST_IMPORT) + 5]
    if wasm.count(BRIDGE_GUEST_IMPORT) != 1 or limits != BRIDGE_GUEST_LIMITS:
        raise SystemExit(
            "build: the bridge's guest memory import is not (memory 0 65536 shared), "
            "which the hosts patch in place"
        )
    return wasm


def bridge_js(wasm: bytes) -> bytes:
    """js/bridge_wasm.mjs: the bridge's bytes for the JS loader (joined into its bundles)."""
    rows = [", ".join(str(byte) for byte in wasm[i : i + 24]) for i in range(0, len(wasm), 24)]
    body = ",\n\t".join(rows)
    limits_at = wasm.find(BRIDGE_GUEST_IMPORT) + len(BRIDGE_GUEST_IMPORT)
    return (
        "// @ts-check\n"
        "// GENERATED by tools/build.py from dev/bridge/bridge.wat: do not edit.\n"
        "// Edit dev/bridge/bridge.wat and run `python tools/build.py`.\n\n"
        "/** The multi-memory bridge module (js/bridge.mjs patches its guest memory limits"
        " at\n    GUEST_LIMITS_AT). */\n"
        f"export const BRIDGE_WASM = [\n\t{body},\n];\n"
        "/** Where the guest memory import's 5 bytes of limits start. */\n"
        f"export const GUEST_LIMITS_AT = {limits_at};\n"
    ).encode()


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
    bridge = build_bridge()
    wanted = {path: core for path in CORE_OUTPUTS} | {DEMO_OUTPUT: demo}
    wanted |= {BRIDGE_OUTPUT: bridge, BRIDGE_JS: bridge_js(bridge)}
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
        print(f"build: wasi.wasm ({len(core)} bytes), demo.wasm and the bridge are current")
        return 0
    for path, data in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # wasi-bundled.mjs inlines wasi.wasm: keep it in step with every core build.
    bundle.main([])
    print(
        f"build: wrote wasi.wasm ({len(core)} bytes), demo.wasm ({len(demo)} bytes) and "
        f"bridge.wasm ({len(bridge)} bytes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
