"""What is the best P? The full-data study: uniform P, weight-sharing network, search, retraining.

Writes the results file the notebook ``04_best_p`` loads (default: the one shipped with the
package, ``hetconv_edu/results/optimal_p_small_vgg.json``), with its provenance and its answer.

    python benchmarks/optimal_p.py DATA                 # the shipped study: 2 CPU cores, ~2 h quiet
    python benchmarks/optimal_p.py DATA --retime        # the timing stage again, at a quiet moment
    python benchmarks/optimal_p.py DATA --quick --out /tmp/op.json   # smoke test (fake data too)

``DATA`` holds ``cifar-10-batches-py/``. Every finished piece is stored as it ends in a study
folder next to the results file (``optimal_p_small_vgg.study/``, :mod:`hetconv_edu.study.folder`);
the same command continues an interrupted study where it stopped (Ctrl-C, a kill, a reboot: a
training resumes from its last finished epoch). A command with other settings is refused, with
the differences named. The stages (:mod:`hetconv_edu.study.driver`):

1. uniform P ∈ {1, 2, 4, 8, 16, largest}, trained from scratch once per seed on ``--subset``
   training images, tested on the 10,000 test images (their only use);
2. a weight-sharing network trained on the same images; ``--val`` further training images
   (disjoint from them, never the test set) are its validation split, for the search alone;
3. each layer's sensitivity on the weight-sharing network (validation images);
4. timing: each layer at each P, then whole networks (standard, uniform, every plan) timed
   interleaved in one call, with the load average recorded; ``--retime`` measures it again
   alone (and retrains any time plan that changes);
5. at each MAC budget (fraction of the standard network's MACs) and each inference-time budget
   (fraction of the standard network's *measured whole-network* time; time model: a line from
   the layers' sum to the whole network's time, fitted on the standard and uniform networks),
   the knapsack's plan, checked by an evolutionary search on the weight-sharing network;
6. every plan retrained from scratch with every seed.

The answer (:mod:`hetconv_edu.study.answer`): mean ± spread (sample standard deviation) over the
seeds; a plan is better than uniform only when its mean beats the most accurate uniform P of
equal or lower cost by more than the seeds' spread.

Shipped CPU study (defaults): small_vgg 32-64-128, 45,000 training / 5,000 validation images,
8 epochs, seeds 0 1 2, batch 128, 2 threads: about 2 hours on 2 quiet CPU cores.

On a GPU, the paper's scale (VGG-16 of the paper, its longer schedule, for anyone who has one):

    python benchmarks/optimal_p.py DATA --device cuda --model vgg16 --epochs 60 \\
        --supernet-epochs 120 --timing-batch 128 --out results/optimal_p_vgg16.json

(timings are then the GPU's; a study runs on one device from start to end.)
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hetconv_edu.data import DatasetNotFoundError, load_dataset
from hetconv_edu.study.answer import answer_sentence, budget_verdicts, uniform_summaries
from hetconv_edu.study.driver import (
    Study,
    StudyError,
    StudySettings,
    StudyStopped,
    data_fingerprint,
)
from hetconv_edu.study.folder import StudyFolder, StudyFolderError, study_folder_for
from hetconv_edu.study.measure import provenance
from hetconv_edu.study.reference import stamp_reference
from hetconv_edu.study.results import (
    OptimalPResults,
    ResultsFileError,
    default_results_path,
    load_results,
    save_results,
)
from hetconv_edu.train import set_cpu_threads

DATA_SOURCE = "CIFAR-10 (python batches, cifar-10-batches-py/ in the data folder)"
"""How the provenance names the data read (never the folder's path, which is the reader's)."""

STUDY_WIDTHS = [32, 64, 128]
"""small_vgg's widths in the shipped study (other models: their own default widths)."""

QUICK = {
    "subset": 300,
    "val": 200,
    "epochs": 1,
    "seeds": [0, 1],
    "uniform": [1, 4],
    "widths": [8, 16, 32],
    "mac_budgets": [0.5],
    "time_budgets": [0.8],
    "population": 3,
    "generations": 1,
    "rounds": 1,
    "calibration_batches": 2,
    "batch_size": 50,
}


