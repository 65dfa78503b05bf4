"""The preview page in a real browser (issue 13): headless Debian chromium driven by Playwright.

One browser for the module; each test opens the page in its own context. The page's only outside
file, MathJax from its CDN, is served from the local copy `.ci/browser-deps` installs with npm;
every other network request is refused. Screenshots go to `test-artifacts/browser/`.

Outside CI the module skips when chromium or Playwright is missing (and the maths test when the
local MathJax is); under CI=1 they must be there.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from digest_writers import write_markdown, write_quiz_text
from helpers import ROOT

from flashcards.anki.notes import escape_text
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc
from flashcards.preview import MATHJAX_URL, preview_plan

#: A real browser per test: seconds, not milliseconds.
pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("FLASHCARDS_CHROMIUM", "/usr/bin/chromium"))
MATHJAX_DIR = ROOT / ".cache" / "mathjax" / "node_modules" / "mathjax" / "es5"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long an expectation may wait for the page: only a real hang takes this long.
WAIT_MS = 30_000
MATHJAX_BASE = MATHJAX_URL.rsplit("/", 1)[0] + "/"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser test: see .ci/browser-deps)")
    pytest.skip(f"{reason}; run .ci/browser-deps to install it")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (Debian package chromium)")
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The preview of a quiz digest (maths; Q1's right option is the first, marked) and a table
    digest a day later."""
    folder = tmp_path_factory.mktemp("browser")
    quiz = Paper(
        title="SL$^{2}$A-INR: Sparse Experts for Implicit Representations",
        arxiv_id="2507.00501",
        fields={
            "problem": "Each expert's weight is $x_i = \\frac{1}{M}$ over $M$ experts.",
            "methods": "A router picks experts; averaging merges them.",
            "results": "It costs $5M less and trains in $3 to $4 hours of a budget.",
        },
        questions=(
            Question(
                number=1,
                prompt="How are the experts' outputs merged?",
                options=("By averaging them", "By a learned gate", "By picking the largest"),
                answer=0,
                answer_source="marked",
            ),
            Question(
                number=2,
                prompt="How many experts are averaged?",
                options=("All M of them", "Two"),
                answer=0,
                answer_source="marked",
            ),
            Question(  # no mark: inferred, and unsure under the page's threshold of 1
                number=3,
                prompt="What picks the experts?",
                options=("A router", "A lookup table", "The user"),
            ),
        ),
    )
    table = Paper(
        title="AVeryLongUnbrokenTitleWordThatCouldPushANarrowScreenSideways_" * 3,
        arxiv_id="2507.00502",
        fields={"summary": "A benchmark of tiny tasks: " + "https://example.com/" + "x" * 120},
    )
    (folder / "quiz.txt").write_text(
        write_quiz_text(date(2025, 7, 14), [(quiz, "https://arxiv.org/abs/2507.00501")])
    )
    (folder / "table.md").write_text(write_markdown([(date(2025, 7, 15), [table])]))
    out = folder / "preview.html"
    plan = plan_adhoc(
        [folder / "quiz.txt", folder / "table.md"], folder / "x.apkg", unsure_threshold=1.0
    )
    out.write_text(preview_plan(plan).html, encoding="utf-8")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return out


def _serve_mathjax(route: Any) -> None:
    """MathJax from the local copy; anything else from the network is refused."""
    url = route.request.url
    if url.startswith(MATHJAX_BASE):
        local = MATHJAX_DIR / url[len(MATHJAX_BASE) :].split("?")[0]
        if local.is_file() and MATHJAX_DIR in local.resolve().parents:
            route.fulfill(path=str(local))
            return
    route.abort()


def _refuse(route: Any) -> None:
    route.abort()


def _open(
    browser: Any,
    page_file: Path,
    *,
    width: int = 375,
    javascript: bool = True,
    maths: bool = False,
) -> Any:
    """The preview in a new context; MathJax is only served when `maths` (typesetting a dozen
    frames takes seconds), otherwise the maths shows as its `\\(…\\)` source."""
    context = browser.new_context(
        viewport={"width": width, "height": 800}, java_script_enabled=javascript
    )
    context.route(re.compile(r"^https?://"), _serve_mathjax if maths else _refuse)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    return page


