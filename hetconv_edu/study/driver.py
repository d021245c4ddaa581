"""The best-P study, stage by stage, resumable: what ``benchmarks/optimal_p.py`` runs.

Stages, in order, each stored in the :class:`~hetconv_edu.study.folder.StudyFolder` the moment
it is done (a network's training also keeps a checkpoint per epoch), so the same command
continues an interrupted study where it stopped:

1. **Uniform P from scratch** — every switchable layer at P ∈ ``uniform`` (default 1, 2, 4, 8,
   16 and the largest every layer allows), once per seed, on the training images; tested on the
   test set (the only use of the test set).
2. **Weight-sharing network** (:class:`~hetconv_edu.study.supernet.SuperNetTrainer`, sandwich rule)
   trained on the same training images; its test split is the *validation* images, disjoint
   from the training images (:func:`~hetconv_edu.study.measure.split_validation`).
3. **Sensitivities** of every layer on the weight-sharing network, on the validation images.
4. **Timing** (:meth:`Study.timing`, its own stage: ``retime`` measures it again first, alone,
   at a quiet moment; the load average is recorded with it) — every layer at every P, and whole
   networks (standard, uniform P, every plan) timed interleaved in one call. The time model is
   a straight line from the layers' sum to the whole network's time fitted on the standard and
   uniform networks (:func:`~hetconv_edu.study.measure.fit_time_model`).
5. **Plans** — at each MAC budget (a fraction of the standard network's MACs) and each time
   budget (a fraction of the standard network's *measured whole-network* inference time), the
   knapsack's best plan under the additive accuracy model and the cost model, checked by a
   small evolutionary search on the weight-sharing network (validation images).
6. **Plans from scratch** — every plan retrained with every seed, like the uniform networks
   (a plan that is a uniform configuration reuses those runs).

:meth:`Study.run` returns the :class:`~hetconv_edu.study.results.OptimalPResults` (without its
provenance, which the command adds).

The module is longer than the package's usual 500 lines because :class:`Study` is one class on
purpose: every stage reads what the earlier ones stored in the same folder, under the same
settings and data, and the order above is the resumable run; the measurements themselves live
in :mod:`hetconv_edu.study.measure`.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from hetconv_edu.checks import check_choice, check_int, check_number
from hetconv_edu.data import ImageDataset
from hetconv_edu.flops import network_cost
from hetconv_edu.models import MODELS, build_model
from hetconv_edu.study.costs import model_costs
from hetconv_edu.study.folder import StudyFolder
from hetconv_edu.study.measure import (
    evaluate_config,
    fit_time_model,
    measure_layers,
    measure_network,
    measure_sensitivity,
    split_validation,
    study_config,
)
from hetconv_edu.study.results import (
    TIME_METRICS,
    Costs,
    EvolutionCheck,
    LayerCosts,
    OptimalPResults,
    Run,
    fixed_costs,
)
from hetconv_edu.study.search import evolutionary_search
from hetconv_edu.study.supernet import SuperNet, SuperNetTrainer
from hetconv_edu.train import CHECKPOINT, CheckpointError, Trainer

__all__ = [
    "Study",
    "StudyError",
    "StudySettings",
    "StudyStopped",
    "data_fingerprint",
    "load_average",
]

Config = tuple[int, ...]

_TIMING_DATA = ("layers", "standard", "networks", "time_model")
"""The timing record's measurements (the rest says when, where and how it was measured)."""


class StudyError(RuntimeError):
    """The study cannot go on (e.g. timings too noisy to fit the time model); the message
    says what to do."""


class StudyStopped(Exception):
    """A study was stopped: a training by Ctrl-C (everything finished so far is stored; the same
    command continues), or a live run's step by its Stop button
    (:class:`~hetconv_edu.study.live.LiveStudy`)."""


