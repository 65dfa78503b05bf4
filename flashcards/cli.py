"""The `flashcards` command: argument parsing and output formatting only.

Every command calls library functions that return values; `FlashcardsError` is turned into a
one-line message and an exit code here and nowhere else.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from flashcards.errors import FlashcardsError
from flashcards.parse import ParseResult, parse_paths


def _report_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's errors into `error: path:line: message` and their exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FlashcardsError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _warn(warnings: tuple[str, ...] | list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _read_paths(paths: tuple[str, ...]) -> ParseResult:
    stdin = sys.stdin.buffer.read() if "-" in paths else None
    return parse_paths(paths, stdin=stdin)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flashcards")
def main() -> None:
    """Turn daily AI-paper digests into Anki decks."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@_report_errors
def parse(paths: tuple[str, ...], as_json: bool) -> None:
    """Read digest files (or directories, or - for stdin) and print what was understood."""
    result = _read_paths(paths)
    _warn(result.warnings)
    if as_json:
        document = {"digests": [d.to_dict() for d in result.digests]}
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    for digest in result.digests:
        questions = sum(len(p.questions) for p in digest.papers)
        click.echo(
            f"{digest.source}: {digest.format}, {digest.date.isoformat()}, "
            f"{len(digest.papers)} papers, {questions} questions"
        )
    click.echo(f"{len(result.digests)} digests")
