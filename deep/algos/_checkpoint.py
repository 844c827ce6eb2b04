"""An algorithm's checkpoint state built from the parts it declares (:class:`Checkpointed`)."""
from __future__ import annotations

from typing import ClassVar

import torch


class Checkpointed:
    """``state_dict`` / ``load_state_dict`` from the attributes named by ``state_parts`` (checkpoint keys).

    A part is a module or an optimiser (its own state dict), a tensor (copied back in place), None (a feature
    this configuration leaves out: saved as None, not loaded), a number (restored with its type) or a list of
    these.  The state holds plain tensors, numbers and containers only (``torch.load(weights_only=True)``)."""

    state_parts: ClassVar[tuple[str, ...]] = ()   #: checkpoint keys, each an attribute name unless renamed
    state_renames: ClassVar[dict[str, str]] = {}  #: checkpoint key -> attribute, where the two differ

    def _part(self, key: str) -> str:
        return self.state_renames.get(key, key)

    def state_dict(self) -> dict:
        return {key: _saved(getattr(self, self._part(key))) for key in self.state_parts}

    def load_state_dict(self, sd: dict) -> None:
        for key in self.state_parts:
            attr = self._part(key)
            current = getattr(self, attr)
            loaded = _loaded(current, sd[key])
            if loaded is not current:
                setattr(self, attr, loaded)


def _saved(x):
    if x is None or isinstance(x, (int, float)):
        return x
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, (list, tuple)):
        return [_saved(v) for v in x]
    return x.state_dict()


def _loaded(current, saved):
    """``current`` with ``saved`` loaded into it (in place where it is mutable; a new value for a number)."""
    if current is None:
        return None
    if isinstance(current, (int, float)):
        return type(current)(saved)
    if isinstance(current, torch.Tensor):
        with torch.no_grad():
            current.copy_(saved)
        return current
    if isinstance(current, (list, tuple)):
        loaded = [_loaded(c, s) for c, s in zip(current, saved, strict=True)]
        return current if all(a is b for a, b in zip(loaded, current)) else loaded
    current.load_state_dict(saved)
    return current


def state_tensors(state, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor (and NumPy array, as a tensor) of a nested state, by path: dict keys and list indices joined
    by ``/``, dataclasses by their fields.  What two runs' states or batches are compared by, key by key."""
    import dataclasses

    import numpy as np
    if isinstance(state, torch.Tensor):
        return {prefix: state.detach()}
    if isinstance(state, np.ndarray):
        return {prefix: torch.from_numpy(np.ascontiguousarray(state))}
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        state = vars(state)
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, (list, tuple)) else ()
    out = {}
    for key, value in items:
        out.update(state_tensors(value, f"{prefix}/{key}"))
    return out
