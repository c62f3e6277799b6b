"""wasi.wasm for Python: run WASI preview 1 programs on an in-memory filesystem that is itself
a WebAssembly module (the "core"), whose whole state lives in one shared memory.

    from wasi_wasm import run
    result = run("hello.wasm", args=["world"])
    print(result.exit_code, result.stdout)
"""

import importlib.metadata as _metadata

try:
    # The one version number is pyproject.toml's, as installed.
    __version__ = _metadata.version("wasi-wasm")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

from ._abi import WASI_FUNCTIONS
from ._errno import WASI_ERRNO_NAMES, errno_from_name, errno_name
from ._filesystem import Filesystem
from ._fs import FileTooLargeError, FileType, StatResult
from ._hooks import WasiExit
from ._init import InitObj, get_wasi
from ._interrupt import Interrupted, is_interrupt
from ._limits import Limits
from ._options import Options
from ._pipe import Pipe
from ._pipeline import Command, PipelineResult, run_pipeline
from ._process import CoreError
from ._program import ProgramError, load_program
from ._run import RunResult, run
from ._snapshot import UnsafeArchiveError
from ._wasi import InvalidExitStatus, Wasi, start_wasi

__all__ = [
    "WASI_ERRNO_NAMES",
    "WASI_FUNCTIONS",
    "Command",
    "CoreError",
    "FileTooLargeError",
    "FileType",
    "Filesystem",
    "InitObj",
    "Interrupted",
    "InvalidExitStatus",
    "Limits",
    "Options",
    "Pipe",
    "PipelineResult",
    "ProgramError",
    "RunResult",
    "StatResult",
    "UnsafeArchiveError",
    "Wasi",
    "WasiExit",
    "__version__",
    "errno_from_name",
    "errno_name",
    "get_wasi",
    "is_interrupt",
    "load_program",
    "run",
    "run_pipeline",
    "start_wasi",
]
