"""CIFAR-10 test accuracy and wall time of the class-time comparison: standard vs HetConv.

By default it trains exactly what the training notebook's Train button trains at class time
(:data:`hetconv_edu.apps.training.CLASS_SETTINGS`: small_vgg 64-128-256, standard vs HetConv
P=2 and P=4, same seed so same initial weights where shapes agree and same data order, the
package's recipe :class:`hetconv_edu.train.TrainConfig`) and prints test accuracy and wall time
per run. ``--full`` trains on all 50,000 images and tests on all 10,000 (the 10-minute goal).

    python benchmarks/cifar10_accuracy.py /path/to/data          # the class-time comparison
    python benchmarks/cifar10_accuracy.py /path/to/data --full --conv standard hetconv:4 hetconv:8

The data folder holds ``cifar-10-batches-py/`` (or the official archive); default
``$HETCONV_EDU_DATA``. Goal (issue): the default HetConv net ≥ 80 % test accuracy in ≤ 10
minutes on 2 CPU cores, within 1 point of standard.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hetconv_edu.apps.training import CLASS_SETTINGS
from hetconv_edu.data import DatasetNotFoundError, load_dataset
from hetconv_edu.train import EpochLog, TrainConfig, Trainer, physical_cores, set_cpu_threads

CLASS = {
    "subset": CLASS_SETTINGS.subset,
    "test_subset": CLASS_SETTINGS.test_subset,
    "epochs": CLASS_SETTINGS.epochs,
}
FULL = {"subset": None, "test_subset": None, "epochs": TrainConfig.epochs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_root", nargs="?", default=os.environ.get("HETCONV_EDU_DATA"))
    parser.add_argument("--full", action="store_true", help="all training and test images")
    parser.add_argument("--conv", nargs="+", default=list(CLASS_SETTINGS.families))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if not args.data_root:
        parser.error("give the data folder (holding cifar-10-batches-py/) or set HETCONV_EDU_DATA")
    setting = dict(FULL if args.full else CLASS)
    for key in ("epochs", "subset"):
        if getattr(args, key) is not None:
            setting[key] = getattr(args, key)
    extra = {k: getattr(args, k) for k in ("batch_size", "lr") if getattr(args, k) is not None}
    threads = set_cpu_threads(args.threads)
    try:
        dataset = load_dataset(
            "cifar10",
            args.data_root,
            subset=setting["subset"],
            test_subset=setting["test_subset"],
            seed=args.seed,
            download=False,
        )
    except DatasetNotFoundError as error:
        parser.exit(2, f"error: {' '.join(str(error).split())}\n")
    print(
        f"CIFAR-10: {len(dataset.train_labels)} training images, {len(dataset.test_labels)} test "
        f"images, {setting['epochs']} epochs, {threads} threads ({physical_cores()} cores)",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as run_dir:
        for conv in args.conv:
            config = TrainConfig(
                conv=conv,
                data_root=args.data_root,
                subset=setting["subset"],
                test_subset=setting["test_subset"],
                epochs=setting["epochs"],
                seed=args.seed,
                threads=args.threads,
                run_dir=run_dir,
                **extra,
            )
            start = time.perf_counter()
            trainer = Trainer(config, dataset, callbacks=[EpochLog()])
            history = trainer.run(progress=args.progress)
            wall = time.perf_counter() - start
            rows.append((config.label, history.epochs[-1].test_acc, wall, trainer.macs))
            print(f"{config.label}: {history.epochs[-1].test_acc:.2%} in {wall:.0f} s", flush=True)
    print(f"\n{'run':<16}{'test acc':>10}{'wall s':>9}{'MACs/image':>12}")
    for label, acc, wall, macs in rows:
        print(f"{label:<16}{acc:>10.2%}{wall:>9.0f}{macs / 1e6:>11.2f}M")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
