"""compare and format_table (hetconv_edu/train/comparison.py)."""

from __future__ import annotations

from hetconv_edu.train import compare, format_table
from tests.trainers import config


def test_compare_rows_and_table(data_root, dataset, tmp_path):
    configs = [config(data_root, tmp_path, conv=c, epochs=1) for c in ("standard", "hetconv:4")]
    results = compare(configs, dataset, progress=False)
    assert [r.label for r in results] == ["standard", "HetConv P=4"]
    assert results[1].macs < results[0].macs and results[1].params < results[0].params
    table = format_table(results)
    for word in ("test acc", "params", "MACs/image", "s/epoch", "images/s", "HetConv P=4"):
        assert word in table