@dataclass(frozen=True)
class StudySettings:
    """What the study computes (recorded in its folder; a continuation must ask the same).

    Args:
        model: a network of :data:`hetconv_edu.models.MODELS`; ``widths`` its widths (None:
            the model's default).
        train_images, val_images: training images, and validation images held out of the
            training set for the search (disjoint from them).
        epochs: of every network trained from scratch; ``supernet_epochs`` of the
            weight-sharing network (None: ``epochs``).
        seeds: every uniform P and every plan is trained once per seed.
        uniform: the uniform P values (None: 1, 2, 4, 8, 16 and the largest all layers take).
        mac_budgets, time_budgets: fractions of the standard network's MACs and of its
            measured whole-network inference time.
        population, generations: the evolutionary check's size.
        calibration_batches: training batches that re-estimate batch-norm statistics before
            each evaluation of the weight-sharing network.
        batch_size: of every training; ``device``: where everything trains and is timed.
    """

    model: str = "small_vgg"
    widths: tuple[int, ...] | None = None
    train_images: int = 45_000
    val_images: int = 5_000
    epochs: int = 8
    supernet_epochs: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    uniform: tuple[int, ...] | None = None
    mac_budgets: tuple[float, ...] = (0.3, 0.45, 0.6)
    time_budgets: tuple[float, ...] = (0.45, 0.6, 0.75)
    population: int = 6
    generations: int = 3
    calibration_batches: int = 8
    batch_size: int = 128
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODELS)
        for name in ("train_images", "val_images", "epochs", "population", "batch_size"):
            check_int(name, getattr(self, name), 1)
        for name in ("generations",):
            check_int(name, getattr(self, name), 0)
        check_int("calibration_batches", self.calibration_batches, 1)
        if self.supernet_epochs is not None:
            check_int("supernet_epochs", self.supernet_epochs, 1)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one, got {list(self.seeds)}")
        for seed in self.seeds:
            check_int("seed", seed, 0)
        for name in ("widths", "uniform"):
            for v in getattr(self, name) or ():
                check_int(name, v, 1)
        for name in ("mac_budgets", "time_budgets"):
            for v in getattr(self, name):
                check_number(name, v, minimum=0.0, exclusive_minimum=True, maximum=1.0)

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the network (its widths, when given)."""
        return {"widths": list(self.widths)} if self.widths else {}

    @property
    def supernet_epochs_or_default(self) -> int:
        """Epochs of the weight-sharing network."""
        return self.supernet_epochs or self.epochs

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def data_fingerprint(dataset: ImageDataset) -> str:
    """SHA-256 (first 16 hex digits) of a data set's images and labels, both splits: a study
    folder is continued only on the same data."""
    h = hashlib.sha256()
    for t in (dataset.train_images, dataset.train_labels, dataset.test_images, dataset.test_labels):
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def load_average() -> list[float]:
    """The machine's 1-, 5- and 15-minute load averages ([] where the system has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return []


def _key(config: Sequence[int]) -> str:
    return ",".join(map(str, config))


def _fraction_key(fraction: float) -> str:
    return f"{fraction:g}"


