"""Simulator copies held in worker processes, for simulators whose one copy is slow (GRF).

A :class:`CopyPool` holds ``n`` objects built by ``factory(k)``; :meth:`CopyPool.call` runs one method on
many of them and returns the results by copy index.  With ``num_workers == 0`` the objects live in this
process; otherwise they are split in contiguous blocks over ``num_workers`` processes (started with
``spawn``: a clean interpreter, never a fork of a process holding torch's thread pools), which run their
blocks at the same time.  Workers block on their pipe between calls (no spinning against the learner).

Shutdown: :meth:`CopyPool.close` (also run when the pool is garbage-collected or the interpreter exits) asks
each worker to finish, then terminates any that do not.  Workers ignore SIGINT, so Ctrl-C interrupts only
the parent, whose interrupted call closes the pool before re-raising; an exception in a worker comes back
as a ``RuntimeError`` carrying the worker's traceback, after the pool is closed; a worker whose parent dies
sees its pipe close and exits.  No worker outlives the pool.  A ``ValueError`` in a worker (a refusal, e.g. of
a bad argument) comes back as a ``ValueError`` with the same message, the pool closed.
"""
from __future__ import annotations

import multiprocessing
import signal
import traceback
import weakref
from typing import Any, Callable, Mapping

import numpy as np

#: seconds a worker is given to finish after being asked, before it is terminated
_JOIN_TIMEOUT = 10.0


def _failure(exc: Exception) -> tuple[str, str]:
    """A worker's answer for ``exc``: a ValueError (a refusal) by its message, anything else with its traceback."""
    return ("refused", str(exc)) if isinstance(exc, ValueError) else ("error", traceback.format_exc())


def _serve(conn, factory: Callable[[int], Any], keys: list[int]) -> None:
    """A worker's loop: build the objects of ``keys``, then answer ``(method, [(k, args), ...])`` messages
    with ``("ok", [results])`` or :func:`_failure`'s answer until ``None`` or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's: it closes the pool
    objects = {}
    try:
        objects = {k: factory(k) for k in keys}
        conn.send(("ok", None))
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):   # the parent is gone
                break
            if message is None:
                break
            method, calls = message
            try:
                conn.send(("ok", [getattr(objects[k], method)(*args) for k, args in calls]))
            except Exception as exc:
                conn.send(_failure(exc))
    except Exception as exc:
        try:
            conn.send(_failure(exc))
        except OSError:
            pass
    finally:
        for obj in objects.values():
            close = getattr(obj, "close", None)
            if close is not None:
                close()
        conn.close()


def _shutdown(processes: list, conns: list) -> None:
    """Ask every worker to finish, wait, then terminate (and kill) those still alive."""
    for conn in conns:
        try:
            conn.send(None)
        except OSError:
            pass
    for p in processes:
        p.join(_JOIN_TIMEOUT)
        if p.is_alive():
            p.terminate()
            p.join(_JOIN_TIMEOUT)
        if p.is_alive():
            p.kill()
            p.join()
    for conn in conns:
        conn.close()
    processes.clear()
    conns.clear()


class CopyPool:
    """``n`` objects ``factory(k)``, in this process (``num_workers=0``) or in ``num_workers`` processes.

    ``factory`` must be picklable (a module-level function or a ``functools.partial`` of one) when
    ``num_workers > 0``; so must the arguments and results of :meth:`call`.
    """

    def __init__(self, factory: Callable[[int], Any], n: int, num_workers: int = 0):
        if not 0 <= num_workers <= n:
            raise ValueError(f"num_workers must lie in 0..{n} (the number of copies), got {num_workers}")
        self.n, self.num_workers = n, num_workers
        self._objects: dict[int, Any] = {}
        self._processes: list = []
        self._conns: list = []
        self._owner = np.zeros(n, np.int64)       # copy index -> worker index
        if num_workers == 0:
            self._objects = {k: factory(k) for k in range(n)}
            return
        ctx = multiprocessing.get_context("spawn")
        self._finalizer = weakref.finalize(self, _shutdown, self._processes, self._conns)
        try:
            for w, block in enumerate(np.array_split(np.arange(n), num_workers)):
                self._owner[block] = w
                parent_end, child_end = ctx.Pipe()
                p = ctx.Process(target=_serve, args=(child_end, factory, block.tolist()), daemon=True,
                                name=f"meharl-copies-{w}")
                p.start()
                child_end.close()
                self._processes.append(p)
                self._conns.append(parent_end)
            for w in range(num_workers):
                self._receive(w)
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (empty when the copies live in this process or after :meth:`close`)."""
        return [p.pid for p in self._processes]

    def call(self, method: str, calls: Mapping[int, tuple]) -> dict[int, Any]:
        """``{k: getattr(object_k, method)(*args)}`` for every ``k: args`` of ``calls``, the workers running
        their shares at the same time."""
        if self.num_workers == 0:
            return {k: getattr(self._objects[k], method)(*args) for k, args in calls.items()}
        if not self._processes:
            raise RuntimeError("the worker processes are closed")
        by_worker: dict[int, list] = {}
        for k, args in calls.items():
            by_worker.setdefault(int(self._owner[k]), []).append((k, args))
        try:
            for w, items in by_worker.items():
                self._conns[w].send((method, items))
            results = {}
            for w, items in by_worker.items():
                results.update(zip((k for k, _ in items), self._receive(w)))
            return results
        except BaseException:   # an error or Ctrl-C: replies may be pending, the copies are unusable
            self.close()
            raise

    def _receive(self, w: int) -> Any:
        try:
            status, payload = self._conns[w].recv()
        except (EOFError, OSError):
            p = self._processes[w]
            p.join(1.0)
            raise RuntimeError(f"worker process {w} (pid {p.pid}) died, exit code {p.exitcode}") from None
        if status == "refused":
            raise ValueError(payload)
        if status == "error":
            raise RuntimeError(f"worker process {w} failed:\n{payload}")
        return payload

    def close(self) -> None:
        """Shut the workers down (or close the in-process objects); idempotent."""
        if self.num_workers:
            self._finalizer()
        else:
            for obj in self._objects.values():
                close = getattr(obj, "close", None)
                if close is not None:
                    close()
            self._objects = {}
