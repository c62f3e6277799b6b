"""One filesystem-API script, run through the Python host and through the JS host (Node, the
built wasi.mjs): the results and error codes must be identical, operation by operation.

Both hosts call the same core exports (``wasi_wasm_fs_*``) for each operation, so this holds
by construction; the test keeps it so (a host that marshals an argument or maps an errno
differently fails it). The script covers mkdir -p, write, read, list, stat, rename, link,
symlink, readlink, set_times, remove, rmdir and rmtree, with their errors (ENOENT, EEXIST,
ENOTDIR, EISDIR, ENOTEMPTY, ELOOP, ENAMETOOLONG, EPERM, EINVAL) under small limits, and a
full filesystem (ENOSPC) that must still be listed, read, checked and removed.

Each step says what it must give: an errno name, or a value (``OK``: any success).
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from test_js import ROOT, any_node, run_node
from wasi_wasm import Limits, StatResult, Wasi, start_wasi

OK = object()
LIMITS = {"max_fs_bytes": 1 << 20, "max_path": 64, "max_name": 16, "max_symlink_follows": 4}
FILE = {"type": "regular_file", "size": 5, "nlink": 1}
DEEP = "/" + "d/" * 40 + "f"  # over max_path

# (expected, operation, *arguments)
STEPS: list[tuple[Any, ...]] = [
    (None, "mkdir", "/a"),
    ("EEXIST", "mkdir", "/a"),
    ("ENOENT", "mkdir", "/x/y"),
    (None, "mkdir_p", "/a/b/c"),
    (None, "mkdir_p", "/a/b/c"),
    (None, "write", "/a/f", "hello"),
    ("EEXIST", "mkdir_p", "/a/f/g"),
    ("ENOTDIR", "mkdir", "/a/f/g"),
    ("ENOENT", "write", "/nodir/f", "x"),
    ("EISDIR", "write", "/a", "x"),
    ("EISDIR", "write", "/a/f/", "x"),
    ("hello", "read", "/a/f"),
    ("EISDIR", "read", "/a"),
    ("ENOENT", "read", "/missing"),
    ("ENOTDIR", "read", "/a/f/x"),
    (["b", "f"], "list", "/a"),
    ("ENOTDIR", "list", "/a/f"),
    ("ENOENT", "list", "/missing"),
    (FILE, "stat", "/a/f"),
    (None, "link", "/a/f", "/a/g"),
    ({**FILE, "nlink": 2}, "stat", "/a/g"),
    ("EPERM", "link", "/a/b", "/a/h"),
    ("EEXIST", "link", "/a/f", "/a/g"),
    ("ENOENT", "link", "/a/missing", "/a/h"),
    (None, "write", "/a/g", "replaced"),
    ("hello", "read", "/a/f"),  # the other link keeps the old content
    (FILE, "stat", "/a/f"),
    (None, "symlink", "f", "/a/s"),
    ("f", "readlink", "/a/s"),
    ("EINVAL", "readlink", "/a/f"),
    ("ENOENT", "readlink", "/a/missing"),
    ({"type": "symbolic_link", "size": 1, "nlink": 1}, "lstat", "/a/s"),
    (FILE, "stat", "/a/s"),
    (None, "write", "/a/s", "via link"),  # follows the link: replaces /a/f
    ("via link", "read", "/a/f"),
    ("f", "readlink", "/a/s"),
    ("EEXIST", "symlink", "x", "/a/s"),
    (None, "symlink", "loop2", "/a/loop1"),
    (None, "symlink", "loop1", "/a/loop2"),
    ("ELOOP", "stat", "/a/loop1"),
    ("ELOOP", "read", "/a/loop1"),
    ("ELOOP", "write", "/a/loop1", "x"),
    (OK, "lstat", "/a/loop1"),
    ("EPERM", "symlink", "/abs", "/a/abs"),
    (None, "symlink", "dangling", "/a/d"),
    (False, "exists", "/a/d"),
    (None, "write", "/a/d", "made"),  # creates what the dangling link names
    ("made", "read", "/a/dangling"),
    ("ENAMETOOLONG", "mkdir", "/a/0123456789abcdefX"),
    ("ENAMETOOLONG", "write", "/a/0123456789abcdefX", ""),
    ("ENAMETOOLONG", "write", DEEP, "x"),
    ("ENAMETOOLONG", "symlink", "t" * 65, "/a/long"),
    ("EISDIR", "rename", "/a/f", "/a/b"),
    ("ENOTDIR", "rename", "/a/b", "/a/f"),
    ("EINVAL", "rename", "/a", "/a/b/c/z"),
    ("ENOENT", "rename", "/a/missing", "/a/z"),
    (None, "rename", "/a/f", "/a/f2"),
    ("ENOTEMPTY", "rmdir", "/a/b"),
    ("ENOTDIR", "rmdir", "/a/f2"),
    ("ENOENT", "rmdir", "/a/missing"),
    ("EISDIR", "remove", "/a/b"),
    ("ENOENT", "remove", "/a/missing"),
    (None, "mkdir", "/e"),
    (None, "rename", "/a/b", "/e"),  # onto an empty directory
    (None, "mkdir", "/e2"),
    (None, "write", "/e2/x", "1"),
    ("ENOTEMPTY", "rename", "/e", "/e2"),
    (None, "set_times", "/a/f2", 1000, 2000, True),
    (["1000", "2000"], "times", "/a/f2"),
    (None, "set_times", "/a/s", 7, 8, False),
    (["7", "8"], "times", "/a/s"),
    ("ENOENT", "set_times", "/missing", 1, 2, True),
    (None, "rmtree", "/e2"),
    (False, "exists", "/e2"),
    ("ENOENT", "rmtree", "/missing"),
    (None, "mkdir_p", "/t/1/2/3/4/5"),
    (None, "write", "/t/1/2/3/4/5/f", "deep"),
    (None, "symlink", "../../a", "/t/1/up"),
    (None, "link", "/a/f2", "/t/1/2/hard"),
    (None, "rmtree", "/t"),  # the symlink is removed, not followed
    ("via link", "read", "/a/f2"),
    (False, "exists", "/t"),
    (["g", "s", "loop1", "loop2", "d", "dangling", "f2"], "list", "/a"),
    # a full filesystem: listed, read, checked and cleaned
    (None, "mkdir", "/full"),
    ("ENOSPC", "fill", "/full/f", 50000),
    ("ENOSPC", "write_size", "/full/big", 600000),
    ("ENOSPC", "fill", "/full/small", 16),
    ("ENOSPC", "mkdir_p", "/full/more/and/more"),
    (False, "exists", "/full/more"),  # mkdir -p leaves nothing when it fails
    (OK, "list", "/full"),
    (50000, "size_read", "/full/f0"),
    ("via link", "read", "/a/f2"),
    (0, "fsck"),
    (None, "rmtree", "/full"),
    (None, "write_size", "/big", 500000),
    (500000, "size_read", "/big"),
    (["a", "e", "big"], "list", "/"),
    (0, "fsck"),
]


def _summary(info: StatResult) -> dict[str, object]:
    return {"type": info.filetype.name.lower(), "size": info.size, "nlink": info.nlink}


def _fill(fs: Wasi, prefix: str, size: int) -> str:
    for i in range(100000):
        fs.write_file(f"{prefix}{i}", bytes(size))
    return "never full"


def _set_times(fs: Wasi, path: str, atime: int | None, mtime: int | None, follow: bool) -> None:
    fs.set_times(path, atime_ns=atime, mtime_ns=mtime, follow_symlinks=follow)


OPERATIONS: dict[str, Any] = {
    "mkdir": lambda fs, path: fs.mkdir(path),
    "mkdir_p": lambda fs, path: fs.mkdir(path, parents=True, exist_ok=True),
    "write": lambda fs, path, text: fs.write_file(path, text.encode()),
    "write_size": lambda fs, path, size: fs.write_file(path, b"x" * size),
    "read": lambda fs, path: fs.read_file(path).decode(),
    "size_read": lambda fs, path: len(fs.read_file(path)),
    "list": lambda fs, path: fs.listdir(path),
    "stat": lambda fs, path: _summary(fs.stat(path)),
    "lstat": lambda fs, path: _summary(fs.lstat(path)),
    "times": lambda fs, path: [str(fs.lstat(path).atime_ns), str(fs.lstat(path).mtime_ns)],
    "exists": lambda fs, path: fs.exists(path),
    "rename": lambda fs, src, dst: fs.rename(src, dst),
    "link": lambda fs, src, dst: fs.link(src, dst),
    "symlink": lambda fs, target, path: fs.symlink(target, path),
    "readlink": lambda fs, path: fs.readlink(path),
    "set_times": _set_times,
    "remove": lambda fs, path: fs.remove(path),
    "rmdir": lambda fs, path: fs.rmdir(path),
    "rmtree": lambda fs, path: fs.rmtree(path),
    "fill": _fill,
    "fsck": lambda fs: fs.fsck(),
}


def _script() -> dict[str, object]:
    return {"limits": LIMITS, "ops": [list(step[1:]) for step in STEPS]}


def run_python(script: dict[str, Any]) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    with start_wasi(limits=Limits(**script["limits"])) as fs:
        for name, *args in script["ops"]:
            try:
                results.append({"ok": OPERATIONS[name](fs, *args)})
            except OSError as error:
                code = errno.errorcode[error.errno] if error.errno is not None else repr(error)
                results.append({"error": code})
    return results


def run_js(script: dict[str, Any], tmp_path: Path, env: dict[str, str] | None = None) -> Any:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    runner = str(ROOT / "tests" / "js" / "fs_script.mjs")
    result = run_node(
        any_node(), [runner, str(path)], {"WASI_MJS": str(ROOT / "wasi.mjs"), **(env or {})}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def differences(first: list[Any], second: list[Any]) -> list[str]:
    """Each step whose results differ, with its operation."""
    assert len(first) == len(second)
    return [
        f"step {i} {list(step[1:])}: {a} != {b}"
        for i, (step, a, b) in enumerate(zip(STEPS, first, second, strict=True))
        if a != b
    ]


def test_the_python_host_does_what_each_step_says() -> None:
    results = run_python(_script())
    wrong = []
    for i, (step, result) in enumerate(zip(STEPS, results, strict=True)):
        expected = step[0]
        if isinstance(expected, str) and expected.startswith("E") and expected.isupper():
            good = result == {"error": expected}
        elif expected is OK:
            good = "ok" in result
        else:
            good = result == {"ok": expected}
        if not good:
            wrong.append(f"step {i} {list(step[1:])}: {result}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_python_and_js_give_identical_results(tmp_path: Path) -> None:
    script = _script()
    python, js = run_python(script), run_js(script, tmp_path)
    assert not differences(python, js), "\n".join(differences(python, js))


def test_a_host_that_maps_one_errno_differently_fails(tmp_path: Path) -> None:
    """The comparison can fail: a JS host that reports ENOTEMPTY as EEXIST differs from
    Python exactly at the ENOTEMPTY steps."""
    script = _script()
    found = differences(run_python(script), run_js(script, tmp_path, {"FS_SCRIPT_BREAK": "1"}))
    notempty = [step for step in STEPS if step[0] == "ENOTEMPTY"]
    assert len(found) == len(notempty) >= 2, found
    assert all("'ENOTEMPTY'} != {'error': 'EEXIST'}" in line for line in found), found


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_is_in_the_script(name: str) -> None:
    assert any(step[1] == name for step in STEPS)
