"""``kesu models check`` and ``kesu models prepare``.

``server/cli.py`` calls :func:`add_parser`; each subcommand sets ``func(args) -> int``
(the exit code). ``python -m models.cli check`` works on its own too.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from models.errors import ModelError
from models.registry import ModelRegistry, ModelStatus


def add_parser(subparsers: Any) -> None:
    """Add the ``models`` command with ``check`` and ``prepare`` to an argparse subparsers."""
    parser = subparsers.add_parser("models", help="check or prepare the offline models")
    sub = parser.add_subparsers(dest="models_command", required=True, metavar="COMMAND")
    check = sub.add_parser(
        "check", help="verify every model offline (sha256); exit 1 if any is missing or corrupt"
    )
    check.set_defaults(func=run_check)
    prepare = sub.add_parser(
        "prepare", help="join split weights and rewrite ONNX files into the cache"
    )
    prepare.add_argument("names", nargs="*", help="models to prepare (default: all)")
    prepare.set_defaults(func=run_prepare)
    for command in (check, prepare):
        command.add_argument(
            "--cache-dir", type=Path, help="cache directory (default: $KESU_MODELS_CACHE)"
        )
        command.add_argument(
            "--models-dir", type=Path, help="override directory (default: $KESU_MODELS_DIR)"
        )


EXIT_USAGE = 2


class UsageError(Exception):
    """A command's input is unusable: one line on stderr, exit ``EXIT_USAGE``."""


def registry_from_args(args: argparse.Namespace) -> ModelRegistry:
    """Registry from the environment, with ``--cache-dir`` / ``--models-dir`` on top.

    Raises :class:`UsageError` when the models directory is not a directory: checked
    against it, every model would read as the packaged one and the check pass, hiding a
    typo in the path of the models the operator meant to use."""
    registry = ModelRegistry.from_env(os.environ)
    cache = getattr(args, "cache_dir", None) or registry.cache_dir
    given = getattr(args, "models_dir", None)
    override = given or registry.override_dir
    # The cache is made by ``prepare``: a file at its path, or above it, was a
    # FileExistsError or NotADirectoryError traceback.
    for path in (cache, *cache.parents):
        if path.exists():
            if not path.is_dir():
                source = "--cache-dir" if getattr(args, "cache_dir", None) else "KESU_MODELS_CACHE"
                raise UsageError(f"{source} {cache}: {path} is not a directory")
            break
    if override is not None and not override.is_dir():
        source = "--models-dir" if given else "KESU_MODELS_DIR"
        problem = "not a directory" if override.exists() else "no such directory"
        raise UsageError(f"{source} {override}: {problem}")
    return ModelRegistry(cache, override)


def _registry_or_report(args: argparse.Namespace) -> ModelRegistry | None:
    """:func:`registry_from_args`, or None after the one-line reason on stderr."""
    try:
        return registry_from_args(args)
    except UsageError as exc:
        print(f"kesu models {args.models_command}: {exc}", file=sys.stderr)
        return None


def format_status(status: ModelStatus) -> str:
    """One line: state, name, path or problem, and the fix."""
    if status.ok:
        where = status.path or "(not prepared)"
        return f"OK       {status.name:<13} {where}  ({status.detail})"
    return f"{status.state.upper():<8} {status.name:<13} {status.detail}; fix: {status.fix}"


def run_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print one line per model; 0 when all are usable, 1 if any is not, 2 on bad input."""
    out = out or sys.stdout
    registry = _registry_or_report(args)
    if registry is None:
        return EXIT_USAGE
    statuses = registry.check()
    for status in statuses:
        print(format_status(status), file=out)
    return 0 if all(s.ok for s in statuses) else 1


def run_prepare(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Prepare the cache; 0 on success, 1 if any model failed, 2 on bad input."""
    out = out or sys.stdout
    registry = _registry_or_report(args)
    if registry is None:
        return EXIT_USAGE
    failed = False
    for name in args.names or registry.names():
        try:
            print(f"OK       {name:<13} {registry.path(name)}", file=out)
        except ModelError as exc:
            failed = True
            print(f"{exc.state.upper():<8} {name:<13} {exc.detail}; fix: {exc.fix}", file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m models.cli {check,prepare}``."""
    parser = argparse.ArgumentParser(prog="kesu")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
