"""File plumbing shared by every package: atomic writes, appends that never follow a symbolic link,
exclusive directory locks and parsing a text file with errors that name it.

It lives apart so that the exact engine, the deep stack and the CLI all write files the same safe way without
depending on one another.  Every file the project writes gets the ordinary mode under the user's umask (0644
under umask 022).
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, TextIO


def _file_mode() -> int:
    """``0o666`` less the process's umask: the mode ``open()`` would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(fh)`` on a temporary binary file beside ``path``, fsync it, then rename it into place.

    Streaming writers (e.g. ``torch.save``) need no in-memory copy of what they write.  A symbolic link at
    ``path`` is replaced, never written through.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _open_nofollow(path: Path, flags: int) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` with a ValueError naming it."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{path} is a symbolic link; meharl writes only the files of its own "
                             f"directories (remove the link)") from None
        raise


def open_append(path: str | os.PathLike) -> TextIO:
    """``path`` opened for reading and appending UTF-8 text, line-buffered (created if missing, read from its
    start, written at its end); a symbolic link is refused."""
    fd = _open_nofollow(Path(path), os.O_RDWR | os.O_APPEND | os.O_CREAT)
    fh = os.fdopen(fd, "a+", buffering=1, encoding="utf-8", newline="")
    fh.seek(0)
    return fh


def parse_file(path: str | os.PathLike, parse: Callable[[TextIO], object], syntax_errors, kind: str,
               error: type[Exception] = ValueError):
    """``parse(fh)`` of the UTF-8 text file ``path``; ``error`` naming the file if it is not UTF-8, not valid
    ``kind`` (``parse`` raised one of ``syntax_errors``) or nested too deeply to parse."""
    try:
        with open(path, encoding="utf-8") as fh:
            return parse(fh)
    except syntax_errors as exc:
        raise error(f"{path} is not valid {kind} ({str(exc).strip().splitlines()[0]})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise error(f"{path} is nested too deeply to parse") from None


class DirLock:
    """An exclusive lock on a directory: ``flock`` on ``DIR/.lock``, which holds the holder's pid and host.

    The kernel drops the lock when its holder exits, however it ends, so a lock left by a killed process
    never blocks; :meth:`release` also removes the file.  ``what`` names the directory in the refusal.
    """

    NAME = ".lock"

    def __init__(self, directory: str | os.PathLike, what: str = "directory"):
        self.path = Path(directory) / self.NAME
        while True:
            fd = _open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise ValueError(f"{what} {directory} is in use by {holder}; wait for it to end "
                                 f"(a lock left by a process that has ended does not block)") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder released (and removed) the file between our open and our lock
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} on host {socket.gethostname()}\n".encode())
        self.fh = os.fdopen(fd, "r+b", buffering=0)  # closed (and the lock dropped) if the holder is collected

    def release(self) -> None:
        if self.fh.closed:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.fh.close()