def _mcq(page: Any) -> tuple[Any, Any, Any]:
    """(article, front frame, back frame) of the MCQ card."""
    article = page.locator('article.pv-card[data-kind="mcq"]').first
    number = article.get_attribute("id").removeprefix("card-")
    return article, page.frame_locator(f"#front-{number}"), page.frame_locator(f"#back-{number}")


def test_tap_a_wrong_then_the_right_option(browser: Any, page_file: Path) -> None:
    from playwright.sync_api import expect

    page = _open(browser, page_file)
    article, front, back = _mcq(page)
    options = front.locator("#fc-choices li")
    expect(front.locator("#fc-choices")).to_have_class(re.compile(r"\bfc-tappable\b"))
    # Options are shuffled on the card: the right one, the digest's A, shows under another
    # letter (this card's order is B, A, C); the learner taps by the letter shown.
    right = options.all_inner_texts().index("By averaging them")
    assert right != 0
    wrong = (right + 1) % options.count()

    options.nth(wrong).click()
    expect(options.nth(wrong)).to_have_class(re.compile(r"\bfc-chosen\b"))
    article.locator("button.pv-show").click()
    back_options = back.locator("#fc-choices li")
    expect(back_options.nth(wrong)).to_have_class(re.compile(r"\bfc-wrong\b"))
    expect(back_options.nth(right)).to_have_class(re.compile(r"\bfc-correct\b"))
    expect(back_options.nth(right)).to_have_text("By averaging them")
    article.screenshot(path=ARTIFACTS / "mcq-wrong.png")

    options.nth(right).click()
    expect(options.nth(right)).to_have_class(re.compile(r"\bfc-chosen\b"))
    expect(options.nth(wrong)).not_to_have_class(re.compile(r"\bfc-chosen\b"))
    article.locator("button.pv-show").click()
    expect(back_options.nth(right)).to_have_class(re.compile(r"\bfc-correct\b"))
    expect(back.locator("#fc-choices li.fc-wrong")).to_have_count(0)
    expect(back.locator(".fc-answer")).to_contain_text("By averaging them")
    # The back names the letter the right option showed under, not the digest's.
    expect(back.locator(".fc-answer .fc-letter")).to_have_text("ABC"[right])
    article.screenshot(path=ARTIFACTS / "mcq-right.png")

    # A wrong tap on this card never shows on the next card's back.
    options.nth(wrong).click()
    other = page.locator('article.pv-card[data-kind="mcq"]').nth(1)
    other_back = other.frame_locator("iframe.pv-back")
    other.locator("button.pv-show").click()
    expect(other_back.locator('#fc-choices li[data-o="0"]')).to_have_class(re.compile("fc-correct"))
    expect(other_back.locator("#fc-choices li.fc-wrong")).to_have_count(0)
    expect(other_back.locator("#fc-choices li.fc-chosen")).to_have_count(0)
    page.context.close()


def test_shuffled_order_is_the_same_on_front_and_back(browser: Any, page_file: Path) -> None:
    from playwright.sync_api import expect

    page = _open(browser, page_file)
    cards = page.locator('article.pv-card[data-kind="mcq"]')
    orders = []
    for index in range(cards.count()):
        article = cards.nth(index)
        front = article.frame_locator("iframe.pv-front")
        back = article.frame_locator("iframe.pv-back")
        article.locator("button.pv-show").click()
        expect(back.locator("#fc-choices li")).to_have_count(
            front.locator("#fc-choices li").count()
        )
        expect(front.locator("#fc-choices")).to_have_class(re.compile(r"\bfc-tappable\b"))
        shown = front.locator("#fc-choices li").all_inner_texts()
        assert back.locator("#fc-choices li").all_inner_texts() == shown
        # The letter the back names is the one the right option shows under.
        letter = back.locator(".fc-letter").inner_text().strip()
        right = back.locator("#fc-choices li.fc-correct")
        expect(right).to_have_count(1)
        assert shown["ABCDEFGH".index(letter)] == right.inner_text()
        orders.append(_digest_indices(front))
        assert _digest_indices(back) == orders[-1]
        if index == 0:
            article.screenshot(path=ARTIFACTS / "mcq-shuffled.png")
            # Anki desktop shows the back by rendering the front again: the script may run on a
            # list it already ordered, and changes nothing even without its "done" mark.
            back.locator("#fc-choices").evaluate(
                "list => { list.removeAttribute('data-fc-ready');"
                " (0, eval)(list.ownerDocument.querySelector('#qa script').textContent); }"
            )
            assert back.locator("#fc-choices li").all_inner_texts() == shown
            expect(back.locator(".fc-answer .fc-letter")).to_have_text(letter)
            expect(back.locator("#fc-choices li.fc-correct")).to_have_count(1)
    assert [sorted(order) for order in orders] == [[0, 1, 2], [0, 1], [0, 1, 2]]
    assert orders[0] != [0, 1, 2]  # Q1 has an order of its own
    page.context.close()