def build_parser() -> argparse.ArgumentParser:
    """The command line (also read back by the tests from a results file's command)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_root", nargs="?", default=os.environ.get("HETCONV_EDU_DATA"))
    parser.add_argument("--model", default="small_vgg")
    parser.add_argument(
        "--widths", type=int, nargs="+", default=None, help="default 32 64 128 for small_vgg"
    )
    parser.add_argument("--subset", type=int, default=45_000, help="training images")
    parser.add_argument("--val", type=int, default=5_000, help="validation images for the search")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--supernet-epochs", type=int, default=None, help="default: --epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--uniform", type=int, nargs="+", default=None, help="default 1 2 4 8 16 and the largest"
    )
    parser.add_argument("--mac-budgets", type=float, nargs="+", default=[0.3, 0.45, 0.6])
    parser.add_argument("--time-budgets", type=float, nargs="+", default=[0.45, 0.6, 0.75])
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds")
    parser.add_argument("--timing-batch", type=int, default=32)
    parser.add_argument("--calibration-batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny smoke test")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--retime",
        action="store_true",
        help="measure the timing stage again (at a quiet moment), then continue",
    )
    parser.add_argument(
        "--data-note", default="", help="what the data is, for the provenance (e.g. its origin)"
    )
    parser.add_argument(
        "--stamp-reference",
        type=Path,
        metavar="FILE",
        help="record this code's reference computation in the results FILE (made by this "
        "code: check first) and exit; no study is run",
    )
    parser.add_argument(
        "--data-source", default=None, help="with --stamp-reference: how the data is named"
    )
    parser.add_argument(
        "--stamp-note",
        default="",
        help="with --stamp-reference: how the stamper checked that this code computes what "
        "the code that made the results computed",
    )
    return parser


def settings_from(args: argparse.Namespace) -> StudySettings:
    """The study's settings from the command line (``ValueError`` for a bad value)."""
    widths = args.widths or (STUDY_WIDTHS if args.model == "small_vgg" else None)
    return StudySettings(
        model=args.model,
        widths=tuple(widths) if widths else None,
        train_images=args.subset,
        val_images=args.val,
        epochs=args.epochs,
        supernet_epochs=args.supernet_epochs,
        seeds=tuple(args.seeds),
        uniform=tuple(args.uniform) if args.uniform else None,
        mac_budgets=tuple(args.mac_budgets),
        time_budgets=tuple(args.time_budgets),
        population=args.population,
        generations=args.generations,
        calibration_batches=args.calibration_batches,
        batch_size=args.batch_size,
        device=args.device,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stamp_reference is not None:
        return stamp_file(args.stamp_reference, args.data_source, args.stamp_note, argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if not args.data_root:
        parser.error("give the data folder (holding cifar-10-batches-py/) or set HETCONV_EDU_DATA")
    try:
        settings = settings_from(args)
    except ValueError as error:
        parser.error(str(error))
    out = args.out or default_results_path(args.model)
    started = time.perf_counter()
    threads = set_cpu_threads(args.threads)

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {text}", flush=True)

    try:
        full = load_dataset("cifar10", args.data_root, download=False)
    except DatasetNotFoundError as error:
        parser.exit(2, f"error: {' '.join(str(error).split())}\n")
    if settings.train_images + settings.val_images > len(full.train_labels):
        parser.exit(
            2,
            f"error: {settings.train_images} training + {settings.val_images} validation images "
            f"exceed the {len(full.train_labels)} training images of {full.name}; lower --subset "
            "or --val\n",
        )
    folder_settings = {
        **settings.to_dict(),
        "data": {"name": full.name, "fingerprint": data_fingerprint(full)},
    }
    folder_path = study_folder_for(out)
    log(f"study folder {folder_path}/ (finished pieces: the same command continues)")
    try:
        with StudyFolder(folder_path, folder_settings) as folder:
            study = Study(
                settings, full, folder, threads=args.threads, timing_batch=args.timing_batch,
                timing_rounds=args.rounds, log=log,
            )  # fmt: skip
            results = study.run(retime=args.retime)
    except StudyStopped as stop:
        print(
            f"stopped: {stop}. Everything finished is stored in {folder_path}/; run the same "
            "command to continue.",
            file=sys.stderr,
        )
        return 130
    except (StudyFolderError, StudyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    data = {
        "name": "CIFAR-10",
        "source": DATA_SOURCE,
        "train_images": settings.train_images,
        "validation_images": settings.val_images,
        "validation": "held out from the training set (disjoint from it), used only by the search",
        "test_images": len(full.test_labels),
        "fingerprint": folder_settings["data"]["fingerprint"],
        **({"note": args.data_note} if args.data_note else {}),
    }
    seconds = sum(run.seconds for run in {(r.config, r.seed): r for r in results.runs}.values())
    budget = {
        "epochs": settings.epochs,
        "supernet_epochs": settings.supernet_epochs_or_default,
        "batch_size": settings.batch_size,
        "recipe": "TrainConfig defaults (SGD nesterov, one-cycle, label smoothing 0.1)",
        "seeds": list(settings.seeds),
        "sandwich": "largest + smallest + 1 random configuration per step",
        "timing_batch": args.timing_batch,
        "timing_rounds": args.rounds,
        "device": settings.device,
        "threads": threads,
        "seconds": round(seconds + (results.notes.get("supernet_seconds") or 0.0)),
    }
    command = " ".join(["python", *sys.argv])
    prov = provenance(["python", *sys.argv], data, budget)
    prov["timing"] = results.notes["timing"]
    results = replace(
        results,
        provenance=prov,
        notes={k: v for k, v in results.notes.items() if k != "timing"},
    )
    log("reference computation (replayed by the tests to tell whether the results are current)")
    save_results(stamp_reference(results, command), out)
    log(f"wrote {out}")
    print_tables(results)
    return 0


def stamp_file(path: Path, data_source: str | None, note: str, argv: list[str] | None) -> int:
    """``--stamp-reference``: add the reference computation to an existing results file."""
    try:
        results = load_results(path)
    except ResultsFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    command = shlex.join(
        ["python", "benchmarks/optimal_p.py", *(sys.argv[1:] if argv is None else argv)]
    )
    if data_source:
        data = {**results.provenance["data"], "source": data_source}
        results = replace(results, provenance={**results.provenance, "data": data})
    save_results(stamp_reference(results, command, note), path)
    print(f"stamped the reference computation into {path}")
    return 0


def print_tables(results: OptimalPResults) -> None:
    """The uniform P table (mean ± spread over seeds, MACs, whole-network ms per image), each
    budget's plan and verdict, and the answer, as plain text."""
    std = results.standard
    print(
        f"\nstandard network: {std.macs / 1e6:.1f}M MACs, {std.infer_ms:.3f} ms/image inference "
        "(whole network, measured)"
    )
    print("\nuniform P, trained from scratch (test accuracy: mean ± sample std over seeds)")
    print(f"{'P':>4}  {'test acc':<24}{'MACs':>9}{'×std':>6}{'ms/image':>10}{'×std':>6}")
    for u in uniform_summaries(results):
        print(
            f"{u.config[0]:>4}  {u.text():<24}{u.cost('macs') / 1e6:>8.1f}M"
            f"{u.cost('macs') / std.macs:>6.2f}{u.cost('infer_ms'):>10.3f}"
            f"{u.cost('infer_ms') / std.infer_ms:>6.2f}"
        )
    print("\nplans (predicted: weight-sharing model; retrained: from scratch, test set)")
    for v in budget_verdicts(results):
        predicted = results.predicted_acc(v.config)
        print(f"- predicted {predicted:.2%}. {v.sentence()}")
    print(f"\nrank correlation predicted vs retrained: {results.rank_correlation():.2f}")
    for check in results.evolution:
        print(
            f"{check.metric} budget {check.budget:.4g}: knapsack {check.knapsack_config} "
            f"{check.knapsack_measured:.2%} vs evolution {check.best_config} "
            f"{check.best_measured:.2%} (validation, weight-sharing network)"
        )
    print(f"\nAnswer: {answer_sentence(results)}")


if __name__ == "__main__":
    raise SystemExit(main())
