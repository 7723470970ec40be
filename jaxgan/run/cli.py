"""The ``jaxgan`` command: flags and configs only; the work is done by library functions.

    jaxgan train [--config NAME_OR_PATH] [--workdir DIR] [--steps N] [--seed S] [--parallel MODE]
                 [--set field=value ...] [--quiet]
    jaxgan sample --workdir DIR [--n N] [--out FILE.png|FILE.npy] [--seed S] [--mode MODE]
    jaxgan eval --workdir DIR [--metrics fid10k,kid10k,pr10k,is10k] [--features auto|digits|inception]
                [--truncation 1,0.7,0.5,0.25]
                [--inception-weights FILE.npz] [--seed S]
    jaxgan bench [benchmarks/step_throughput.py flags]
    jaxgan configs

Every error a user can cause (bad flag, unknown config, a config file that fails to load, bad field or value,
unwritable workdir, a workdir another ``jaxgan train`` is using, checkpoints of another config) is one line on
stderr and exit status 2, before anything compiles or is written. A file or checkpoint that cannot be written
(a full disk, a read-only file system) is one line with the cause and what is intact, and exit status 1.

``jaxgan train`` holds a lock on its workdir (:mod:`jaxgan.run.lock`); ``jaxgan sample`` and ``jaxgan eval`` read a
workdir without it, and ``eval`` prints its values before it writes them.

``jaxgan train`` on a workdir that holds checkpoints resumes from the newest valid one. SIGTERM / SIGINT are
caught from the first line: the current chunk ends, its checkpoint is committed, and the exit status is 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        command = " ".join(["jaxgan", *self.prog.split()[1:]])  # "jaxgan" or "jaxgan train"
        self.exit(EXIT_USAGE, f"jaxgan: error: {message} (see `{command} --help`)\n")


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"jaxgan: error: {message}", file=sys.stderr, flush=True)
    return status


def _check_seed(seed: int) -> str | None:
    from jaxgan.run.config import MAX_SEED

    return None if 0 <= seed <= MAX_SEED else f"--seed must be an integer in [0, {MAX_SEED}], got {seed}"


def _train_parser(sub) -> None:
    from jaxgan.parallel_modes import MODES as PARALLEL_MODES

    p = sub.add_parser("train", help="train a GAN from a config", description="Train a GAN from a config.")
    p.add_argument("--config", default="default", help="a named config (see `jaxgan configs`) or a .py path")
    p.add_argument("--workdir", default=None, help="output directory (default: runs/<config name>)")
    p.add_argument("--steps", type=int, default=None, help="override the number of training steps")
    p.add_argument("--seed", type=int, default=None, help="override the seed")
    p.add_argument("--parallel", choices=PARALLEL_MODES, default=None, help="data parallelism")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any config field; VALUE is JSON when it parses (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages, only the summary")


def _train(args) -> int:
    from jaxgan import preemption  # imports no JAX: signals are caught before the heavy imports

    with preemption.recorded_signals() as pending:  # a preemption during the heavy imports still exits 0
        return _run_train(args, pending)


def _run_train(args, pending: list[int]) -> int:
    from jaxgan.run import config as config_lib

    try:
        cfg = config_lib.load_config(args.config)
        overrides = list(args.set)
        for field in ("steps", "seed", "parallel"):
            if getattr(args, field) is not None:
                overrides.append(f"{field}={getattr(args, field)}")
        cfg = config_lib.validate(config_lib.apply_overrides(cfg, overrides))
    except ValueError as e:
        return _fail(str(e))
    workdir = Path(args.workdir or Path("runs") / cfg.name)

    from jaxgan import checkpoint, files, parallel
    from jaxgan.run import loop

    try:
        parallel.initialize_distributed()  # a no-op unless JAXGAN_COORDINATOR is set
    except ValueError as e:
        return _fail(str(e))
    if not args.quiet:
        print(f"[jaxgan] config {cfg.name!r} -> {workdir}", flush=True)
    # orbax logs a failed save from each of its threads, tracebacks and all (about 250 lines for one full disk);
    # the failure reaches the loop as an exception and is reported below in one line.
    logging.getLogger("absl").setLevel(logging.CRITICAL)
    # The same failure also leaves orbax's write futures unretrieved, which asyncio reports when they are
    # collected, often after the one-line error ("Task exception was never retrieved" with a traceback). jaxgan
    # uses no asyncio of its own: what orbax's failures say reaches the loop as CheckpointWriteError.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        report = loop.train_and_evaluate(cfg, workdir, quiet=args.quiet, pending_signals=pending)
    except loop.SetupError as e:
        return _fail(str(e))
    except (checkpoint.CheckpointWriteError, files.WriteError) as e:
        return _fail(str(e), EXIT_FAILURE)
    except KeyboardInterrupt:  # a second Ctrl-C
        print("jaxgan: interrupted; a checkpoint being written was not committed, the run resumes from the last "
              "committed one", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    if "stopped_early" in report:
        return 0
    print(loop.summary(report))
    print(f"report: {workdir / 'report.json'}")
    return 0


def _sample_parser(sub) -> None:
    p = sub.add_parser(
        "sample", help="write samples from a trained workdir",
        description="Write samples from the newest checkpoint of a workdir (the EMA generator when kept).",
    )
    p.add_argument("--workdir", required=True, help="a directory written by `jaxgan train`")
    p.add_argument("--n", type=int, default=1000, help="number of samples (default 1000)")
    p.add_argument("--out", default=None,
                   help="FILE.png (a picture) or FILE.npy (the array); default WORKDIR/sample_step_<step>.png")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    p.add_argument("--mode", choices=("samples", "grid", "interp", "arith", "codes", "reconstruct"),
                   default="samples",
                   help="samples (default): N samples; for image runs also grid (rows x cols, one row per class "
                        "for class-conditional models), interp (interpolation strips), arith (latent arithmetic), "
                        "codes (InfoGAN: a row per code value and sweeps of the continuous codes), reconstruct "
                        "(BiGAN: held-out digits beside G(E(x))); translation runs (pix2pix, CycleGAN, StarGAN) "
                        "draw held-out inputs beside their translations (samples: up to 32 of --n in blocks of 8 "
                        "rows; grid: --rows of them)")
    p.add_argument("--rows", type=int, default=8, help="grid / interp rows (default 8)")
    p.add_argument("--cols", type=int, default=8, help="grid columns or interpolation steps (default 8)")
    p.add_argument("--method", choices=("slerp", "lerp"), default="slerp", help="interpolation (default slerp)")
    p.add_argument("--truncation", type=float, default=None,
                   help="truncation trick: latents from a normal truncated to [-T, T]")
    p.add_argument("--groups", default=None, help="arith: seed lists A:B:C, e.g. 1,2,3:4,5:6,7")


def _sample(args) -> int:
    if args.n < 1:
        return _fail(f"--n must be a positive integer, got {args.n}")
    if args.out is not None and Path(args.out).suffix.lower() not in (".png", ".npy"):
        return _fail(f"--out must end in .png or .npy, got {args.out!r}")
    if message := _check_seed(args.seed):
        return _fail(message)
    workdir = Path(args.workdir)
    if not workdir.is_dir():
        return _fail(f"workdir {workdir} does not exist")

    from jaxgan import checkpoint, files
    from jaxgan.run import sampling

    def warn(msg: str) -> None:
        print(f"[jaxgan] warning: {msg}", file=sys.stderr, flush=True)

    try:
        exp, state = sampling.load_for_sampling(workdir, log=warn)
    except (FileNotFoundError, ValueError, checkpoint.CheckpointError) as e:
        return _fail(str(e))
    out = Path(args.out) if args.out is not None else workdir / f"sample_step_{state.step}.png"
    if args.mode != "samples":
        try:
            groups = sampling.parse_groups(args.groups) if args.mode == "arith" and args.groups else None
            files.write_file(out, lambda tmp: sampling.write_latent_picture(
                exp, state, tmp, args.mode, rows=args.rows, cols=args.cols, seed=args.seed,
                truncation=args.truncation, method=args.method, groups=groups))
        except files.WriteError as e:
            return _fail(str(e), EXIT_FAILURE)
        except ValueError as e:
            return _fail(str(e))
        print(f"wrote a {args.mode} picture at step {state.step} to {out}")
        return 0
    try:
        files.write_file(out, lambda tmp: sampling.write_samples(
            exp, state, tmp, n=args.n, seed=args.seed, title=f"{exp.config.name} step {state.step}"))
    except ImportError as e:
        return _fail(f"PNG samples of image runs need the image models ({e}); write --out FILE.npy instead")
    except files.WriteError as e:
        return _fail(str(e), EXIT_FAILURE)
    which = "EMA generator" if state.ema else "generator"
    print(f"wrote {args.n} samples of the {which} at step {state.step} to {out}")
    return 0


def _configs(args) -> int:
    from jaxgan.run import config as config_lib

    for name in config_lib.available_configs():
        import importlib

        doc = (importlib.import_module(f"jaxgan.configs.{name}").__doc__ or "").strip().splitlines()
        print(f"{name:24s} {doc[0] if doc else ''}")
    return 0


def _eval_parser(sub) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a trained workdir (FID, KID, precision/recall, IS)",
        description="Compute metrics on the newest checkpoint of a workdir and merge them into its report.json.",
    )
    p.add_argument("--workdir", required=True, help="a directory written by `jaxgan train`")
    p.add_argument("--metrics", default="fid10k,kid10k,pr10k,is10k",
                   help="comma-separated: fid|kid|pr|is followed by the sample count, e.g. fid10k,pr1k")
    p.add_argument("--features", default="auto",
                   help="auto (digit classifier for 10-class 1-channel data), digits, inception or identity")
    p.add_argument("--inception-weights", default=None,
                   help="the FID Inception-v3 weights (.npz); default: the reference weights that "
                        "`python -m jaxgan.metrics.inception_weights` installs")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples")
    p.add_argument("--truncation", default=None,
                   help="truncation trick: latents from a normal truncated to [-T, T]; a comma-separated list "
                        "(1,0.7,0.5,0.25) measures each, with the value in the keys (pr10k_trunc0.5_precision)")


def _eval(args) -> int:
    workdir = Path(args.workdir)
    if not workdir.is_dir():
        return _fail(f"workdir {workdir} does not exist")
    if message := _check_seed(args.seed):
        return _fail(message)
    from jaxgan import checkpoint, files
    from jaxgan.run import evaluate, lock

    truncations: list[float | None] = [None]
    if args.truncation is not None:
        try:
            truncations = [float(t) for t in args.truncation.split(",")]
        except ValueError:
            return _fail(f"--truncation takes numbers > 0 separated by commas, got {args.truncation!r}")
    values, info = {}, {}
    try:
        for t in truncations:
            v, i = evaluate.measure_workdir(workdir, args.metrics, features=args.features,
                                            inception_weights=args.inception_weights, seed=args.seed, truncation=t)
            values.update(v)
            info.update(i)
    except (ValueError, FileNotFoundError, checkpoint.CheckpointError) as e:
        return _fail(str(e))
    for k, v in values.items():  # first, so that a failed write loses nothing
        print(f"{k}: {v:.6g}" if isinstance(v, float) else f"{k}: {v}", flush=True)
    holder = lock.holder(workdir)
    if holder is not None and not holder.is_stale():
        print(f"[jaxgan] workdir {workdir} is in use by jaxgan train, {holder.describe()}: the values were not "
              f"merged into {workdir / 'report.json'}, which that run rewrites when it ends; run jaxgan eval "
              "again then", file=sys.stderr, flush=True)
        return 0
    try:
        path = evaluate.merge_report(workdir, values, info)
    except files.WriteError as e:
        return _fail(f"{e}; the values are printed above", EXIT_FAILURE)
    print(f"report: {path}")
    return 0


def _bench(argv: list[str]) -> int:
    """Runs the step-throughput benchmark (:mod:`jaxgan.bench.step_throughput`) with the given flags."""
    from jaxgan.bench import step_throughput

    return step_throughput.main(argv)


def _enable_compilation_cache() -> None:
    """JAX's persistent compilation cache for the command line: a second `jaxgan train` of the same config skips
    most of XLA's compile time (dcgan28's first call: 4.3 s -> 1.2 s, benchmarks/step_throughput.py --levers).

    ``$JAX_COMPILATION_CACHE_DIR`` (read by JAX itself) wins; else ``$JAXGAN_COMPILATION_CACHE``, where ``off``
    disables it; else ``$XDG_CACHE_HOME/jaxgan/xla`` (``~/.cache/jaxgan/xla``)."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    path = os.environ.get("JAXGAN_COMPILATION_CACHE")
    if path == "off":
        return
    if not path:
        from jaxgan.files import cache_home

        path = str(cache_home() / "xla")
    import jax

    jax.config.update("jax_compilation_cache_dir", path)


