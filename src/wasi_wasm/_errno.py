"""WASI errno numbers, their spec names, and the Python exceptions they become.

The names are the witx names of `wasi_snapshot_preview1` (``noent``); ``errno_name`` gives
the C spelling (``ENOENT``) that the C test programs print.
"""

from __future__ import annotations

import errno as host_errno
import os

from ._abi import (
    E_BADF as EBADF,
)
from ._abi import (
    E_EXIST as EEXIST,
)
from ._abi import (
    E_INVAL as EINVAL,
)
from ._abi import (
    E_IO as EIO,
)
from ._abi import (
    E_ISDIR as EISDIR,
)
from ._abi import (
    E_NOENT as ENOENT,
)
from ._abi import (
    E_NOTCAPABLE as ENOTCAPABLE,
)
from ._abi import (
    E_NOTDIR as ENOTDIR,
)
from ._abi import (
    E_NOTEMPTY as ENOTEMPTY,
)
from ._abi import (
    E_SUCCESS as SUCCESS,
)
from ._abi import ERRNO_NAMES as WASI_ERRNO_NAMES  # index = WASI errno, value = witx name

__all__ = [
    "EBADF", "EEXIST", "EINVAL", "EIO", "EISDIR", "ENOENT", "ENOTCAPABLE", "ENOTDIR",
    "ENOTEMPTY", "SUCCESS", "WASI_ERRNO_NAMES", "check", "errno_from_name", "errno_name",
    "error_from_wasi", "host_errno_for",
]  # fmt: skip


def errno_name(code: int) -> str:
    """C spelling of a WASI errno: 44 -> "ENOENT", 0 -> "OK" (as the test programs print)."""
    if code == SUCCESS:
        return "OK"
    if 0 < code < len(WASI_ERRNO_NAMES):
        return "E" + WASI_ERRNO_NAMES[code].upper()
    return f"E?{code}"


def errno_from_name(name: str) -> int:
    """Inverse of ``errno_name``; also accepts witx names ("noent")."""
    lowered = name.lower()
    if lowered in ("ok", "success"):
        return SUCCESS
    if lowered in WASI_ERRNO_NAMES:
        return WASI_ERRNO_NAMES.index(lowered)
    if lowered.startswith("e") and lowered[1:] in WASI_ERRNO_NAMES:
        return WASI_ERRNO_NAMES.index(lowered[1:])
    raise KeyError(name)


def host_errno_for(code: int) -> int:
    """The host's errno number for a WASI errno, so OSError picks the matching subclass.

    ENOTCAPABLE has no POSIX counterpart: it means "not permitted by the capability", so it
    becomes EPERM (PermissionError)."""
    if code == ENOTCAPABLE:
        return host_errno.EPERM
    name = "E" + WASI_ERRNO_NAMES[code].upper() if 0 < code < len(WASI_ERRNO_NAMES) else ""
    return int(getattr(host_errno, name, host_errno.EIO))


def error_from_wasi(code: int, path: str | None = None, path2: str | None = None) -> OSError:
    """An OSError (FileNotFoundError, IsADirectoryError, ...) for a WASI errno, naming the path.

    ``OSError(errno, ...)`` itself chooses the subclass from the errno number."""
    number = host_errno_for(code)
    message = f"{os.strerror(number)} (WASI {errno_name(code)})"
    if path2 is not None:
        return OSError(number, message, path, None, path2)
    return OSError(number, message, path)


def check(code: int, path: str | None = None, path2: str | None = None) -> None:
    """Raise for a non-zero WASI errno."""
    if code != SUCCESS:
        raise error_from_wasi(code, path, path2)
