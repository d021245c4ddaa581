"""The state dict's record of a layer's settings: settings that change what the weights compute
without changing their shapes (HetConv's arrangement and P, the masked layer's P) are saved
under ``_extra_state``, and a state dict saved with other settings is refused, naming both.
"""

from __future__ import annotations

import json
import warnings

import torch

__all__ = ["RecordsSettings"]


def _describe(settings: dict) -> str:
    rest = ", ".join(f"{k}={v!r}" for k, v in sorted(settings.items()) if k != "layer")
    return f"{settings.get('layer', 'layer')}({rest})"


class RecordsSettings:
    """Mixin for layers with settings that change what the weights compute without changing
    their shapes (HetConv's arrangement, the masked layer's P): the state dict records them
    under ``_extra_state`` (the bytes of a JSON object, a uint8 tensor, so every tool that
    handles state dicts of tensors keeps working), and loading a state dict recorded with
    other settings is refused, naming both, before any weight is copied. A state dict saved
    before the record existed loads as before; when its shapes cannot tell the settings apart,
    with a warning."""

    def function_settings(self) -> dict[str, str | int]:
        """The settings, beyond the parameter shapes, that decide the layer's function."""
        raise NotImplementedError

    def _same_function(self, saved: dict) -> bool:
        return saved == self.function_settings()

    def _unrecorded_is_ambiguous(self) -> bool:
        return True

    def get_extra_state(self) -> torch.Tensor:
        text = json.dumps(self.function_settings(), sort_keys=True)
        return torch.tensor(list(text.encode()), dtype=torch.uint8)

    def set_extra_state(self, state: object) -> None:
        """Nothing to set: :meth:`_load_from_state_dict` checked the record already."""

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        key = prefix + "_extra_state"
        where = f"layer {prefix[:-1]!r}" if prefix else "this layer"
        mine = self.function_settings()
        if key in state_dict:
            saved = _decode_settings(state_dict[key])
            if saved is None:
                error_msgs.append(
                    f"{where}: the state dict's settings record {key!r} is damaged (expected "
                    f"the UTF-8 bytes of a JSON object as a uint8 tensor); save the layer again"
                )
                return
            if not self._same_function(saved):
                error_msgs.append(
                    f"{where}: the state dict was saved by {_describe(saved)}, this layer is "
                    f"{_describe(mine)}. These settings change what the weights compute without "
                    f"changing their shapes, so the loaded layer would compute a different "
                    f"function{_HINTS.get(_differing(saved, mine), '')}. Build the layer as "
                    f"{_describe(saved)} to load this state dict."
                )
                return
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if key not in state_dict:
            if key in missing_keys:
                missing_keys.remove(key)
            loaded = any(prefix + name in state_dict for name, _ in self.named_parameters())
            if loaded and self._unrecorded_is_ambiguous():
                names = ", ".join(sorted(k for k in mine if k != "layer"))
                warnings.warn(
                    f"a state dict saved before hetconv_edu recorded {names} "
                    f"was loaded into {_describe(mine)}; it is taken to come from a layer with "
                    f"these settings. If it came from another (e.g. another arrangement), the "
                    f"outputs are wrong: load it into a layer built like the saved one.",
                    stacklevel=2,
                )


_HINTS = {
    ("arrangement",): (
        " (the grouped layer is the shifted one with its input and output channels relabelled; "
        "a single layer cannot undo the relabelling of its neighbours)"
    ),
}


def _differing(saved: dict, mine: dict) -> tuple[str, ...]:
    return tuple(sorted(k for k in saved.keys() | mine.keys() if saved.get(k) != mine.get(k)))


def _decode_settings(value: object) -> dict | None:
    if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
        return None
    try:
        settings = json.loads(bytes(value.tolist()).decode())
    except (UnicodeDecodeError, ValueError):
        return None
    return settings if isinstance(settings, dict) else None