def _drop_closed_loop_reports() -> None:
    """After a checkpoint save fails, orbax closes its event loop while tensorstore still completes the save's
    other writes; each completion then reports ``RuntimeError: Event loop is closed`` through
    ``sys.unraisablehook`` (dozens of tracebacks before and after the one-line error). Those reports say nothing
    the error does not, so this hook drops them and passes every other one on."""
    default = sys.unraisablehook

    def hook(unraisable):
        if not (unraisable.exc_type is RuntimeError and str(unraisable.exc_value) == "Event loop is closed"):
            default(unraisable)

    sys.unraisablehook = hook


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else list(argv)
    if argv is None:  # the console script (tests call main(argv) in-process and keep their own JAX config)
        _enable_compilation_cache()
        _drop_closed_loop_reports()
    if raw[:1] == ["bench"]:
        return _bench(raw[1:])
    parser = _Parser(prog="jaxgan", description="jaxgan: functional GANs in JAX.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    _train_parser(sub)
    _sample_parser(sub)
    _eval_parser(sub)
    sub.add_parser("bench", help="step-throughput benchmark (benchmarks/step_throughput.py flags)", add_help=False)
    sub.add_parser("configs", help="list the named configs")
    args = parser.parse_args(["train"] if argv is None and len(sys.argv) == 1 else argv)
    if args.command == "train":
        return _train(args)
    if args.command == "eval":
        return _eval(args)
    if args.command == "sample":
        return _sample(args)
    if args.command == "configs":
        return _configs(args)
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
