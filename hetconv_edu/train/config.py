"""Every setting of a training run: :class:`TrainConfig`, validated on construction.

Each field carries its own description (``field.metadata["help"]``): the class docstring's
field list and the command line's options (``python -m hetconv_edu train --help``) are both
made from it, so a new setting is written once. Fields marked ``machine`` say where and how a
run trains, not what it learns (:data:`MACHINE_FIELDS`); only they may change when a run is
resumed. Fields with ``choices`` take one of an enumeration of the package
(:data:`~hetconv_edu.models.MODELS`, :data:`~hetconv_edu.layers.ARRANGEMENTS`,
:data:`~hetconv_edu.data.DATASET_NAMES`, :data:`~hetconv_edu.train.optim.SCHEDULES`).

Class-time defaults (tuned on CIFAR-10 with 2 CPU cores, see ``benchmarks/cifar10_accuracy.py``):
small_vgg 64-128-256, HetConv P=4, batch 128, SGD lr 0.2 Nesterov momentum 0.9, weight decay
5e-4 on conv/linear weights, one-cycle schedule (20 % linear warm-up, linear decay to zero),
label smoothing 0.1, random crop + flip.
"""

from __future__ import annotations

import json
import os
import textwrap
import zlib
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

import torch

from hetconv_edu.checks import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_positive_int,
    is_out_of_memory,
    plain,
)
from hetconv_edu.data import DATASET_NAMES
from hetconv_edu.layers import ARRANGEMENTS, parse_conv_spec
from hetconv_edu.models import MODELS, build_model
from hetconv_edu.train.optim import SCHEDULES

__all__ = ["MACHINE_FIELDS", "TrainConfig", "default_of", "describe", "too_large"]