def _digest_indices(frame: Any) -> list[int]:
    """The digest's index of each option, in the order the card shows them."""
    items = frame.locator("#fc-choices li")
    return [int(items.nth(i).get_attribute("data-o")) for i in range(items.count())]


def _background(frame: Any) -> str:
    return frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")


def test_night_mode(browser: Any, page_file: Path) -> None:
    from playwright.sync_api import expect

    page = _open(browser, page_file)
    _article, front, back = _mcq(page)
    day = _background(front)
    page.locator("#pv-night").click()
    for frame in (front, back):
        expect(frame.locator("body")).to_have_class(re.compile(r"\bnightMode\b.*\bnight_mode\b"))
    night = _background(front)
    assert night != day
    # The card's own night colours: light text on a dark background.
    channels = [int(c) for c in re.findall(r"\d+", night)[:3]]
    assert max(channels) < 64, night
    text = front.locator(".fc-prompt").evaluate("e => getComputedStyle(e).color")
    assert min(int(c) for c in re.findall(r"\d+", text)[:3]) > 160, text
    page.screenshot(path=ARTIFACTS / "night.png", full_page=True)
    page.locator("#pv-night").click()
    expect(front.locator("body")).not_to_have_class(re.compile(r"\bnightMode\b"))
    page.context.close()


_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _style(locator: Any, prop: str) -> str:
    return str(locator.evaluate(f"e => getComputedStyle(e).{prop}"))


def _channels(colour: str) -> list[int]:
    return [int(c) for c in re.findall(r"\d+", colour)[:3]]


def test_an_unsure_answer_looks_unsure_in_day_and_night_mode(browser: Any, page_file: Path) -> None:
    from playwright.sync_api import expect

    page = _open(browser, page_file)
    unsure = page.locator('article.pv-card[data-kind="mcq"]').nth(2)
    sure = page.locator('article.pv-card[data-kind="mcq"]').nth(0)
    unsure_back = unsure.frame_locator("iframe.pv-back")
    sure_back = sure.frame_locator("iframe.pv-back")
    unsure.locator("button.pv-show").click()
    expect(unsure_back.locator(".fc-source")).to_contain_text("Unsure — inferred")
    expect(unsure_back.locator("#fc-choices li.fc-correct")).to_have_class(re.compile("fc-unsure"))
    for night in (False, True):
        if night:
            page.locator("#pv-night").click()
            expect(unsure_back.locator("body")).to_have_class(re.compile(r"\bnightMode\b"))
        box, certain = unsure_back.locator(".fc-answer"), sure_back.locator(".fc-answer")
        assert _style(box, "borderLeftStyle") == "dashed"
        assert _style(certain, "borderLeftStyle") == "solid"
        assert _style(box, "backgroundColor") != _style(certain, "backgroundColor")
        assert _style(box, "borderLeftColor") != _style(certain, "borderLeftColor")
        # Amber, not green: red above green above blue, in both modes.
        red, green, blue = _channels(_style(box, "borderLeftColor"))
        assert red > green > blue, night
        option = unsure_back.locator("#fc-choices li.fc-correct")
        assert _style(option, "borderTopStyle") == "dashed"
        # Readable: the source line's text contrasts with the page.
        text = sum(_channels(_style(unsure_back.locator(".fc-source"), "color")))
        ground = sum(_channels(_background(unsure_back)))
        assert abs(text - ground) > 300, (night, text, ground)
        unsure.screenshot(path=ARTIFACTS / f"unsure-{'night' if night else 'day'}.png")
    page.context.close()


