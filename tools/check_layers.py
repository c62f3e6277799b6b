"""Check the layering: dev/<layer>/ files include only their own layer or lower ones,
headers form no include cycle, and the exports sit where they belong; and neither the Python
package (src/wasi_wasm) nor the JS loader's sources (js/*.mjs) have an import cycle.

usage: python tools/check_layers.py      (exit 1 and one line per problem if any)

The layers, bottom up: base (allocator, lock, checked arithmetic, hooks), vfs (inodes,
directories, file data, paths; nothing of fds or processes), process (fd tables, stdio,
pipe ends, fsck), then wasi (the preview 1 functions) and host (every wasi_wasm_* export,
in host/) side by side: neither includes the other.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "dev"
PACKAGE = ROOT / "src" / "wasi_wasm"
JS = ROOT / "js"
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


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One cycle (a path that ends where it starts) through each strongly connected part of
    ``graph`` that has one, in a stable order. Edges to names outside ``graph`` are ignored."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in graph:
                continue
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.add(member)
                if member == node:
                    break
            if len(part) > 1 or node in graph[node]:
                parts.append(part)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, part) for part in sorted(parts, key=min)]


def _cycle_in(graph: Mapping[str, Sequence[str]], part: set[str]) -> list[str]:
    """A shortest cycle through the smallest name of ``part`` (breadth first)."""
    start = min(part)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt in part and nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError("a strongly connected part without a cycle")


def python_imports(package: Path) -> dict[str, list[str]]:
    """Module name -> the package's modules it imports, at the top level or inside a function
    (``if TYPE_CHECKING:`` blocks too: a cycle there is one a refactoring turns real)."""
    modules = {path.stem: path for path in sorted(package.glob("*.py"))}
    graph: dict[str, list[str]] = {}
    for name, path in modules.items():
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    base = node.module
                elif node.level == 0 and (node.module or "").startswith(package.name):
                    base = (node.module or "")[len(package.name) + 1 :] or None
                else:
                    continue
                if base is None:  # from . import a, b: submodules, or names of __init__
                    targets += [a.name if a.name in modules else "__init__" for a in node.names]
                else:
                    targets.append(base.split(".")[0])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == package.name:
                        targets.append(parts[1] if len(parts) > 1 else "__init__")
        graph[name] = sorted({target for target in targets if target in modules})
    return graph


JS_IMPORT = re.compile(
    r"""^\s*(?:import|export)\b[^'"]*?from\s*'\./([\w.-]+\.mjs)'"""
    r"""|@import\s*\{[^}]*\}\s*from\s*'\./([\w.-]+\.mjs)'""",
    re.MULTILINE,
)


def js_imports(folder: Path) -> dict[str, list[str]]:
    """File name -> the files of ``folder`` it imports (JSDoc ``@import`` types too)."""
    graph = {}
    for path in sorted(folder.glob("*.mjs")):
        found = {a or b for a, b in JS_IMPORT.findall(path.read_text())}
        graph[path.name] = sorted(found)
    return graph


def import_cycle_problems(package: Path = PACKAGE, js: Path = JS) -> list[str]:
    problems = [
        f"python import cycle: {' -> '.join(cycle)}"
        for cycle in find_cycles(python_imports(package))
    ]
    problems += [f"js import cycle: {' -> '.join(c)}" for c in find_cycles(js_imports(js))]
    return problems


def check() -> list[str]:
    files = sorted(p for p in DEV.rglob("*") if p.suffix in (".c", ".h"))
    strays = [p.relative_to(DEV).as_posix() for p in files if p.parent == DEV]
    problems = [f"{s}: not in a layer folder" for s in strays]
    layered = [p for p in files if p.parent != DEV]
    problems += layer_problems(layered)
    problems += cycle_problems([p for p in layered if p.suffix == ".h"])
    problems += export_problems(layered)
    problems += import_cycle_problems(PACKAGE, JS)
    return problems


def main() -> int:
    problems = check()
    for line in problems:
        print(f"check_layers: {line}")
    if not problems:
        print(
            "check_layers: dev/ is layered base < vfs < process < wasi | host, no cycles; "
            "no import cycles in src/wasi_wasm or js/"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
