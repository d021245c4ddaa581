"""Evaluation and prediction of a trained model (hetconv_edu/train/evaluation.py)."""

from __future__ import annotations

import pytest
import torch

from hetconv_edu.train import Trainer
from tests.trainers import config


def test_predict_evaluate_confusion(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path, epochs=1), dataset)
    trainer.run(progress=False)
    logits = trainer.predict(dataset.test_images[:5])
    assert logits.shape == (5, 10) and logits.dtype == torch.float32
    assert torch.allclose(trainer.predict(dataset.test_images[0]), logits[0], atol=1e-5)
    matrix = trainer.confusion_matrix()
    assert matrix.shape == (10, 10) and int(matrix.sum()) == len(dataset.test_labels)
    _loss, acc = trainer.evaluate("test")
    assert acc == pytest.approx(float(matrix.diag().sum()) / int(matrix.sum()))
    assert acc == pytest.approx(trainer.history.epochs[-1].test_acc)
    assert trainer.model.training  # restored
    with pytest.raises(ValueError, match="uint8"):
        trainer.predict(dataset.test_images[:2].float())
