"""``python -m neuroclips <command>``: the one command line of the project.

One module per command group adds its commands (``register(subparsers)``): :mod:`.data`, :mod:`.zoo`,
:mod:`.reconstructors`, :mod:`.pipeline`, :mod:`.evaluation`, :mod:`.weights`, :mod:`.flatmaps`; :mod:`.guidance`
builds the reconstruction's guidance flags from :class:`~neuroclips.pipeline.settings.GuidanceSettings`.
``--help`` lists the commands in the order of :data:`COMMANDS` (a command missing there comes last).
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import traceback

from . import data, doctor, evaluation, flatmaps, pipeline, reconstructors, space, weights, zoo

GROUPS = (data, zoo, reconstructors, pipeline, evaluation, weights, flatmaps, doctor, space)
COMMANDS = ("build-demo-data", "convert-cc2017", "data-info", "train-zoo", "train-pr", "train-sr",
            "evaluate-reconstructors", "evaluate-zoo", "bench-zoo", "reconstruct", "bench", "train-fusion", "evaluate",
            "train-classifier", "evaluate-fusion", "weights", "bench-full", "memory-plan", "bench-load", "export-flatmaps",
            "doctor", "space")


def _order_commands(sub: argparse._SubParsersAction) -> None:
    """List the commands in the order of :data:`COMMANDS` (the others after them, as registered), in ``--help``
    (argparse lists a subparsers action's ``_choices_actions``) and in the "invalid choice" message."""
    rank = {name: k for k, name in enumerate(COMMANDS)}

    def key(name: str) -> int:
        return rank.get(name, len(rank))

    sub._choices_actions.sort(key=lambda action: key(action.dest))  # stable: unlisted ones keep their order
    ordered = {name: sub.choices[name] for name in sorted(sub.choices, key=key)}
    sub.choices.clear()
    sub.choices.update(ordered)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m neuroclips",
                                     description=__doc__.split("\n")[0].replace("``", ""))
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for group in GROUPS:
        group.register(sub)
    _order_commands(sub)
    return parser


# what a user's input or host can cause (bad files, values, environment, a missing GPU, an unfinished feature): one
# line naming the cause and the fix, never a traceback (-v adds it); anything else is reported as a bug
USER_ERRORS = (ValueError, KeyError, IndexError, OSError, NotImplementedError, RuntimeError, ImportError,
               pickle.UnpicklingError, EOFError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from ..data import DataError

    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (DataError, *USER_ERRORS) as err:
        if args.verbose:
            traceback.print_exc()
        message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        kind = "" if isinstance(err, (DataError, ValueError, FileNotFoundError)) else f"{type(err).__name__}: "
        print(f"error: {kind}{message or type(err).__name__}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - a bug: say so in one line, the traceback with -v
        if args.verbose:
            traceback.print_exc()
        print(f"error: unexpected {type(err).__name__}: {err} (a bug in neuroclips; rerun with -v for the traceback "
              "and report it)", file=sys.stderr)
        return 3


__all__ = ["COMMANDS", "GROUPS", "build_parser", "main"]
