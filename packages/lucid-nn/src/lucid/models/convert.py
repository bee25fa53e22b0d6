"""Weight exchange with PyTorch state dicts.

Lucid keeps PyTorch's layouts (NCHW activations, conv weights ``(out, in, kh, kw)``, linear
weights ``(out, in)``) and its parameter names, so a value moves across unchanged; only
module names may differ. A ``name_map`` translates Lucid names to PyTorch names:

- a dict of module prefixes, e.g. ``{"stem.0": "conv1", "stem.1": "bn1"}`` maps
  ``stem.0.weight`` to ``conv1.weight`` (matched at dot boundaries, longest prefix first);
- or a function ``lucid_name -> torch_name``;
- ``None`` uses the model's ``torch_name_map`` attribute when it has one (``ResNet`` does),
  else names are taken as they are.

PyTorch's BatchNorm ``num_batches_tracked`` counter is copied when the Lucid model has one
and ignored otherwise. Exporting has one function per return type: ``to_torch_state_dict``
gives torch tensors (it imports torch, and says so when torch is missing),
``to_numpy_state_dict`` NumPy arrays (no torch needed). Loading accepts either without
importing torch.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping

import mlx.core as mx
import numpy as np
from lucid import Tensor
from lucid.errors import ShapeError

from ..nn.module import IncompatibleKeys, Module, StateDictError

NameMap = Mapping[str, str] | Callable[[str], str] | None
_COUNTER = "num_batches_tracked"


def renamer(model: Module, name_map: NameMap = None) -> Callable[[str], str]:
    """The function taking a Lucid state-dict key to its PyTorch key."""
    if name_map is None:
        name_map = getattr(model, "torch_name_map", None) or {}
    if callable(name_map):
        return name_map
    prefixes = sorted(name_map.items(), key=lambda kv: -len(kv[0]))

    def rename(name: str) -> str:
        for src, dst in prefixes:
            if name == src or name.startswith(src + "."):
                return dst + name[len(src):]
        return name

    return rename


def _key_pairs(model: Module, name_map: NameMap) -> list[tuple[str, str, Tensor]]:
    """``(lucid key, torch key, tensor)`` for every entry of ``model.state_dict()``."""
    rename = renamer(model, name_map)
    pairs, seen = [], {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        torch_key = rename(key)
        if torch_key in seen:
            raise StateDictError(
                f"name_map sends both '{seen[torch_key]}' and '{key}' to '{torch_key}'"
            )
        seen[torch_key] = key
        pairs.append((key, torch_key, tensor))
    return pairs


def _to_numpy(value) -> np.ndarray:
    """NumPy copy of a torch tensor, Lucid tensor, MLX or NumPy array (no torch import)."""
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, mx.array):
        return np.array(value)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _show(key: str, torch_key: str) -> str:
    return f'"{key}"' if key == torch_key else f'"{key}" (torch "{torch_key}")'


def from_torch_state_dict(model: Module, state_dict: Mapping, name_map: NameMap = None,
                          strict: bool = True) -> IncompatibleKeys:
    """Load a PyTorch ``state_dict`` (torch tensors or NumPy arrays) into ``model``.

    Raises ``ShapeError`` on a shape mismatch and, when ``strict``, ``StateDictError`` on
    missing or unexpected keys; nothing is changed when it raises. Returns the missing
    (Lucid names) and unexpected (torch names) keys.
    """
    pairs = _key_pairs(model, name_map)
    missing, errors, updates, used = [], [], [], set()
    for key, torch_key, target in pairs:
        if torch_key not in state_dict:
            if not key.endswith(_COUNTER):
                missing.append((key, torch_key))
            continue
        used.add(torch_key)
        value = _to_numpy(state_dict[torch_key])
        if tuple(value.shape) != tuple(target.shape):
            errors.append(
                f"size mismatch for {_show(key, torch_key)}: the checkpoint has shape "
                f"{tuple(value.shape)}, the model {tuple(target.shape)}"
            )
            continue
        updates.append((target, value))
    have_counter = any(k.endswith(_COUNTER) for k, _, _ in pairs)
    unexpected = [
        k for k in state_dict
        if k not in used and not (k.endswith(_COUNTER) and not have_counter)
    ]
    head = f"from_torch_state_dict into {type(model).__name__}: "
    if errors:
        raise ShapeError(head + "; ".join(errors))
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append("missing key(s) in the torch state_dict: "
                         + ", ".join(_show(k, tk) for k, tk in missing))
        if unexpected:
            parts.append("unexpected key(s) in the torch state_dict: "
                         + ", ".join(f'"{k}"' for k in unexpected))
        raise StateDictError(
            head + "; ".join(parts) + ". Pass name_map= if the module names differ "
            "(e.g. lucid.models.RESNET_TORCH_NAME_MAP), or strict=False"
        )
    for target, value in updates:
        target.data = mx.array(value).astype(target.dtype)
    return IncompatibleKeys([k for k, _ in missing], unexpected)


def to_numpy_state_dict(model: Module, name_map: NameMap = None) -> OrderedDict:
    """``model``'s parameters and buffers under PyTorch's names, as NumPy arrays (copies)."""
    return OrderedDict(
        (torch_key, np.array(tensor.numpy()))
        for _, torch_key, tensor in _key_pairs(model, name_map)
    )


def to_torch_state_dict(model: Module, name_map: NameMap = None, *,
                        as_numpy: bool | None = None) -> OrderedDict:
    """``model``'s parameters and buffers under PyTorch's names, as torch tensors (copies),
    ready for ``torch_model.load_state_dict``. Needs torch; ``to_numpy_state_dict`` gives
    the same as NumPy arrays without it. (``as_numpy=True`` is the deprecated spelling of
    ``to_numpy_state_dict``.)"""
    if as_numpy:
        warnings.warn("to_torch_state_dict(as_numpy=True) is deprecated: call "
                      "to_numpy_state_dict", DeprecationWarning, stacklevel=2)
        return to_numpy_state_dict(model, name_map)
    try:
        import torch
    except ImportError as err:
        raise ImportError("to_torch_state_dict needs PyTorch (pip install torch); "
                          "to_numpy_state_dict gives NumPy arrays without it") from err
    return OrderedDict((k, torch.from_numpy(np.ascontiguousarray(v)))
                       for k, v in to_numpy_state_dict(model, name_map).items())
