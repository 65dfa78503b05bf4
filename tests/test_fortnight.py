"""A fortnight of the user's daily CI, lived morning by morning: the `flashcards …` commands of
`.github/workflows/decks.yml`, read from the YAML and run through click in its order and with its
options, in a repository folder whose deck definition pulls from a mirror served here on
127.0.0.1 (pages of our own writing, tests/digest_writers.py) and writes a `delta:` package.

    Mon 06-02 … Sun 06-15   a page each weekday, 404 at weekends
    Wed 06-04               500, then 200 (the pull's own retry fetches it that morning)
    Thu 06-05               the page repeats Monday's paper, a result restated (its notes change)
    Mon 06-09               the user fixes a typo in Tuesday's pulled page (a push to digests/)
    Tue 06-10               a 200 page that is not a digest until Thursday's fix upstream: the pull
                            fails (exit 1, the run goes on) and `check` warns, twice; Thursday's
                            pull brings it in
    Wed 06-11               the build cache was evicted (every run starts without dist/)
    Fri 06-13               actions/cache restores an older entry, the one saved on Monday 06-09

After each morning, collection A imports the full package and collection B the delta (the real
Anki backend); a card is studied in both the same way; A and B must then hold the same notes
(GUID, fields, tags), the same cards and schedules, every earlier review kept, no blank card and
no duplicate note. So a delta that misses a new or changed note fails here.

`flashcards pull` takes "today" from the clock; the command is run as the workflow runs it, with
the library function it calls (`flashcards.pull.pull`) given each morning's date and waits that
are recorded instead of slept.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection
from anki.scheduler.v3 import CardAnswer
from anki_helpers import blank_cards, fresh_collection, import_package, review_card, schedule
from click.testing import CliRunner
from digest_writers import write_quiz_html
from test_pull import _Handler, _QuietServer
from test_workflow import _commands, _steps

import flashcards.pull
from flashcards.cli import main
from flashcards.model import Paper, Question
from flashcards.pull import STATE_FILE, HttpSettings

pytestmark = pytest.mark.slow

FIRST = date(2025, 6, 2)  # a Monday
MORNINGS = [FIRST + timedelta(days=n) for n in range(14)]
FLAKY = date(2025, 6, 4)  # 500 at first, then 200
REPEATS = date(2025, 6, 5)  # also carries FIRST's paper
TYPO_DAY, TYPO_FIXED_ON = date(2025, 6, 3), date(2025, 6, 9)
TYPO, FIXED = "wihch", "which"
BROKEN, FIXED_UPSTREAM = date(2025, 6, 10), date(2025, 6, 12)
CACHE_EVICTED = date(2025, 6, 11)
CACHE_SAVED, CACHE_STALE = date(2025, 6, 9), date(2025, 6, 13)


def paper_of(day: date) -> Paper:
    prompt = f"By {'wihch' if day == TYPO_DAY else 'which'} factor did the cache shrink?"
    return Paper(
        f"Compact Key-Value Caches, Study of {day.isoformat()}",
        arxiv_id=f"2506.{day.day:05d}",
        published=day - timedelta(days=3),
        fields={
            "topic": "Memory use of long-context language models.",
            "problem": f"The key-value cache outgrows the accelerator (study {day.day}).",
            "methods": f"Keys are quantised to {day.day % 4 + 2} bits per value.",
            "results": f"The cache shrank {day.day % 5 + 2} times at equal accuracy.",
        },
        questions=(
            Question(1, prompt, ("Two", f"{day.day % 5 + 2}", "Ten"), answer=1),
            Question(2, "What is quantised?", ("The keys", "The queries", "Nothing"), answer=0),
        ),
    )


def page_of(day: date) -> bytes:
    papers = [paper_of(day)]
    if day == REPEATS:  # Monday's paper again, its results stated more precisely
        first = paper_of(FIRST)
        results = first.fields["results"].replace("times", "times (measured on 8 tasks)")
        papers.append(dataclasses.replace(first, fields={**first.fields, "results": results}))
    return write_quiz_html(
        day, [(p, f"https://arxiv.org/abs/{p.arxiv_id}") for p in papers]
    ).encode()


class Mirror:
    """The mirror the deck pulls from: a page per weekday, published on its day."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.today = FIRST
        self.base = ""

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.hits[handler.path] += 1
            hit, today = self.hits[handler.path], self.today
        match = re.fullmatch(r"/mirror/(\d{4}-\d{2}-\d{2})\.html", handler.path)
        day = date.fromisoformat(match.group(1)) if match else None
        if day is None or day.weekday() >= 5 or day > today:
            status, body = 404, b"not found"
        elif day == FLAKY and hit == 1:
            status, body = 500, b"internal error"
        elif day == BROKEN and today < FIXED_UPSTREAM:
            status, body = 200, b"<html><body><p>The page is being rebuilt.</p></body></html>"
        else:
            status, body = 200, page_of(day)
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):  # httpx honours them
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    site = Mirror()
    server.site = site  # type: ignore[attr-defined]
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def _collection(col: Collection) -> dict[str, Any]:
    """What the two collections must agree on. The revlog's ids are the clock times of reviews
    made a moment apart: left out."""
    notes = col.db.all("select guid, mid, tags, flds from notes order by guid")
    cards = col.db.all(
        "select n.guid, c.id, c.ord, d.name, c.type, c.queue, "
        "c.due, c.ivl, c.reps, c.lapses "
        "from cards c join notes n on n.id = c.nid join decks d on d.id = c.did "
        "order by n.guid, c.ord"
    )
    revlog = col.db.all(
        "select n.guid, c.ord, r.ease, r.type from revlog r join cards c on c.id = r.cid "
        "join notes n on n.id = c.nid order by r.id"
    )
    decks = sorted((d["name"], d.get("desc", "")) for d in col.decks.all())
    return {"notes": notes, "cards": cards, "revlog": revlog, "decks": decks}