def test_no_horizontal_scroll_at_375_px(browser: Any, page_file: Path) -> None:
    page = _open(browser, page_file, width=375)
    page.wait_for_timeout(500)  # let the frames size themselves
    assert page.evaluate(_OVERFLOW) <= 0
    frames = [frame for frame in page.frames if frame != page.main_frame]
    assert len(frames) == 2 * page.locator("article.pv-card").count()
    for frame in frames:
        assert frame.evaluate(_OVERFLOW) <= 0, frame.evaluate("document.body.innerText")
    page.screenshot(path=ARTIFACTS / "day-375px.png", full_page=True)
    page.context.close()


def test_mathjax_renders_maths(browser: Any, page_file: Path) -> None:
    from playwright.sync_api import expect

    if not (MATHJAX_DIR / "tex-chtml.js").is_file():
        _unavailable(f"no local MathJax at {MATHJAX_DIR}")
    page = _open(browser, page_file, maths=True)
    _article, front, _back = _mcq(page)
    # The title's SL$^{2}$A-INR on the front; the problem's two formulas on the Problem card.
    expect(front.locator(".fc-paper mjx-container")).to_have_count(1)
    expect(front.locator(".fc-paper")).not_to_contain_text("\\(")
    problem = page.locator('article.pv-card[data-template="Problem"]')
    number = problem.get_attribute("id").removeprefix("card-")
    problem_back = page.frame_locator(f"#back-{number}")
    expect(problem_back.locator(".fc-field mjx-container")).to_have_count(2)
    # Prices stay text.
    results = page.locator('article.pv-card[data-template="Results"]')
    number = results.get_attribute("id").removeprefix("card-")
    results_back = page.frame_locator(f"#back-{number}")
    expect(results_back.locator(".fc-field")).to_contain_text("costs $5M less")
    expect(results_back.locator(".fc-field")).to_contain_text("$3 to $4 hours")
    expect(results_back.locator("mjx-container")).to_have_count(1)  # the title only
    problem.screenshot(path=ARTIFACTS / "maths.png")

    # Inside a container MathJax 3.2 ignores (where digest text may be kept), our maths still
    # typesets and other TeX does not.
    ignored = "".join(
        f'<div class="{name}">\\(a_1\\) {escape_text("$b^2$")}</div>'
        for name in ("mathjax_ignore", "mathjax_ignore tex2jax_ignore")
    )
    page.set_content(f'<body>{ignored}<script src="{MATHJAX_URL}"></script></body>')
    expect(page.locator("mjx-container")).to_have_count(2)
    for container in page.locator("div.mathjax_ignore").all():
        expect(container).to_contain_text("\\(a_1\\)")
        expect(container.locator(".mathjax_process mjx-container")).to_have_count(1)
    page.context.close()


def test_cards_read_correctly_without_javascript(browser: Any, page_file: Path) -> None:
    from playwright.sync_api import expect

    page = _open(browser, page_file, javascript=False)
    _article, front, back = _mcq(page)
    # A lettered list, not tappable; the back names the answer and its source.
    expect(front.locator("ol.fc-choices")).to_have_attribute("type", "A")
    expect(front.locator("ol.fc-choices")).not_to_have_class(re.compile(r"\bfc-tappable\b"))
    # The digest's order and letters (the card script would shuffle them): the back names the
    # digest's A, and A is the right option.
    for frame in (front, back):
        assert _digest_indices(frame) == [0, 1, 2]
    expect(back.locator(".fc-letter")).to_have_text("A")
    expect(front.locator("#fc-choices li").nth(0)).to_have_text("By averaging them")
    expect(back.locator(".fc-answer")).to_contain_text("By averaging them")
    expect(back.locator(".fc-source").first).to_contain_text("Marked in the digest")
    style = front.locator("ol.fc-choices").evaluate("e => getComputedStyle(e).listStyleType")
    assert style == "upper-alpha"
    page.screenshot(path=ARTIFACTS / "no-javascript.png", full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_without_javascript_no_side_is_cut_off(browser: Any, page_file: Path, width: int) -> None:
    """Without the page script no frame is sized to its card: each starts tall enough for its
    whole side, or the answer under a back's options would be hidden below the frame's edge."""
    page = _open(browser, page_file, width=width, javascript=False)
    frames = page.locator("iframe")
    assert frames.count() == 2 * page.locator("article.pv-card").count()
    for i in range(frames.count()):
        frame = frames.nth(i)
        shown = frame.evaluate("f => f.clientHeight")
        needed = frame.evaluate("f => f.contentDocument.documentElement.scrollHeight")
        assert needed <= shown, frame.get_attribute("title")
    page.context.close()
