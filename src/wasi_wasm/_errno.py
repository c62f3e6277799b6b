"""WASI errno numbers, their spec names, and the Python exceptions they become.

The names are the witx names of `wasi_snapshot_preview1` (``noent``); ``errno_name`` gives
the C spelling (``ENOENT``) that the C test programs print.
"""

from __future__ import annotations

import errno as host_errno
import os

# Index = WASI errno number, value = witx name (wasi_snapshot_preview1 `errno` enum).
WASI_ERRNO_NAMES: tuple[str, ...] = (
    "success", "2big", "acces", "addrinuse", "addrnotavail", "afnosupport", "again",
    "already", "badf", "badmsg", "busy", "canceled", "child", "connaborted",
    "connrefused", "connreset", "deadlk", "destaddrreq", "dom", "dquot", "exist",
    "fault", "fbig", "hostunreach", "idrm", "ilseq", "inprogress", "intr", "inval",
    "io", "isconn", "isdir", "loop", "mfile", "mlink", "msgsize", "multihop",
    "nametoolong", "netdown", "netreset", "netunreach", "nfile", "nobufs", "nodev",
    "noent", "noexec", "nolck", "nolink", "nomem", "nomsg", "noprotoopt", "nospc",
    "nosys", "notconn", "notdir", "notempty", "notrecoverable", "notsock", "notsup",
    "notty", "nxio", "overflow", "ownerdead", "perm", "pipe", "proto",
    "protonosupport", "prototype", "range", "rofs", "spipe", "srch", "stale",
    "timedout", "txtbsy", "xdev", "notcapable",
)  # fmt: skip

SUCCESS = 0
EBADF = 8
EEXIST = 20
EINVAL = 28
EIO = 29
EISDIR = 31
ENOENT = 44
ENOTDIR = 54
ENOTEMPTY = 55
ENOTCAPABLE = 76


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
