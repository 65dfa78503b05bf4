"""The workflow users copy, `.github/workflows/decks.yml`: every `flashcards …` command in it
exists with the options it is given (parsed by click itself, nothing run, no network), and the
workflow keeps the properties the README promises. Its schema and security checks run in
`.ci/run` (check-jsonschema, zizmor)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from helpers import ROOT

from flashcards.cli import main

WORKFLOW = ROOT / ".github" / "workflows" / "decks.yml"
# A command ends at a pipe, a redirection, `;`, `&&` or `||`, or the end of its line.
_COMMAND = re.compile(r"(?<![\w/.-])flashcards((?:[ \t]+[^\s|&;<>]+)*)")


def _workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps() -> list[dict[str, Any]]:
    return [step for job in _workflow()["jobs"].values() for step in job["steps"]]


def _commands() -> list[list[str]]:
    commands = []
    for step in _steps():
        for line in step.get("run", "").splitlines():
            if line.strip().startswith("#"):
                continue
            commands.extend(shlex.split(m.group(1)) for m in _COMMAND.finditer(line))
    return commands


def _parse(args: list[str]) -> click.Context:
    """Parse `flashcards ARGS` as the command line would, without running anything."""
    group = click.Context(main, info_name="flashcards")
    command = main.get_command(group, args[0])
    if command is None:
        raise click.UsageError(f"no such command {args[0]!r}")
    return command.make_context(args[0], list(args[1:]), parent=group)


def test_the_workflow_runs_pull_check_and_build_json() -> None:
    commands = _commands()
    names = [c[0] for c in commands]
    assert names == ["pull", "check", "build"]
    assert ["build", "--json"] in commands


@pytest.mark.parametrize("args", _commands(), ids=" ".join)
def test_every_flashcards_command_in_the_workflow_parses(args: list[str]) -> None:
    context = _parse(args)
    assert context.command.name == args[0]


def test_the_parser_rejects_what_the_cli_would() -> None:
    # The check above can fail: an unknown option or command is a usage error here too.
    with pytest.raises(click.UsageError):
        _parse(["build", "--no-such-option"])
    with pytest.raises(click.UsageError):
        _parse(["no-such-command"])


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), (action, comment)


def test_triggers_permissions_and_concurrency() -> None:
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch", "push"}
    assert triggers["schedule"][0]["cron"]
    assert {"decks/**", "digests/**"} <= set(triggers["push"]["paths"])
    assert workflow["permissions"] == {}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    release = next(s["run"] for s in _steps() if "gh release upload" in s.get("run", ""))
    assert "gh release upload decks dist/*.apkg --clobber" in release


def test_pip_cache_artifact_and_what_is_committed() -> None:
    steps = {s.get("uses", "").split("@")[0]: s for s in _steps() if "uses" in s}
    assert steps["actions/setup-python"]["with"]["cache"] == "pip"
    assert steps["actions/upload-artifact"]["with"]["path"] == "dist/*.apkg"
    assert steps["actions/checkout"]["with"]["persist-credentials"] is False
    commit = next(s["run"] for s in _steps() if "git commit" in s.get("run", ""))
    [add] = [line.strip() for line in commit.splitlines() if line.strip().startswith("git add")]
    # The packages and build caches stay out of the commit even without our .gitignore.
    assert ":(exclude)dist/" in add and ":(exclude,glob)**/*.cache/**" in add


def test_the_ci_script_is_the_readme_test_line_with_both_workflow_checks() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = script.strip().splitlines()[-1]
    assert command in readme
    checks = (
        "check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/decks.yml",
        "zizmor --offline .github/workflows/",
    )
    for check in checks:
        assert check in command
    assert Path(ROOT / ".github" / "workflows").is_dir()
