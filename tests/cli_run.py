"""The command line run as a user would: `python -m wasi_wasm ...` in a subprocess, on the
package under test (src/ first on PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return env


def cli(
    *args: str | bytes | Path,
    stdin: bytes = b"",
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Arguments may be bytes (non-UTF-8 names reach the program as they are). ``env``: the
    CLI's environment (default cli_env())."""
    return subprocess.run(
        [sys.executable, "-m", "wasi_wasm", *(os.fsencode(arg) for arg in args)],
        input=stdin, capture_output=True, env=env or cli_env(), cwd=cwd, timeout=120,
        check=False,
    )  # fmt: skip


def assert_usage_error(result: subprocess.CompletedProcess[bytes], *words: str) -> None:
    """Exit code 2 and exactly one line on stderr naming ``words``, no traceback."""
    assert result.returncode == 2, result
    lines = result.stderr.decode("utf-8", "replace").splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wasi-wasm: error: "), lines
    for word in words:
        assert word in lines[0], lines
    assert result.stdout == b""
