"""The ``jaxgan`` command: flags and configs only; the work is done by library functions.

    jaxgan train [--config NAME_OR_PATH] [--workdir DIR] [--steps N] [--seed S] [--parallel MODE]
                 [--set field=value ...]
    jaxgan configs
    jaxgan sample --workdir DIR [--n N] [--out FILE]

Every error a user can cause (bad flag, unknown config, bad field, unwritable workdir) is one line on stderr
and exit status 2, before anything compiles.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(EXIT_USAGE, f"jaxgan: error: {message} (see `jaxgan {self.prog.split()[-1]} --help`)\n")


def _fail(message: str) -> int:
    print(f"jaxgan: error: {message}", file=sys.stderr, flush=True)
    return EXIT_USAGE


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a GAN from a config", description="Train a GAN from a config.")
    p.add_argument("--config", default="default", help="a named config (see `jaxgan configs`) or a .py path")
    p.add_argument("--workdir", default=None, help="output directory (default: runs/<config name>)")
    p.add_argument("--steps", type=int, default=None, help="override the number of training steps")
    p.add_argument("--seed", type=int, default=None, help="override the seed")
    p.add_argument("--parallel", choices=("none", "pmap", "mesh"), default=None, help="data parallelism")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any config field; VALUE is JSON when it parses (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages, only the summary")


def _train(args) -> int:
    from jaxgan import config as config_lib

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

    from jaxgan import loop

    try:
        loop.check_workdir(workdir)
        from jaxgan import experiment

        experiment.build(cfg)  # every remaining config check, still before compiling
    except (ValueError, FileNotFoundError) as e:
        return _fail(str(e))
    if not args.quiet:
        print(f"[jaxgan] config {cfg.name!r} -> {workdir}", flush=True)
    try:
        report = loop.train_and_evaluate(cfg, workdir, quiet=args.quiet)
    except loop.WorkdirError as e:
        return _fail(str(e))
    if "stopped_early" in report:
        return 0
    print(loop.summary(report))
    print(f"report: {workdir / 'report.json'}")
    return 0


def _configs(args) -> int:
    from jaxgan import config as config_lib

    for name in config_lib.available_configs():
        import importlib

        doc = (importlib.import_module(f"jaxgan.configs.{name}").__doc__ or "").strip().splitlines()
        print(f"{name:24s} {doc[0] if doc else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="jaxgan", description="jaxgan: functional GANs in JAX.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    _train_parser(sub)
    sub.add_parser("configs", help="list the named configs")
    args = parser.parse_args(["train"] if argv is None and len(sys.argv) == 1 else argv)
    if args.command == "train":
        return _train(args)
    if args.command == "configs":
        return _configs(args)
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
