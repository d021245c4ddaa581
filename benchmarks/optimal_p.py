"""What is the best P? Uniform sweep, weight-sharing network, search and retraining check.

Writes the results file the notebook ``04_best_p`` loads (default: the one shipped with the
package, ``hetconv_edu/results/optimal_p_small_vgg.json``), with its provenance.

    python benchmarks/optimal_p.py /path/to/data                # the shipped study, 2 CPU cores
    python benchmarks/optimal_p.py /path/to/data --device cuda --subset 45000 --epochs 30
    python benchmarks/optimal_p.py /path/to/data --quick --out /tmp/op.json   # smoke test

Steps, all with the same seed, data order and training budget:

1. Uniform P: small_vgg with every switchable layer at P ∈ {1, 2, 4, 8, 16, largest valid},
   trained from scratch on ``--subset`` CIFAR-10 training images for ``--epochs`` epochs, once
   per seed, tested on the 10,000 test images.
2. A weight-sharing network (nested masks, sandwich rule) trained on the same images; a
   validation split of ``--val`` further training images (never the test set) is held out for
   the search.
3. Costs of every layer at every P (analytic MACs, measured ms per image) and of whole networks.
4. Each layer's sensitivity on the weight-sharing network; the exact knapsack front in MACs and
   in measured inference time; the plan at each budget, checked by a small evolutionary search
   on the weight-sharing network.
5. Honesty check: each searched configuration retrained from scratch like the uniform runs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from hetconv_edu.data import DatasetNotFoundError, load_dataset
from hetconv_edu.models import build_model
from hetconv_edu.optimal_p import (
    EvolutionCheck,
    OptimalPResults,
    ResultsFileError,
    Run,
    default_results_path,
    evaluate_config,
    fixed_costs,
    load_results,
    measure_layers,
    measure_network,
    measure_sensitivity,
    provenance,
    save_results,
    split_validation,
    study_config,
)
from hetconv_edu.search import evolutionary_search
from hetconv_edu.study_reference import stamp_reference
from hetconv_edu.supernet import SuperNetTrainer
from hetconv_edu.train import TrainConfig, Trainer, set_cpu_threads

DATA_SOURCE = "CIFAR-10 (python batches, cifar-10-batches-py/ in the data folder)"
"""How the provenance names the data read (never the folder's path, which is the reader's)."""

QUICK = {
    "subset": 300,
    "val": 200,
    "epochs": 1,
    "seeds": [0],
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
    parser.add_argument("--widths", type=int, nargs="+", default=None)
    parser.add_argument("--subset", type=int, default=3000, help="training images")
    parser.add_argument("--val", type=int, default=1000, help="validation images for the search")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--supernet-epochs", type=int, default=None, help="default: --epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
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
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny smoke test")
    parser.add_argument("--out", type=Path, default=None)
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
    out = args.out or default_results_path(args.model)
    run_dir = tempfile.mkdtemp(prefix="optimal_p_runs_")
    started = time.perf_counter()
    threads = set_cpu_threads(args.threads)
    try:
        full = load_dataset("cifar10", args.data_root, download=False)
    except DatasetNotFoundError as error:
        parser.exit(2, f"error: {' '.join(str(error).split())}\n")
    try:
        for_test, for_search = split_validation(full, args.subset, args.val, seed=0)
    except ValueError as error:
        parser.exit(2, f"error: {error}; lower --subset or --val\n")
    model_kwargs = {"widths": list(args.widths)} if args.widths else {}
    shape = tuple(for_test.train_images.shape[1:])

    def config(conv: str | list[str], seed: int, epochs: int) -> TrainConfig:
        return study_config(
            args.model, conv, model_kwargs, seed=seed, epochs=epochs, batch_size=args.batch_size,
            device=args.device, threads=args.threads, run_dir=run_dir,
        )  # fmt: skip

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {text}", flush=True)

    # 1. the weight-sharing network first: it also tells which P every layer allows
    supernet_epochs = args.supernet_epochs or args.epochs
    log(f"weight-sharing network: {supernet_epochs} epochs on {args.subset} images")
    trainer = SuperNetTrainer(config("standard", 0, supernet_epochs), for_search)
    trainer.run(progress=False)
    net = trainer.model
    common = sorted(set.intersection(*(set(c) for c in net.choices)))
    uniform = args.uniform or sorted({p for p in (1, 2, 4, 8, 16) if p in common} | {common[-1]})

    # 2. uniform P from scratch
    trained: dict[tuple[int, ...], list[tuple[int, float, float]]] = {}

    def train(conv_config: tuple[int, ...], seed: int) -> tuple[float, float]:
        start = time.perf_counter()
        # Scratch runs in a temporary folder: each seed's run replaces the previous one's files.
        t = Trainer(
            config([f"hetconv:{p}" for p in conv_config], seed, args.epochs),
            for_test,
            overwrite=True,
        )
        history = t.run(progress=False)
        seconds = time.perf_counter() - start
        acc = history.epochs[-1].test_acc
        log(f"  {conv_config} seed {seed}: test {acc:.2%} in {seconds:.0f} s")
        return acc, seconds

    log(f"uniform P {uniform}, seeds {args.seeds}, {args.epochs} epochs on {args.subset} images")
    for p in uniform:
        cfg = (p,) * len(net.slots)
        for seed in args.seeds:
            acc, seconds = train(cfg, seed)
            trained.setdefault(cfg, []).append((seed, acc, seconds))

    # 3. costs
    log("timing every layer at every P")
    layers = measure_layers(net, shape, batch=args.timing_batch, rounds=args.rounds)

    # 4. sensitivities and search
    def evaluate(cfg: tuple[int, ...]) -> float:
        return evaluate_config(trainer, cfg, calibration_batches=args.calibration_batches)

    log("sensitivity of each layer on the weight-sharing network")
    reference_acc, losses = measure_sensitivity(evaluate, net.choices)
    layers = [
        type(layer)(**{**layer.__dict__, "loss": loss})
        for layer, loss in zip(layers, losses, strict=True)
    ]
    largest = net.largest()

    def networks(configs: list[tuple[int, ...]]) -> dict[str, torch.nn.Module]:
        return {
            "standard": build_model(args.model, "standard", seed=0, **model_kwargs),
            **{
                ",".join(map(str, cfg)): build_model(
                    args.model, [f"hetconv:{p}" for p in cfg], seed=0, **model_kwargs
                )
                for cfg in configs
            },
        }

    log("timing the standard and uniform networks")
    standard = measure_network(
        networks(list(trained)), shape, batch=args.timing_batch, rounds=args.rounds
    )["standard"]
    fixed = fixed_costs(standard, layers)
    draft = OptimalPResults(
        provenance={},
        model=args.model,
        model_kwargs=model_kwargs,
        input_shape=shape,
        standard=standard,
        fixed=fixed,
        reference_acc=reference_acc,
        layers=tuple(layers),
    )
    checks: list[EvolutionCheck] = []
    searched: dict[tuple[int, ...], tuple[str, float, float]] = {}
    for metric, fractions in (("macs", args.mac_budgets), ("infer_ms", args.time_budgets)):
        for fraction in fractions:
            budget = fraction * standard.get(metric)
            plan = draft.best(metric, budget)
            if plan is None:
                log(f"  {metric} budget {fraction:.2f}: nothing fits")
                continue
            measured = evaluate(plan.config)
            found = evolutionary_search(
                draft.options(metric),
                evaluate,
                budget,
                fixed_cost=fixed.get(metric),
                population=args.population,
                generations=args.generations,
                start=[plan.config],
            )
            checks.append(
                EvolutionCheck(
                    metric=metric,
                    budget=budget,
                    knapsack_config=plan.config,
                    knapsack_predicted=reference_acc - plan.loss,
                    knapsack_measured=measured,
                    best_config=found[0][0],
                    best_measured=found[0][1],
                    evaluations=len(found),
                )
            )
            log(
                f"  {metric} ≤ {fraction:.2f} of standard: knapsack {plan.config} predicted "
                f"{reference_acc - plan.loss:.2%}, measured {measured:.2%}; evolution best "
                f"{found[0][0]} {found[0][1]:.2%} ({len(found)} evaluated)"
            )
            searched.setdefault(plan.config, (metric, budget, measured))

    # 5. retrain the searched configurations (a uniform one was trained already: reused)
    log(f"retraining {len(searched)} searched configurations from scratch")
    for cfg in searched:
        if cfg not in trained:
            acc, seconds = train(cfg, args.seeds[0])
            trained[cfg] = [(args.seeds[0], acc, seconds)]

    log("timing every trained network and the standard one, interleaved")
    net_costs = measure_network(
        networks(list(trained)), shape, batch=args.timing_batch, rounds=args.rounds
    )
    # Each trained network keeps its own measured costs from this timing. The standard network
    # and the fixed part stay those of the first timing: the budgets and the search used them,
    # so the file's cost model (fixed + layers) is the one every plan in it was chosen under.
    runs = [
        Run("uniform", cfg, seed, acc, net_costs[",".join(map(str, cfg))], seconds)
        for cfg in trained
        if len(set(cfg)) == 1 and cfg[0] in uniform
        for seed, acc, seconds in trained[cfg]
    ]
    for cfg, (metric, budget, supernet_acc) in searched.items():
        seed, acc, seconds = trained[cfg][0]
        costs = net_costs[",".join(map(str, cfg))]
        runs.append(Run("searched", cfg, seed, acc, costs, seconds, metric, budget, supernet_acc))

    data = {
        "name": "CIFAR-10",
        "source": DATA_SOURCE,
        "train_images": args.subset,
        "validation_images": args.val,
        "validation": "held out from the training set, used only by the search",
        "test_images": len(for_test.test_labels),
        **({"note": args.data_note} if args.data_note else {}),
    }
    budget = {
        "epochs": args.epochs,
        "supernet_epochs": supernet_epochs,
        "batch_size": args.batch_size,
        "recipe": "TrainConfig defaults (SGD nesterov, one-cycle, label smoothing 0.1)",
        "seeds": args.seeds,
        "sandwich": "largest + smallest + 1 random configuration per step",
        "timing_batch": args.timing_batch,
        "timing_rounds": args.rounds,
        "device": args.device,
        "threads": threads,
        "seconds": round(time.perf_counter() - started),
    }
    command = " ".join(["python", *sys.argv])
    results = OptimalPResults(
        provenance=provenance(["python", *sys.argv], data, budget),
        model=args.model,
        model_kwargs=model_kwargs,
        input_shape=shape,
        standard=standard,
        fixed=fixed,
        reference_acc=reference_acc,
        layers=tuple(layers),
        runs=tuple(runs),
        evolution=tuple(checks),
        notes={"largest_config": list(largest)},
    )
    log("reference computation (replayed by the tests to tell whether the results are current)")
    save_results(stamp_reference(results, command), out)
    shutil.rmtree(run_dir, ignore_errors=True)
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
    """The uniform front, the searched configurations and the answer, as plain text."""
    std = results.standard
    print(f"\nstandard network: {std.macs / 1e6:.1f}M MACs, {std.infer_ms:.3f} ms/image inference")
    print(f"\n{'run':<22}{'test acc':>9}{'MACs':>9}{'×std':>6}{'infer ms':>10}{'predicted':>10}")
    for run in sorted(results.runs, key=lambda r: (r.kind, r.costs.macs, r.seed)):
        print(
            f"{run.label + ('' if run.kind == 'searched' else f' s{run.seed}'):<22}"
            f"{run.test_acc:>9.2%}{run.costs.macs / 1e6:>8.1f}M{run.costs.macs / std.macs:>6.2f}"
            f"{run.costs.infer_ms:>10.3f}{results.predicted_acc(run.config):>10.2%}"
        )
    print(f"\nrank correlation predicted vs retrained: {results.rank_correlation():.2f}")
    for check in results.evolution:
        print(
            f"{check.metric} budget {check.budget:.4g}: knapsack {check.knapsack_config} "
            f"{check.knapsack_measured:.2%} vs evolution {check.best_config} "
            f"{check.best_measured:.2%}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
