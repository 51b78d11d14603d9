"""Mini zoo commands: ``train-zoo``, ``evaluate-zoo``, ``bench-zoo``, ``train-classifier``, ``train-fusion``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

GATES = ("vae", "clip", "keyframe", "captioner", "t2v")  # the components evaluate-zoo measures


def register(subparsers) -> None:
    from ..zoo.mini import COMPONENTS

    p = subparsers.add_parser("train-zoo", help="train a component of the mini model zoo on the simulated world")
    p.add_argument("--component", choices=list(COMPONENTS), required=True)
    p.add_argument("--steps", type=int, help="training steps (default: the component's config)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the cache")
    p.add_argument("--out", help="output folder (default: demo_data/zoo/mini/<component>)")
    p.set_defaults(func=train_zoo)

    p = subparsers.add_parser("evaluate-zoo", help="measure the mini zoo's quality gates on held-out simulated "
                              "test clips")
    p.add_argument("--component", choices=[*GATES, "all"], required=True)
    p.add_argument("--clips", type=int, help="held-out test clips, spread over the test movies "
                   "(default: 300; 24 for t2v)")
    p.add_argument("--results", help="JSON file of measured gates to update (e.g. docs/zoo-gates.json)")
    p.add_argument("--report", help="also write all results of --results as a Markdown table (e.g. docs/zoo.md)")
    p.set_defaults(func=evaluate_zoo)

    p = subparsers.add_parser("bench-zoo", help="latency of the mini zoo's keyframe + caption + 16-frame video on one "
                              "test clip")
    p.add_argument("--root", help="the mini zoo's folder (default: the shipped demo_data/zoo/mini)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=25, help="DDIM steps of the keyframe and the video")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.set_defaults(func=bench_zoo)

    p = subparsers.add_parser("train-fusion", help="train multi-fMRI fusion's keyframe-similarity classifier "
                              "(spec §6)")
    p.add_argument("--subject", type=int, default=1, help="simulated subject whose training clips give the pairs")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", help="output folder (default: demo_data/zoo/mini/fusion)")
    p.set_defaults(func=train_fusion)

    p = subparsers.add_parser("train-classifier", help="the mini zoo's category classifier for N-way classification")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--out", help="default: demo_data/zoo/mini/classifier")
    p.set_defaults(func=train_classifier)


def _world():
    """The shipped simulated world (its stimuli train and measure the mini zoo)."""
    from ..data.simulated import SimulatedSubject

    return SimulatedSubject(1).world


def train_zoo(args: argparse.Namespace) -> int:
    from ..paths import cache_dir
    from ..training import zoo_components
    from ..zoo import zoo_dir

    out = Path(args.out) if args.out else zoo_dir("mini") / args.component
    work = cache_dir() / "training" / "zoo" / args.component
    info = zoo_components.train(args.component, _world().stimuli, out, work, steps=args.steps, resume=args.resume)
    print(json.dumps(info, indent=2))
    return 0


def evaluate_zoo(args: argparse.Namespace) -> int:
    from ..evaluation.gates import evaluate_component
    from ..evaluation.zoo_report import zoo_report
    from ..io import atomic_path, atomic_write_json
    from ..zoo import zoo_dir

    world = _world()
    components = list(GATES) if args.component == "all" else [args.component]
    results = json.loads(Path(args.results).read_text()) if args.results and Path(args.results).exists() else {}
    for name in components:
        t0 = time.perf_counter()
        result = evaluate_component(name, world, n_clips=args.clips)
        result["eval_seconds"] = round(time.perf_counter() - t0, 1)
        training = zoo_dir("mini") / name / "training.json"
        if training.exists():
            result["training"] = json.loads(training.read_text())
        results[name] = result
        print(json.dumps({name: {k: v for k, v in result.items() if k != "training"}}, indent=2))
    if args.results:
        atomic_write_json(args.results, results)
    if args.report:
        command = "python -m neuroclips evaluate-zoo --component all"
        command += (f" --results {args.results}" if args.results else "") + f" --report {args.report}"
        with atomic_path(args.report) as tmp:
            tmp.write_text(zoo_report(results, command))
    return 0


def bench_zoo(args: argparse.Namespace) -> int:
    from ..evaluation.bench_zoo import bench_zoo as bench

    result = bench(_world(), root=args.root, repeats=args.repeats, num_inference_steps=args.steps, threads=args.threads)
    print(json.dumps(result, indent=2))
    return 0


def train_fusion(args: argparse.Namespace) -> int:
    from ..data.simulated import SimulatedSubject
    from ..training.fusion import FusionTrainingConfig, train_fusion as train
    from ..zoo import zoo_dir
    from ..zoo.mini import load_clip

    out = Path(args.out) if args.out else zoo_dir("mini") / "fusion"
    info = train(SimulatedSubject(args.subject), load_clip(), out, FusionTrainingConfig(steps=args.steps))
    print(json.dumps(info, indent=2))
    return 0


def train_classifier(args: argparse.Namespace) -> int:
    from ..data.simulated import SimulatedSubject
    from ..evaluation.classification import train_category_classifier
    from ..zoo import zoo_dir
    from ..zoo.clip import image_embeds
    from ..zoo.mini import load_clip

    clip = load_clip()
    _, info = train_category_classifier(SimulatedSubject(args.subject), lambda f: image_embeds(clip, f).numpy(),
                                        Path(args.out) if args.out else zoo_dir("mini") / "classifier")
    print(json.dumps(info, indent=2))
    return 0
