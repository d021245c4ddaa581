"""A trained model measured on its data: loss and accuracy of a split, logits, the confusion
matrix (:class:`Evaluator`), and its cost per image (:func:`model_cost`).

Images are the data set's uint8 images (N, C, H, W), normalised with its mean and std exactly as
in training, in the trainer's memory format and precision; the model runs in eval mode (batch
norm uses its running statistics), and its mode is restored afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.data import ImageDataset, normalize
from hetconv_edu.flops import NetworkCost, network_cost

__all__ = ["Evaluator", "eval_mode", "model_cost"]


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode within, its previous mode restored after (also on errors)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class _CpuView(nn.Module):
    """Runs the wrapped model on CPU-built inputs moved to its device (for network_cost)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.inner.parameters()).device
        return self.inner(x.to(device))


def model_cost(model: nn.Module, shape: tuple[int, int, int, int]) -> NetworkCost:
    """:func:`hetconv_edu.flops.network_cost` of ``model`` (on any device) for inputs of
    ``shape`` (1, C, H, W), counted in eval mode without gradients."""
    with eval_mode(model), torch.no_grad():
        return network_cost(_CpuView(model), shape)


class Evaluator:
    """Runs ``model`` on ``dataset``'s images as the trainer trains it.

    Args:
        model: the network (its own object: weights loaded later are seen).
        dataset: the data set whose images, mean and std are used.
        device: where the model is.
        memory_format: the trainer's (channels-last on CPU and CUDA).
        autocast: a function returning the context of the training precision (a null context
            outside CUDA).
        rank, world_size: this process's shard of a split: images ``rank::world_size``.
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: ImageDataset,
        *,
        device: torch.device,
        memory_format: torch.memory_format = torch.contiguous_format,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.model, self.dataset, self.device = model, dataset, device
        self.memory_format, self.autocast = memory_format, autocast
        self.rank, self.world_size = rank, world_size

    def logits(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """float32 logits (B, classes) on the model's device for uint8 images (B, C, H, W)
        (the model's mode is left as it is)."""
        x = normalize(images_uint8.to(self.device), self.dataset.mean, self.dataset.std)
        x = x.contiguous(memory_format=self.memory_format)
        with self.autocast():
            return self.model(x).float()

    @torch.no_grad()
    def split_sums(self, split: str, batch_size: int = 500) -> torch.Tensor:
        """float64 (3,) on the device: summed cross-entropy (nats), correct predictions and
        images of this process's shard of ``split`` (to be summed over processes).

        Raises:
            ValueError: ``split`` is neither ``"train"`` nor ``"test"``.
        """
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        images = getattr(self.dataset, f"{split}_images")[self.rank :: self.world_size]
        labels = getattr(self.dataset, f"{split}_labels")[self.rank :: self.world_size]
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.float64, device=self.device)
        with eval_mode(self.model):
            for start in range(0, len(labels), batch_size):
                y = labels[start : start + batch_size].to(self.device)
                logits = self.logits(images[start : start + batch_size])
                loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
                correct += (logits.argmax(1) == y).sum().double()
        count = torch.tensor(float(len(labels)), device=self.device, dtype=torch.float64)
        return torch.stack([loss_sum, correct, count])

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Logits (N, classes), float32 on the CPU, for uint8 images (N, C, H, W) — or one
        image (C, H, W), giving (classes,) — in the data set's format.

        Raises:
            ValueError: not uint8, or another image shape than the data set's.
        """
        if not isinstance(images, torch.Tensor):
            images = torch.as_tensor(images)
        single = images.ndim == 3
        if single:
            images = images.unsqueeze(0)
        data = self.dataset
        expected = (data.in_channels, data.image_size, data.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected or images.dtype != torch.uint8:
            raise ValueError(
                f"predict needs uint8 images (N, {', '.join(map(str, expected))}), got "
                f"{images.dtype} with shape {tuple(images.shape)}"
            )
        with eval_mode(self.model):
            out = torch.cat(
                [
                    self.logits(images[i : i + batch_size]).cpu()
                    for i in range(0, len(images), batch_size)
                ]
            )
        return out[0] if single else out

    def confusion_matrix(self) -> torch.Tensor:
        """int64 (C, C) on the test split: row = true class, column = predicted class."""
        classes = self.dataset.num_classes
        predicted = self.predict(self.dataset.test_images).argmax(1)
        pairs = self.dataset.test_labels * classes + predicted
        return torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes)
