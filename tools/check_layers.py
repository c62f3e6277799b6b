"""Check the core's layering: dev/<layer>/ files include only their own layer or lower ones,
headers form no include cycle, and the exports sit where they belong.

usage: python tools/check_layers.py      (exit 1 and one line per problem if any)

The layers, bottom up: base (allocator, lock, checked arithmetic, hooks), vfs (inodes,
directories, file data, paths; nothing of fds or processes), process (fd tables, stdio,
pipe ends, fsck), then wasi (the preview 1 functions) and host (every wasi_wasm_* export,
in host/) side by side: neither includes the other.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "dev"
RANK = {"base": 0, "vfs": 1, "process": 2, "wasi": 3, "host": 3}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
EXPORT = re.compile(r'EXPORT\("([^"]+)"\)')
HOST_DIR = "host/"


def includes(path: Path) -> list[str]:
    return INCLUDE.findall(path.read_text())


def layer_problems(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        rel = path.relative_to(DEV).as_posix()
        layer = rel.split("/")[0]
        if layer not in RANK:
            problems.append(f"{rel}: not in a layer folder ({', '.join(RANK)})")
            continue
        for name in includes(path):
            target = name.split("/")[0]
            if target not in RANK or not (DEV / name).exists():
                problems.append(f"{rel}: includes {name}, which is no dev/<layer>/ header")
            elif RANK[target] > RANK[layer] or (RANK[target] == RANK[layer] and target != layer):
                problems.append(f"{rel}: includes {name}, a layer it may not see")
    return problems


def cycle_problems(headers: list[Path]) -> list[str]:
    graph = {h.relative_to(DEV).as_posix(): includes(h) for h in headers}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    problems: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                problems.append("include cycle: " + " -> ".join([*path, node, nxt]))
            elif nxt in graph and not state.get(nxt):
                visit(nxt, [*path, node])
        state[node] = 2

    for header in graph:
        if not state.get(header):
            visit(header, [])
    return problems


def export_problems(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        rel = path.relative_to(DEV).as_posix()
        for name in EXPORT.findall(path.read_text()):
            if name.startswith("wasi_wasm_") and not rel.startswith(HOST_DIR):
                problems.append(f"{rel}: exports {name}; host exports belong in {HOST_DIR}")
            elif not name.startswith("wasi_wasm_") and not rel.startswith("wasi/"):
                problems.append(f"{rel}: exports {name}; WASI functions belong in wasi/")
    return problems


def check() -> list[str]:
    files = sorted(p for p in DEV.rglob("*") if p.suffix in (".c", ".h"))
    strays = [p.relative_to(DEV).as_posix() for p in files if p.parent == DEV]
    problems = [f"{s}: not in a layer folder" for s in strays]
    layered = [p for p in files if p.parent != DEV]
    problems += layer_problems(layered)
    problems += cycle_problems([p for p in layered if p.suffix == ".h"])
    problems += export_problems(layered)
    return problems


def main() -> int:
    problems = check()
    for line in problems:
        print(f"check_layers: {line}")
    if not problems:
        print("check_layers: dev/ is layered base < vfs < process < wasi | host, no cycles")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