def _cache_path() -> str:
    [step] = [s for s in _steps() if s.get("uses", "").startswith("actions/cache@")]
    return step["with"]["path"]


def _digests(folder: Path) -> list[str]:
    """Every file the pulls left (a partial one would show), but the pull's own state."""
    return sorted(p.name for p in folder.iterdir() if p.name != STATE_FILE)


def _card_id(col: Collection, guid: str, ord_: int) -> int:
    [card_id] = col.db.list(
        "select c.id from cards c join notes n on n.id = c.nid where n.guid = ? and c.ord = ?",
        guid,
        ord_,
    )
    return card_id


_BUILD_KEYS = {
    "deck", "output", "state", "written", "bytes", "notes", "cards", "new", "changed",
    "unchanged", "unsure", "delta", "warnings",
}  # fmt: skip


def test_a_fortnight_of_daily_ci(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = _commands()
    assert [c[0] for c in commands] == ["pull", "check", "build"]  # test_workflow checks more
    repo = tmp_path / "repo"
    (repo / "decks").mkdir(parents=True)
    (repo / "decks" / "papers.yaml").write_text(
        "name: Papers\nsources: [../digests/quiz/*.html]\noutput: ../dist/papers.apkg\n"
        "delta: ../dist/papers-new.apkg\n"
        "pull:\n  - source: daily-paper\n    into: ../digests/quiz\n    since: 2025-06-02\n"
        f"    url: '{mirror.base}/mirror/{{date}}.html'\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(repo)
    quiz, full = repo / "digests" / "quiz", repo / "dist" / "papers.apkg"
    delta = repo / "dist" / "papers-new.apkg"
    waits: list[float] = []
    today = {"day": FIRST}
    real_pull = flashcards.pull.pull

    @functools.wraps(real_pull)
    def pull_on_the_morning(*args: Any, **kwargs: Any) -> Any:
        assert kwargs.get("today") is None and kwargs.get("settings") is None
        settings = HttpSettings(backoff=0.001, sleep=waits.append)
        return real_pull(*args, **{**kwargs, "today": today["day"], "settings": settings})

    monkeypatch.setattr(flashcards.pull, "pull", pull_on_the_morning)

    # (guid, ord) → its schedule after the review, in A and in B
    reviewed: dict[tuple[str, int], dict[str, tuple[int, ...]]] = {}
    with fresh_collection(tmp_path) as a, fresh_collection(tmp_path) as b:
        had: list[str] = []  # the digests in the folder before the morning's pull
        for day in MORNINGS:
            today["day"] = mirror.today = day
            # Each run starts from a fresh checkout: the packages were published, not committed
            # (the commit step excludes dist/); the build cache comes back from actions/cache,
            # but not after it was evicted.
            shutil.rmtree(repo / "dist", ignore_errors=True)
            if day == CACHE_EVICTED:
                shutil.rmtree(repo / "decks" / "papers.cache")
            if day == CACHE_STALE:
                shutil.rmtree(repo / "decks" / "papers.cache")
                shutil.copytree(tmp_path / "saved.cache", repo / "decks" / "papers.cache")
            if day == TYPO_FIXED_ON:  # a person's fix, pushed between two runs
                page = quiz / f"{TYPO_DAY}.html"
                text = page.read_text(encoding="utf-8")
                assert text.count(TYPO) == 1
                page.write_text(text.replace(TYPO, FIXED), encoding="utf-8")

            results = {}
            for args in commands:
                results[args[0]] = result = CliRunner().invoke(main, args)
                # The workflow's shell: pull may exit 1 (a day failed, retried tomorrow); any
                # other failure stops the run.
                allowed = (0, 1) if args[0] == "pull" else (0,)
                assert result.exit_code in allowed, (day, args, result.output, result.exception)

            # pull: one summary line; the broken day fails until upstream fixes it.
            pulled = results["pull"]
            broken = BROKEN <= day < FIXED_UPSTREAM
            assert pulled.exit_code == (1 if broken else 0), (day, pulled.output)
            assert re.fullmatch(r"daily-paper → digests/quiz[ :][^\n]+\n", pulled.stdout), (
                pulled.stdout
            )
            if broken:
                assert f"failed 1 ({BROKEN})" in pulled.stdout
                assert pulled.stderr.startswith(f"error: digests/quiz/{BROKEN}.html: "), day
            else:
                assert pulled.stderr == "", (day, pulled.stderr)
            expected = sorted(
                f"{d}.html"
                for d in MORNINGS
                if d <= day and d.weekday() < 5 and not (d == BROKEN and broken)
            )
            assert _digests(quiz) == expected
            fetched = re.search(r"fetched (\d+),", pulled.stdout)  # absent: nothing to pull
            assert (int(fetched.group(1)) if fetched else 0) == len(expected) - len(had), day
            had = expected
            if day >= FLAKY:
                assert mirror.hits[f"/mirror/{FLAKY}.html"] == 2
            # check: the failed day is a warning a person sees (exit 0: the run goes on).
            checked = CliRunner().invoke(main, ["check", "--json"])
            assert checked.exit_code == 0, checked.output
            findings = json.loads(checked.stdout)
            assert findings["errors"] == []
            missing = [w for w in findings["warnings"] if w["code"] == "missing-day"]
            assert bool(missing) == broken, (day, missing)
            if broken:
                assert str(BROKEN) in missing[0]["message"] + str(missing[0]["path"])

            if day == CACHE_SAVED:
                shutil.copytree(repo / "decks" / "papers.cache", tmp_path / "saved.cache")

            # build --json: one object, what the README lists.
            assert results["build"].stderr == ""  # with --json, warnings are in the report
            report = json.loads(results["build"].stdout)
            [deck] = report["decks"]
            assert set(deck) == _BUILD_KEYS
            assert deck["written"] is True  # dist/ was not there
            assert deck["new"] + deck["changed"] + deck["unchanged"] == deck["notes"]
            assert deck["bytes"] == full.stat().st_size and Path(deck["output"]).resolve() == full
            assert deck["delta"]["notes"] == deck["new"] + deck["changed"]
            # Only a repeated paper or an edited digest changes notes already in Anki; those
            # mornings are the ones a delta could get wrong.
            assert (deck["changed"] > 0) == (day in (REPEATS, TYPO_FIXED_ON)), (day, deck)
            assert Path(deck["delta"]["output"]).resolve() == delta
            for warning in deck["warnings"]:
                assert set(warning) == {"path", "line", "code", "message"}

            full_import = import_package(a, full)
            delta_import = import_package(b, delta)
            assert (full_import.new, full_import.updated) == (deck["new"], deck["changed"])
            assert (delta_import.new, delta_import.updated) == (deck["new"], deck["changed"])
            assert delta_import.duplicate == 0 and delta_import.conflicting == 0
            assert a.note_count() == deck["notes"] and a.card_count() == deck["cards"]

            # Earlier reviews survive the import, in both collections.
            for name, col in (("A", a), ("B", b)):
                for (guid, ord_), before in reviewed.items():
                    card = col.get_card(_card_id(col, guid, ord_))
                    assert schedule(card) == before[name], (day, name, guid)

            # Study the card Anki offers next, the same in both: Easy, so it leaves today's queues.
            a.decks.select(a.decks.id("Papers"))
            [top] = a.sched.get_queued_cards(fetch_limit=1).cards
            card = a.get_card(top.card.id)
            assert card.type == 0  # a new card: the ones studied before left today's queues
            guid, ord_ = card.note().guid, card.ord
            reviewed[(guid, ord_)] = {
                name: schedule(review_card(col, _card_id(col, guid, ord_), CardAnswer.EASY))
                for name, col in (("A", a), ("B", b))
            }

            state_a, state_b = _collection(a), _collection(b)
            assert state_a == state_b, day
            assert len(state_a["revlog"]) == len(reviewed)
            assert blank_cards(a) == [] and blank_cards(b) == []
            assert a.db.scalar("select count(distinct guid) from notes") == a.note_count()
            assert a.db.scalar("select count(distinct flds) from notes") == a.note_count()

        # The fortnight's deck: every weekday's paper, the typo fixed, Monday's paper twice.
        assert _digests(quiz) == [f"{d}.html" for d in MORNINGS if d.weekday() < 5]
        flds = "\n".join(a.db.list("select flds from notes"))
        assert TYPO not in flds and f"By {FIXED} factor" in flds
        tags = a.db.list("select tags from notes where flds like ?", "%Study of 2025-06-02%")
        assert tags and all(f"date::{FIRST}" in t and f"date::{REPEATS}" in t for t in tags)
        assert "(measured on 8 tasks)" in flds
        assert waits, "the 500 was retried after a (recorded) wait"
        # The build cache sits where the workflow's actions/cache step saves it from.
        assert list(repo.glob(_cache_path())) == [repo / "decks" / "papers.cache"]
        late = a.db.scalar("select count() from notes where flds like ?", f"%Study of {BROKEN}%")
        assert late > 0
