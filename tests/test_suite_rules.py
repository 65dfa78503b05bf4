"""The suite's own rules (README, top): a missing ../shared fails under CI and skips elsewhere,
and every test that reads it is marked `corpus`, so `-m "not corpus"` runs without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import shared_folder


def test_a_missing_shared_folder_fails_under_ci_and_skips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "shared" / "corpus"
    outcomes = []
    for ci in ("1", None):
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        # (BaseException: a skip or a failure raised here must be caught, not end this test.)
        with pytest.raises(BaseException, match="is not beside the checkout") as outcome:
            shared_folder(missing)
        outcomes.append(outcome.type)
    assert outcomes == [pytest.fail.Exception, pytest.skip.Exception]
    assert shared_folder(tmp_path) == tmp_path


def test_every_test_reading_shared_is_marked_corpus(request: pytest.FixtureRequest) -> None:
    """Through a fixture that needs ../shared, directly or through another fixture."""
    reading = [
        item
        for item in request.session.items
        if {"corpus", "seeds"} & set(getattr(item, "fixturenames", ()))
    ]
    if _whole_suite(request.config):
        assert len(reading) >= 20
    unmarked = [item.nodeid for item in reading if item.get_closest_marker("corpus") is None]
    assert unmarked == []


def _whole_suite(config: pytest.Config) -> bool:
    """Whether this run collects every test: only then are the ../shared readers all here
    (`-m "not corpus"`, the fast core, deselects exactly them; a -k or a file selects a part)."""
    here = Path(__file__).resolve().parent
    start = config.invocation_params.dir
    paths = {(start / arg.split("::")[0]).resolve() for arg in config.args}
    return paths == {here} and not config.option.markexpr and not config.option.keyword