def _about(
    text: str, *, machine: bool = False, choices: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The metadata of a :class:`TrainConfig` field: its description (``help``), whether it is
    a machine setting, and the values it may take (None: any the checks accept)."""
    return {"help": text, "machine": machine, "choices": choices}


@dataclass
class TrainConfig:
    """Every setting of a training run. Validated on construction; every value is stored as a
    plain Python type (numpy scalars, 0-d tensors, tuples and paths are converted), so a config
    is JSON (:meth:`to_dict`) and ``torch.load(weights_only=True)`` reads it back.

    Raises:
        ValueError: a value of the wrong kind or out of range (naming the field, the value
            and what is allowed), or a model that cannot be built with ``conv`` and
            ``model_kwargs`` (checked on the ``meta`` device: no weights, no arithmetic; widths
            whose conv patterns alone do not fit in memory are refused too).

    Fields (``python -m hetconv_edu train --help`` shows the same):
    """

    model: str = field(
        default="small_vgg", metadata=_about("the network", choices=tuple(sorted(MODELS)))
    )
    conv: str | list[str] = field(
        default="hetconv:4",
        metadata=_about(
            "the family of every switchable 3×3 conv ('standard', 'hetconv:4', ...), or a "
            "list with one family per layer"
        ),
    )
    model_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata=_about("extra arguments of the model, e.g. {'widths': [32, 64, 128]}"),
    )
    arrangement: str = field(
        default="grouped",
        metadata=_about(
            "HetConv channel arrangement: 'grouped' (fastest) or the paper's 'shifted'",
            choices=ARRANGEMENTS,
        ),
    )
    dataset: str = field(default="cifar10", metadata=_about("the data set", choices=DATASET_NAMES))
    data_root: str | None = field(
        default=None,
        metadata=_about(
            "data folder holding cifar-10-batches-py/ or fashion-mnist/ (default: "
            "$HETCONV_EDU_DATA or the project's data/)",
            machine=True,
        ),
    )
    download: bool = field(
        default=True,
        metadata=_about("downloading a data set missing from the data folder", machine=True),
    )
    subset: int | None = field(
        default=None,
        metadata=_about(
            "train on a class-balanced random subset of this many images (default: all)"
        ),
    )
    test_subset: int | None = field(
        default=None,
        metadata=_about(
            "test on a class-balanced random subset of this many images (default: all)"
        ),
    )
    epochs: int = field(default=8, metadata=_about("passes over the training set"))
    batch_size: int = field(default=128, metadata=_about("images per step and per process"))
    lr: float = field(default=0.2, metadata=_about("peak learning rate"))
    momentum: float = field(default=0.9, metadata=_about("SGD momentum, in [0, 1)"))
    weight_decay: float = field(
        default=5e-4,
        metadata=_about("SGD weight decay on conv and linear weights (not biases or batch norm)"),
    )
    nesterov: bool = field(default=True, metadata=_about("Nesterov momentum"))
    label_smoothing: float = field(
        default=0.1, metadata=_about("label smoothing of the loss, in [0, 1)")
    )
    schedule: str = field(
        default="onecycle", metadata=_about("learning-rate schedule", choices=SCHEDULES)
    )
    warmup: float = field(
        default=0.2, metadata=_about("fraction of all steps spent warming up, in [0, 1)")
    )
    augment: bool = field(
        default=True,
        metadata=_about("random crop (pad 4) and horizontal flip of the training images"),
    )
    seed: int = field(
        default=0,
        metadata=_about("seed of the initial weights, subsets, data order and augmentation"),
    )
    device: str = field(
        default="auto", metadata=_about("'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'", machine=True)
    )
    channels_last: bool | None = field(
        default=None,
        metadata=_about("NHWC memory format (default: on for CPU and CUDA)", machine=True),
    )
    threads: int | None = field(
        default=None,
        metadata=_about("CPU threads (default: one per physical core, per process)", machine=True),
    )
    run_dir: str = field(
        default="runs",
        metadata=_about("folder of all runs; a run writes to run_dir/name/", machine=True),
    )
    name: str | None = field(
        default=None,
        metadata=_about(
            "the run's folder name (default: from data set, model and conv)", machine=True
        ),
    )

    def __post_init__(self) -> None:
        self.model = check_choice("model", _text(self.model), sorted(MODELS))
        conv = _plain_tree(self.conv)
        if isinstance(conv, list):
            if not conv:
                raise ValueError("conv must be a family like 'hetconv:4' or a non-empty list")
            self.conv = [str(parse_conv_spec(_text(c))) for c in conv]
        else:
            self.conv = str(parse_conv_spec(_text(conv)))
        if not isinstance(self.model_kwargs, dict) or not all(
            isinstance(k, str) for k in self.model_kwargs
        ):
            raise ValueError(
                f"model_kwargs must be a dict with text keys, e.g. {{'widths': [32, 64, 128]}}, "
                f"got {self.model_kwargs!r}"
            )
        self.model_kwargs = _plain_tree(self.model_kwargs)
        self.arrangement = check_choice("arrangement", _text(self.arrangement), ARRANGEMENTS)
        self.dataset = check_choice("dataset", _text(self.dataset), DATASET_NAMES)
        self.data_root = None if self.data_root is None else _folder("data_root", self.data_root)
        self.download = check_bool("download", self.download)
        for key in ("subset", "test_subset", "threads"):
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, check_positive_int(key, value))
        self.epochs = check_positive_int("epochs", self.epochs)
        self.batch_size = check_positive_int("batch_size", self.batch_size)
        self.seed = check_int("seed", self.seed, 0)
        self.lr = check_number("lr", self.lr, minimum=0, exclusive_minimum=True)
        self.momentum = check_number("momentum", self.momentum, minimum=0, maximum=1,
                                     exclusive_maximum=True)  # fmt: skip
        self.weight_decay = check_number("weight_decay", self.weight_decay, minimum=0)
        self.nesterov = check_bool("nesterov", self.nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0 (or nesterov=False)")
        self.label_smoothing = check_number(
            "label_smoothing", self.label_smoothing, minimum=0, maximum=1, exclusive_maximum=True
        )
        self.schedule = check_choice("schedule", _text(self.schedule), SCHEDULES)
        self.warmup = check_number("warmup", self.warmup, minimum=0, maximum=1,
                                   exclusive_maximum=True)  # fmt: skip
        self.augment = check_bool("augment", self.augment)
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be text like 'auto', 'cpu', 'cuda', got {self.device!r}")
        self.device = str(self.device)
        if self.channels_last is not None:
            self.channels_last = check_bool("channels_last (or None)", self.channels_last)
        self.run_dir = _folder("run_dir", self.run_dir)
        if self.name is not None:
            name = _text(self.name)
            if not isinstance(name, str) or not name or "/" in name or name[0] == ".":
                raise ValueError(
                    f"name must be a folder name (no '/', not starting with '.'), got {name!r}"
                )
            self.name = name
        self._check_model_fits()

    def _check_model_fits(self) -> None:
        """Build the network on the ``meta`` device (no memory, no arithmetic): model_kwargs or
        a per-layer conv list that do not fit the model are refused now, not mid-training."""
        try:
            with torch.device("meta"):
                build_model(self.model, self.conv, seed=None, arrangement=self.arrangement,
                            **self.model_kwargs)  # fmt: skip
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"model {self.model!r} cannot be built with conv={self.conv!r} and "
                f"model_kwargs={self.model_kwargs!r}: {err}"
            ) from None
        except (MemoryError, RuntimeError) as err:
            if not is_out_of_memory(err):
                raise
            raise ValueError(too_large(self, err)) from None

    @property
    def run_name(self) -> str:
        """``name``, or one derived from dataset, model and conv (``small_vgg-hetconv4``)."""
        if self.name:
            return self.name
        if isinstance(self.conv, list):
            unique = list(dict.fromkeys(self.conv))
            conv = "-".join(unique) if len(unique) == 1 else f"perlayer{_crc(self.conv)}"
        else:
            conv = self.conv
        name = f"{self.model}-{conv.replace(':', '')}"
        if self.model_kwargs:
            name += f"-{_crc(self.model_kwargs)}"
        if self.arrangement != "grouped":
            name += f"-{self.arrangement}"
        return name if self.dataset == "cifar10" else f"{self.dataset}-{name}"

    @property
    def label(self) -> str:
        """A readable label for tables: ``HetConv P=4``, ``standard``, or the list of families."""
        if isinstance(self.conv, list):
            unique = list(dict.fromkeys(self.conv))
            if len(unique) > 1:
                return "per-layer " + ",".join(self.conv)
            return parse_conv_spec(unique[0]).label
        return parse_conv_spec(self.conv).label

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values (lists, dicts, str, numbers, None)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from :meth:`to_dict` output.

        Raises:
            ValueError: unknown keys (naming them), or a value :class:`TrainConfig` refuses.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)


MACHINE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(TrainConfig) if f.metadata["machine"]
)
"""Fields that say where and how a run trains and writes, not what it learns: they may differ
between a run and its resumption (``data_root``, ``download``, ``device``, ``channels_last``,
``threads``, ``run_dir``, ``name``)."""


def default_of(setting: Field) -> Any:
    """The default value of a :class:`TrainConfig` field (a fresh one for ``model_kwargs``)."""
    if setting.default_factory is not MISSING:
        return setting.default_factory()
    return setting.default


def describe(setting: Field) -> str:
    """One line about a :class:`TrainConfig` field: its help, its choices and its default
    (left out when None: the help says what happens then)."""
    choices = setting.metadata["choices"]
    one_of = f"; one of {', '.join(choices)}" if choices else ""
    default = default_of(setting)
    return f"{setting.metadata['help']}{one_of}" + (
        "" if default is None else f" (default {default!r})"
    )


def too_large(config: TrainConfig, error: BaseException, where: str = "here") -> str:
    """The message for a model of ``config`` that does not fit in memory (``error``)."""
    reason = " ".join(str(error).split()) or type(error).__name__
    return (
        f"model {config.model!r} with conv={config.conv!r} and model_kwargs="
        f"{config.model_kwargs!r} does not fit in memory {where} ({reason}); use smaller widths"
    )


def _field_doc(setting: Field) -> str:
    text = f"{setting.name}: {describe(setting)}."
    return textwrap.fill(text, 96, initial_indent=" " * 8, subsequent_indent=" " * 12)


TrainConfig.__doc__ = "\n".join(
    [TrainConfig.__doc__.rstrip(), *(_field_doc(f) for f in fields(TrainConfig)), ""]
)


def _text(value: object) -> object:
    """``str`` subclasses (``numpy.str_``) as plain ``str``; anything else unchanged."""
    return str(value) if isinstance(value, str) else plain(value)


def _folder(name: str, value: object) -> str:
    """A folder given as text or a path, as plain ``str``; ``ValueError`` otherwise."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a folder (text or a path), got {value!r}")
    return str(value)


def _plain_tree(value: Any) -> Any:
    """``value`` with numpy scalars, 0-d tensors and ``str`` subclasses made plain Python values
    and tuples made lists, inside lists and dicts too."""
    value = _text(value)
    if isinstance(value, list | tuple):
        return [_plain_tree(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain_tree(v) for k, v in value.items()}
    return value


def _crc(value: object) -> str:
    return f"{zlib.crc32(json.dumps(value, sort_keys=True).encode()):08x}"[:6]