class Study:
    """One study in one folder (see the module docstring).

    Args:
        settings: what to compute.
        dataset: the whole data set (training and test splits); the study splits it.
        folder: the open study folder (its settings already checked).
        threads: CPU threads of every training (None: one per physical core).
        timing_batch, timing_rounds: images per timed call and interleaved rounds of the
            timing stage (settings of the measurement, not of the study: a new timing may
            change them).
        log: called with each line of progress.
    """

    def __init__(
        self,
        settings: StudySettings,
        dataset: ImageDataset,
        folder: StudyFolder,
        *,
        threads: int | None = None,
        timing_batch: int = 32,
        timing_rounds: int = 5,
        log: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.folder = folder
        self.threads = threads
        self.timing_batch = check_int("timing_batch", timing_batch, 1)
        self.timing_rounds = check_int("timing_rounds", timing_rounds, 1)
        self.log = log
        self.for_test, self.for_search = split_validation(
            dataset, settings.train_images, settings.val_images, seed=0
        )
        self.num_classes = dataset.num_classes
        self.shape = tuple(dataset.train_images.shape[1:])
        shapes = SuperNet(
            settings.model,
            seed=0,
            in_channels=self.shape[0],
            num_classes=self.num_classes,
            **settings.model_kwargs,
        )
        self.choices: tuple[Config, ...] = shapes.choices
        common = sorted(set.intersection(*(set(c) for c in self.choices)))
        self.uniform: list[int] = (
            list(settings.uniform)
            if settings.uniform
            else sorted({p for p in (1, 2, 4, 8, 16) if p in common} | {common[-1]})
        )
        bad = [p for p in self.uniform if p not in common]
        if bad:
            raise ValueError(
                f"uniform P {bad} is not a choice of every layer; {settings.model} allows {common}"
            )
        self.uniform_configs: list[Config] = [(p,) * len(self.choices) for p in self.uniform]
        self._supernet: SuperNetTrainer | None = None
        self.done = 0
        self.total = len(self.uniform_configs) * len(settings.seeds)

    # ---- training ---------------------------------------------------------------------------

    def _train_config(self, conv: str | list[str], seed: int, epochs: int, name: str):
        s = self.settings
        config = study_config(
            s.model,
            conv,
            s.model_kwargs,
            seed=seed,
            epochs=epochs,
            batch_size=s.batch_size,
            device=s.device,
            threads=self.threads,
            run_dir=str(self.folder.run_dir),
        )
        return replace(config, name=name)

    def _trainer(self, cls: type[Trainer], config, dataset: ImageDataset) -> Trainer:
        """A trainer continuing the run's last checkpoint, or a new one."""
        path = self.folder.run_dir / config.name
        if (path / CHECKPOINT).exists():
            try:
                trainer = cls(config, dataset, resume=True)
                if not trainer.finished:
                    self.log(f"  continuing {config.name} after epoch {trainer.epoch}")
                return trainer
            except CheckpointError as err:
                self.log(f"  {err}: training {config.name} again from the start")
        shutil.rmtree(path, ignore_errors=True)
        return cls(config, dataset)

    def train(self, config: Config, seed: int) -> dict[str, Any]:
        """The record of ``config`` trained from scratch with ``seed`` (trained now unless
        stored): test accuracy (from the confusion matrix), training seconds, confusion matrix
        and the test accuracy after every epoch.

        Raises:
            StudyStopped: the training was stopped; its checkpoint is kept.
        """
        name = f"run-{_key(config)}-s{seed}"
        record = self.folder.record(name)
        if record is not None:
            return record
        conv = [f"hetconv:{p}" for p in config]
        trainer = self._trainer(
            Trainer, self._train_config(conv, seed, self.settings.epochs, name), self.for_test
        )
        history = trainer.run(progress=False)
        if not trainer.finished:
            trainer.close()
            raise StudyStopped(f"the training of P = ({_key(config)}) seed {seed} was stopped")
        confusion = trainer.confusion_matrix()
        trainer.close()
        record = {
            "config": list(config),
            "seed": seed,
            "test_acc": float(confusion.diagonal().sum()) / float(confusion.sum()),
            "seconds": sum(e.seconds for e in history.epochs),
            "epoch_test_acc": [e.test_acc for e in history.epochs],
            "confusion": confusion.tolist(),
        }
        self.folder.save(name, record)
        shutil.rmtree(trainer.run_path, ignore_errors=True)
        self.done += 1
        self.log(
            f"  P = ({_key(config)}) seed {seed}: test {record['test_acc']:.2%}, trained in "
            f"{record['seconds']:.0f} s ({self.done} of {self.total} networks)"
        )
        return record

    def supernet(self) -> SuperNetTrainer:
        """The trained weight-sharing network (trained now, or continued, unless finished)."""
        if self._supernet is not None:
            return self._supernet
        s = self.settings
        config = self._train_config("standard", 0, s.supernet_epochs_or_default, "supernet")
        trainer = self._trainer(SuperNetTrainer, config, self.for_search)
        if not trainer.finished:
            self.log(
                f"weight-sharing network: {s.supernet_epochs_or_default} epochs on "
                f"{s.train_images} images"
            )
        history = trainer.run(progress=False)
        if not trainer.finished:
            trainer.close()
            raise StudyStopped("the training of the weight-sharing network was stopped")
        trainer.close()
        if self.folder.record("supernet") is None:
            self.folder.save(
                "supernet",
                {
                    "seconds": sum(e.seconds for e in history.epochs),
                    "epoch_validation_acc": [e.test_acc for e in history.epochs],
                },
            )
        self._supernet = trainer
        return trainer

    def evaluate(self, config: Config) -> float:
        """Validation accuracy of the weight-sharing network in ``config``."""
        return evaluate_config(
            self.supernet(), config, calibration_batches=self.settings.calibration_batches
        )

    # ---- sensitivities, timing, plans -------------------------------------------------------

    def sensitivity(self) -> dict[str, Any]:
        """Reference accuracy and each layer's loss at each P (on the validation images)."""
        record = self.folder.record("sensitivity")
        if record is None:
            self.log("sensitivity of each layer on the weight-sharing network")
            reference, losses = measure_sensitivity(self.evaluate, self.choices)
            record = {"reference_acc": reference, "losses": [list(row) for row in losses]}
            self.folder.save("sensitivity", record)
        return record

    def _networks(self, configs: Sequence[Config]) -> dict[str, torch.nn.Module]:
        s = self.settings
        kwargs = {"in_channels": self.shape[0], "num_classes": self.num_classes, **s.model_kwargs}
        return {
            "standard": build_model(s.model, "standard", seed=0, **kwargs),
            **{
                _key(c): build_model(s.model, [f"hetconv:{p}" for p in c], seed=0, **kwargs)
                for c in configs
            },
        }

    def _draft(
        self,
        layers: Sequence[LayerCosts],
        sensitivity: dict[str, Any],
        timing: dict[str, Any] | None,
    ) -> OptimalPResults:
        """The results so far: layers with their losses (and times), standard costs and the
        time model from ``timing`` (None: analytic costs only, times 0)."""
        layers = [
            replace(layer, loss=tuple(loss))
            for layer, loss in zip(layers, sensitivity["losses"], strict=True)
        ]
        if timing is None:
            std_macs, std_params = self._standard_counts()
            standard = Costs(std_macs, std_params, 0.0, 0.0)
            time_model: dict[str, tuple[float, float]] = {}
        else:
            standard = Costs(**timing["standard"])
            time_model = {m: tuple(v) for m, v in timing["time_model"].items()}
        return OptimalPResults(
            provenance={},
            model=self.settings.model,
            model_kwargs=self.settings.model_kwargs,
            input_shape=self.shape,
            standard=standard,
            fixed=fixed_costs(standard, layers),
            reference_acc=sensitivity["reference_acc"],
            layers=tuple(layers),
            time_model=time_model,
        )

    def _standard_counts(self) -> tuple[int, int]:
        net = self._networks([])["standard"].eval()
        cost = network_cost(net, (1, *self.shape))
        return cost.macs, cost.params

    def _analytic_layers(self) -> list[LayerCosts]:
        rows = model_costs(
            self.settings.model, self.settings.model_kwargs, self.shape, self.choices
        )[2]
        return [
            LayerCosts(
                **row, infer_ms=(0.0,) * len(row["choices"]), train_ms=(0.0,) * len(row["choices"])
            )
            for row in rows
        ]

    def mac_plans(self, sensitivity: dict[str, Any]) -> list[tuple[float, Config | None]]:
        """(fraction, the knapsack's plan or None when nothing fits) at each MAC budget."""
        draft = self._draft(self._analytic_layers(), sensitivity, None)
        out = []
        for fraction in self.settings.mac_budgets:
            plan = draft.best("macs", fraction * draft.standard.macs)
            out.append((fraction, None if plan is None else plan.config))
        return out

    def timing(self, sensitivity: dict[str, Any], retime: bool = False) -> dict[str, Any]:
        """The timing stage (stored; measured again with ``retime``): every layer at every P
        (forward, and forward + backward), then whole networks timed interleaved in one call:
        the standard network, the uniform ones, the MAC plans and every configuration on the
        per-layer-sum time front. The time model is fitted on the standard and uniform networks
        of that call; as it grows with the layers' sum, every time plan is a configuration of
        that front, so its whole network was timed in the same call.

        Raises:
            StudyError: a time plan is not among the networks timed (equal layer sums can
                reorder the front); measure again with ``retime``.
        """
        record = self.folder.record("timing")
        if record is not None and not retime:
            return record
        s = self.settings
        before, started = load_average(), datetime.datetime.now(datetime.UTC)
        self.log(f"timing every layer at every P (load average {before})")
        net = SuperNet(
            s.model,
            seed=0,
            in_channels=self.shape[0],
            num_classes=self.num_classes,
            **s.model_kwargs,
        )
        layers = measure_layers(
            net, self.shape, batch=self.timing_batch, rounds=self.timing_rounds, device=s.device
        )
        draft = self._draft(layers, sensitivity, None)
        front = [plan.config for plan in draft.front("infer_ms")]
        mac_plans = [c for _, c in self.mac_plans(sensitivity) if c is not None]
        configs = list(dict.fromkeys([*self.uniform_configs, *mac_plans, *front]))
        self.log(f"timing {len(configs) + 1} whole networks interleaved")
        costs = measure_network(
            self._networks(configs),
            self.shape,
            batch=self.timing_batch,
            rounds=self.timing_rounds,
            device=s.device,
        )
        standard = costs["standard"]
        draft = replace(draft, standard=standard, fixed=fixed_costs(standard, draft.layers))
        smallest = tuple(c[0] for c in self.choices)
        time_model = {
            metric: fit_time_model(
                [draft.layer_sum(smallest, metric)]
                + [draft.layer_sum(c, metric) for c in self.uniform_configs],
                [standard.get(metric)] + [costs[_key(c)].get(metric) for c in self.uniform_configs],
            )
            for metric in TIME_METRICS
        }
        draft = replace(draft, time_model=time_model)
        for fraction in s.time_budgets:
            plan = draft.best("infer_ms", fraction * standard.infer_ms)
            if plan is not None and _key(plan.config) not in costs:
                raise StudyError(
                    f"timing: the plan at {fraction:g} of the standard time, P = "
                    f"({_key(plan.config)}), was not timed; run the command again with --retime"
                )
        record = {
            "date": started.isoformat(timespec="seconds"),
            "load_average_before": before,
            "load_average_after": load_average(),
            "batch": self.timing_batch,
            "rounds": self.timing_rounds,
            "device": s.device,
            "threads": torch.get_num_threads(),
            "layers": [
                {"infer_ms": list(x.infer_ms), "train_ms": list(x.train_ms)} for x in layers
            ],
            "standard": asdict(standard),
            "networks": {_key(c): asdict(costs[_key(c)]) for c in configs},
            "time_model": {m: list(v) for m, v in time_model.items()},
        }
        self.folder.save("timing", record)
        self.log(
            f"  standard network {standard.infer_ms:.3f} ms/image; time model: network ≈ "
            f"{time_model['infer_ms'][0]:.3f} ms + {time_model['infer_ms'][1]:.3f} × layers' "
            f"sum (load average after {record['load_average_after']})"
        )
        return record

    def evolution(self, draft: OptimalPResults) -> list[EvolutionCheck]:
        """At each budget that some plan fits: the knapsack's plan and an evolutionary search
        on the weight-sharing network (validation images); stored per budget, made again when
        the stored one was for another plan or budget (after a new timing)."""
        s = self.settings
        checks = []
        for metric, fractions in (("macs", s.mac_budgets), ("infer_ms", s.time_budgets)):
            for fraction in fractions:
                budget = fraction * draft.standard.get(metric)
                plan = draft.best(metric, budget)
                if plan is None:
                    self.log(f"  {metric} budget {fraction:g}: nothing fits")
                    continue
                name = f"evolution-{metric}-{_fraction_key(fraction)}"
                record = self.folder.record(name)
                if (
                    record is None
                    or tuple(record["knapsack_config"]) != plan.config
                    or record["budget"] != budget
                ):
                    measured = self.evaluate(plan.config)
                    found = evolutionary_search(
                        draft.options(metric),
                        self.evaluate,
                        budget,
                        fixed_cost=draft.fixed_cost(metric),
                        population=s.population,
                        generations=s.generations,
                        start=[plan.config],
                    )
                    record = {
                        "metric": metric,
                        "budget": budget,
                        "knapsack_config": list(plan.config),
                        "knapsack_predicted": draft.reference_acc - plan.loss,
                        "knapsack_measured": measured,
                        "best_config": list(found[0][0]),
                        "best_measured": found[0][1],
                        "evaluations": len(found),
                    }
                    self.folder.save(name, record)
                    self.log(
                        f"  {metric} ≤ {fraction:g} of standard: plan P = ({_key(plan.config)}) "
                        f"predicted {record['knapsack_predicted']:.2%}, measured "
                        f"{measured:.2%} on the weight-sharing network; evolution best "
                        f"({_key(found[0][0])}) {found[0][1]:.2%} of {len(found)}"
                    )
                checks.append(
                    EvolutionCheck(
                        **{k: tuple(v) if isinstance(v, list) else v for k, v in record.items()}
                    )
                )
        return checks

    # ---- the whole study --------------------------------------------------------------------

    def run(self, retime: bool = False) -> OptimalPResults:
        """Every stage (each skipped when stored). ``retime`` first measures the timing stage
        again, alone (so that it can be done at a quiet moment), then goes on with what is left.

        Raises:
            StudyStopped: a training was stopped (everything finished is stored).
            StudyError: see :meth:`timing`; or ``retime`` before the sensitivities exist (the
                timing stage needs them to know the plans).
        """
        s = self.settings
        if retime:
            sensitivity = self.folder.record("sensitivity")
            if sensitivity is None:
                raise StudyError(
                    "--retime measures the timing stage again, which comes after the "
                    "sensitivities; they are not measured yet: run the command without --retime"
                )
            self.timing(sensitivity, retime=True)
        self.log(
            f"uniform P {self.uniform}, seeds {list(s.seeds)}: {s.epochs} epochs on "
            f"{s.train_images} training images, tested on {len(self.for_test.test_labels)}"
        )
        uniform_runs = {
            (config, seed): self.train(config, seed)
            for seed in s.seeds
            for config in self.uniform_configs
        }
        sensitivity = self.sensitivity()
        timing = self.timing(sensitivity)
        layers = [
            replace(layer, infer_ms=tuple(t["infer_ms"]), train_ms=tuple(t["train_ms"]))
            for layer, t in zip(self._analytic_layers(), timing["layers"], strict=True)
        ]
        draft = self._draft(layers, sensitivity, timing)
        checks = self.evolution(draft)
        searched: dict[Config, EvolutionCheck] = {}
        for check in checks:
            searched.setdefault(check.knapsack_config, check)
        self.total = len(self.uniform_configs) * len(s.seeds) + len(
            set(searched) - set(self.uniform_configs)
        ) * len(s.seeds)
        self.log(f"retraining {len(searched)} plans from scratch, seeds {list(s.seeds)}")
        plan_runs = {
            (config, seed): uniform_runs.get((config, seed)) or self.train(config, seed)
            for seed in s.seeds
            for config in searched
        }
        networks = {key: Costs(**c) for key, c in timing["networks"].items()}
        supernet_record = self.folder.record("supernet") or {}

        def run(kind: str, config: Config, record: dict[str, Any], check=None) -> Run:
            extra = (
                {}
                if check is None
                else {
                    "metric": check.metric,
                    "budget": check.budget,
                    "supernet_acc": check.knapsack_measured,
                }
            )
            return Run(
                kind,
                config,
                record["seed"],
                record["test_acc"],
                networks[_key(config)],
                record["seconds"],
                confusion=tuple(map(tuple, record["confusion"])),
                **extra,
            )

        runs = [run("uniform", c, r) for (c, _), r in uniform_runs.items()]
        runs += [run("searched", c, r, searched[c]) for (c, _), r in plan_runs.items()]
        return replace(
            draft,
            runs=tuple(runs),
            evolution=tuple(checks),
            notes={
                "largest_config": [c[0] for c in self.choices],
                "supernet_seconds": supernet_record.get("seconds"),
                "supernet_validation_acc": supernet_record.get("epoch_validation_acc"),
                "timing": {k: v for k, v in timing.items() if k not in _TIMING_DATA},
            },
        )
