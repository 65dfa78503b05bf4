"""The steps of a quiz page's flow chart.

The site's charts are hand-drawn SVG: boxes (`<rect>`, circles, ellipses, polygons) with a few
`<text>` lines inside (a bold name, then smaller details), arrows drawn as lines and paths, big
rounded rectangles around whole phases with a header, and a title. The arrows do not say much
that document order does not (the generator writes the chart top to bottom), so a step is what
a reader sees as one unit: the lines inside one box, or a free-standing label (consecutive lines
at the same x close below each other). A step reads "Name: detail, detail" when its first lines
are styled apart from the rest (bigger or bolder), else its lines joined as one phrase.

Geometry is read from the attributes (`x`, `y`, `dy`, `translate(…)` of enclosing groups); what
cannot be placed (no coordinates, `%` units) counts as one line per `<text>` in document order,
so a chart never runs together into one step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bs4.element import NavigableString, Tag

from flashcards.model import STEP_SEPARATOR
from flashcards.parse.common import collapse_whitespace

__all__ = ["STEP_SEPARATOR", "chart_steps", "text_steps"]

# SVG elements whose text the flow chart shows; everything else in an SVG is drawing.
_SVG_TEXT = {"text", "tspan", "textpath"}
# Inline markup that model output puts inside SVG text ("F<sub>plan</sub>"): its text belongs to
# the word it is written against, as in the text digests, not a word of its own.
_INLINE_MARKUP = {"sub", "sup", "b", "i", "em", "strong", "small"}
# Elements that belong to the page, not to a chart: met inside an SVG they mean it never closed.
_PAGE_CLASSES = {"paper-container", "paper-card", "card-deck", "card-counter", "quiz-tabs"}
# Shapes that frame a step's text.
_SHAPES = {"rect", "circle", "ellipse", "polygon", "foreignobject"}
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(px|em)?\s*$", re.IGNORECASE)
_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", re.IGNORECASE)
_TRANSLATE = re.compile(r"translate\(\s*([^,)\s]+)(?:[\s,]+([^,)\s]+))?\s*\)", re.IGNORECASE)
_STYLE_PROPERTY = re.compile(r"(font-size|font-weight)\s*:\s*([^;]+)", re.IGNORECASE)
# A label with no letter that is this short is a step number or an arrow drawn as text ("2", "→").
_DECORATION = re.compile(r"^\W{0,3}$|^[\d\W]{1,3}$")
# Words that name a chart in its title ("Method Workflow", "Training Pipeline").
_NAMES_CHART = re.compile(
    r"\b(?:work\s*flow|flow\s*chart|pipeline|framework|flow|overview|process|protocol|"
    r"methodology|architecture)\b",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^[•·▪◦‣*-]\s+")
_GOES_ON = set(":&,-+(/=")
_DEFAULT_FONT_SIZE = 16.0  # the SVG default; what `em` means without a font-size
#: Each line is looked for in each box: real charts have at most some 100 lines and 50 boxes, a
#: hostile one within the page limits 25,000 of each (minutes of work). Past this many pairs the
#: boxes are ignored.
_MAX_PLACEMENTS = 250_000
_TOLERANCE = 2.0  # user units a text's anchor may stray outside the box that frames it


@dataclass(frozen=True)
class _Line:
    """One line of chart text: a `<text>` (or a `<tspan>` placed on its own), where it is
    anchored, and what it looks like."""

    text: str
    x: float | None
    y: float | None
    font_size: float
    style: tuple[str, ...]  # font size, weight and class: what sets a name apart from details


@dataclass(frozen=True)
class _Box:
    left: float
    top: float
    right: float
    bottom: float

    def holds(self, x: float, y: float) -> bool:
        return (
            self.left - _TOLERANCE <= x <= self.right + _TOLERANCE
            and self.top - _TOLERANCE <= y <= self.bottom + _TOLERANCE
        )

    def inside(self, other: _Box) -> bool:
        return (
            other.left <= self.left
            and self.right <= other.right
            and other.top <= self.top
            and self.bottom <= other.bottom
            and self != other
        )

    @property
    def area(self) -> float:
        return (self.right - self.left) * (self.bottom - self.top)


def chart_steps(svg: Tag) -> tuple[str, ...]:
    """The steps of the flow chart `svg`, in document order, without the chart's own title."""
    every = list(_lines(svg))
    lines = [line for line in every if not _DECORATION.match(line.text)] or every
    boxes = list(_boxes(svg))
    if len(boxes) * len(lines) > _MAX_PLACEMENTS:
        boxes = []  # no real chart comes near: read its labels without the boxes around them
    framing = [_innermost(boxes, line) for line in lines]
    # A box around other text-holding boxes is a phase or the background, not a step: its own
    # lines (a phase header, a caption) stand alone.
    regions = {
        outer
        for outer in set(framing)
        if outer is not None and any(b is not None and b.inside(outer) for b in framing)
    }
    # The title stands alone: free, in a phase or the background, or in a box of its own.
    alone = bool(lines) and (
        framing[0] is None or framing[0] in regions or framing.count(framing[0]) == 1
    )
    if alone and _is_title(lines):
        lines, framing = lines[1:], framing[1:]
    steps: list[list[_Line]] = []
    for i, line in enumerate(lines):
        if i and _same_step(lines[i - 1], line, framing[i - 1], framing[i], regions):
            steps[-1].append(line)
        else:
            steps.append([line])
    return tuple(text for step in steps if (text := _without_arrows(_step_text(step))))


def _is_title(lines: list[_Line]) -> bool:
    """Whether the first of a chart's free-standing `lines` is its title: at the top, and set
    larger than any other text or naming the chart ("… Workflow", "… Pipeline"). It restates the
    paper's title, which the card shows already."""
    first, rest = lines[0], lines[1:]
    if not rest or first.y is None or any(line.y is not None and line.y < first.y for line in rest):
        return False
    larger = all(first.font_size > line.font_size for line in rest)
    return larger or _NAMES_CHART.search(first.text) is not None


def _same_step(
    before: _Line, line: _Line, before_box: _Box | None, box: _Box | None, regions: set[_Box]
) -> bool:
    if box != before_box:
        return False
    if box is not None and box not in regions:
        return True  # two lines of one box
    # Free-standing text: one label wrapped onto lines below each other.
    if before.x is None or before.y is None or line.x is None or line.y is None:
        return False
    gap = line.y - before.y
    return abs(line.x - before.x) <= _TOLERANCE and 0 < gap <= 1.6 * before.font_size


def _step_text(lines: list[_Line]) -> str:
    """ "Name: detail, detail" when the first lines are styled apart from the rest (a bold name
    over smaller details), else the lines as one phrase (a label wrapped onto lines)."""
    head = 1
    while head < len(lines) and lines[head].style == lines[0].style:
        head += 1
    name = " ".join(line.text for line in lines[:head])
    details = _details(line.text for line in lines[head:])
    if not details:
        return name
    return f"{name.rstrip(':')}: {details}"


def _details(lines: Iterable[str]) -> str:
    """A step's detail lines as they read: a line that goes on the sentence before it (starts in
    lower case, or follows a line ending in ':', '&', ',', '-' or '+') is joined by a space, a new
    item by a comma, without the bullet that drew it."""
    text = ""
    for raw in lines:
        line = _BULLET.sub("", raw)
        if not text:
            text = line
        elif line == raw and (line[:1].islower() or text[-1:] in _GOES_ON):
            text += " " + line
        else:
            text += ", " + line
    return text


def _innermost(boxes: list[_Box], line: _Line) -> _Box | None:
    if line.x is None or line.y is None:
        return None
    holding = [b for b in boxes if b.holds(line.x, line.y)]
    return min(holding, key=lambda b: b.area, default=None)


# -- reading the SVG ---------------------------------------------------------------------------


def _lines(svg: Tag) -> Iterator[_Line]:
    """Each line of text, with the word-continuation rules of `_strings`."""
    current: Tag | None = None
    parts: list[str] = []
    offsets: dict[int, dict[int, float]] = {}
    for holder, text, glued in _strings(svg):
        if holder is not current:
            if current is not None and parts:
                yield _line(current, "".join(parts), offsets)
            current, parts = holder, []
        parts.append(text if glued or not parts else " " + text)
    if current is not None and parts:
        yield _line(current, "".join(parts), offsets)


def _strings(svg: Tag) -> Iterator[tuple[Tag, str, bool]]:
    """The strings a chart shows in document order, each with the element that places it (its
    line) and whether it continues the word before it; stops where the page resumes inside an
    SVG that was never closed."""
    # Imported here: reading a chart flattened to text (`text_steps`, quiz text) need not load
    # the HTML parser, which costs each parse worker more than the quiz parser itself.
    from bs4.element import Comment, NavigableString, Tag

    previous_raw = ""
    for node in svg.descendants:
        if isinstance(node, Tag):
            if node.name == "h2" or _PAGE_CLASSES & set(node.get("class") or ()):
                return
            continue
        if isinstance(node, Comment) or not isinstance(node, NavigableString):
            continue
        holder = _holder(node, svg)
        if holder is None:
            continue
        raw = str(node)
        text = collapse_whitespace(raw)
        if not text:
            continue
        glued = bool(previous_raw) and _continues_word(node, previous_raw, raw)
        yield holder, text, glued
        previous_raw = raw


def _holder(node: NavigableString, svg: Tag) -> Tag | None:
    """The element that places `node` on the chart: a `<tspan>` with its own position, else the
    `<text>` (or `<foreignObject>`) around it; None when the string is not shown text."""
    parent = node.parent
    if parent is None or parent.name is None or parent.name.lower() in ("script", "style"):
        return None
    shown = False
    placed: Tag | None = None
    for ancestor in node.parents:
        if ancestor is svg:
            break
        name = (ancestor.name or "").lower()
        if name in _SVG_TEXT or name == "foreignobject":
            shown = True
            if name == "tspan" and placed is None and _positioned(ancestor):
                placed = ancestor
            if name in ("text", "foreignobject"):
                return placed or ancestor
    return placed if shown else None


def _positioned(tspan: Tag) -> bool:
    return any(tspan.get(a) is not None for a in ("x", "y", "dy"))


def _continues_word(node: NavigableString, previous_raw: str, raw: str) -> bool:
    """Whether `node` goes on the word before it: it is in, or right after, inline markup, with
    no space between them (separate `<tspan>`s stay separate words)."""
    if previous_raw[-1:].isspace() or raw[:1].isspace():
        return False
    from bs4.element import Tag  # as in `_strings`

    before = node.previous_sibling
    return _tag_name(node.parent) in _INLINE_MARKUP or (
        isinstance(before, Tag) and _tag_name(before) in _INLINE_MARKUP
    )


def _tag_name(tag: Tag | None) -> str:
    return (tag.name or "").lower() if tag is not None else ""


def _line(holder: Tag, text: str, offsets: dict[int, dict[int, float]]) -> _Line:
    font_size = _font_size(holder)
    x, y = _anchor(holder, font_size, offsets)
    style = (
        str(font_size),
        _inherited(holder, "font-weight") or "",
        " ".join(_inherited_classes(holder)),
    )
    return _Line(text=text, x=x, y=y, font_size=font_size, style=style)


def _anchor(
    holder: Tag, font_size: float, offsets: dict[int, dict[int, float]]
) -> tuple[float | None, float | None]:
    """Where `holder`'s text is anchored, in the chart's coordinates. `offsets` keeps, per
    `<text>` (by id), how far down each of its `<tspan>`s has moved by `dy`."""
    x = _length(holder.get("x"), font_size)
    y = _length(holder.get("y"), font_size)
    if (holder.name or "").lower() == "tspan":
        text = holder.find_parent("text")
        if text is not None:
            if x is None:
                x = _length(text.get("x"), font_size)
            if y is None:
                # A tspan placed by `dy` sits that far below the line before it.
                y = _length(text.get("y"), font_size)
                if y is not None:
                    if id(text) not in offsets:
                        offsets[id(text)] = _dy_offsets(text, font_size)
                    y += offsets[id(text)].get(id(holder), 0.0)
    dx, dy = _translation(holder)
    return (x + dx if x is not None else None, y + dy if y is not None else None)


def _dy_offsets(text: Tag, font_size: float) -> dict[int, float]:
    """Per `<tspan>` of `text` (by id), the sum of the `dy`s up to and including its own."""
    offsets: dict[int, float] = {}
    total = 0.0
    for tspan in text.find_all("tspan"):
        total += _length(tspan.get("dy"), font_size) or 0.0
        offsets[id(tspan)] = total
    return offsets


def _boxes(svg: Tag) -> Iterator[_Box]:
    for shape in svg.find_all(True):
        name = (shape.name or "").lower()
        if name not in _SHAPES:
            continue
        box = _shape_box(shape, name)
        if box is not None and box.area > 0:
            dx, dy = _translation(shape)
            yield _Box(box.left + dx, box.top + dy, box.right + dx, box.bottom + dy)


def _shape_box(shape: Tag, name: str) -> _Box | None:
    def number(attribute: str, default: float | None = None) -> float | None:
        value = _length(shape.get(attribute), _DEFAULT_FONT_SIZE)
        return default if value is None else value

    if name in ("rect", "foreignobject"):
        x, y = number("x", 0.0), number("y", 0.0)
        width, height = number("width"), number("height")
        if x is None or y is None or width is None or height is None:
            return None
        return _Box(x, y, x + width, y + height)
    if name in ("circle", "ellipse"):
        cx, cy = number("cx", 0.0), number("cy", 0.0)
        rx = number("r") if name == "circle" else number("rx")
        ry = number("r") if name == "circle" else number("ry")
        if cx is None or cy is None or rx is None or ry is None:
            return None
        return _Box(cx - rx, cy - ry, cx + rx, cy + ry)
    points = [float(p) for p in _NUMBERS.findall(str(shape.get("points") or ""))]
    xs, ys = points[0::2], points[1::2]
    if len(xs) < 3 or len(ys) < 3:
        return None
    return _Box(min(xs), min(ys), max(xs), max(ys))


def _translation(tag: Tag) -> tuple[float, float]:
    """The sum of the `translate(…)`s of `tag` and the groups around it (other transforms, a
    rotated label say, are rare and left out: the anchor is then only roughly right)."""
    dx = dy = 0.0
    node: Tag | None = tag
    while node is not None and (node.name or "").lower() != "svg":
        transform = node.get("transform")
        if isinstance(transform, str):
            for match in _TRANSLATE.finditer(transform):
                dx += _length(match.group(1), _DEFAULT_FONT_SIZE) or 0.0
                dy += _length(match.group(2), _DEFAULT_FONT_SIZE) or 0.0
        node = node.parent
    return dx, dy


def _length(value: object, font_size: float) -> float | None:
    """A coordinate in user units; None when absent or not a plain number (percentages, lists
    of per-glyph positions take their first number)."""
    if not isinstance(value, str):
        return None
    first = value.strip().replace(",", " ").split(" ")[0]
    match = _NUMBER.match(first)
    if match is None:
        return None
    number = float(match.group(1))
    return number * font_size if (match.group(2) or "").lower() == "em" else number


def _font_size(tag: Tag) -> float:
    value = _inherited(tag, "font-size")
    size = _length(value, _DEFAULT_FONT_SIZE) if value else None
    return size if size and size > 0 else _DEFAULT_FONT_SIZE


def _inherited(tag: Tag, attribute: str) -> str | None:
    """`attribute` of `tag` or the nearest element around it that sets it (as an attribute or in
    an inline style)."""
    node: Tag | None = tag
    while node is not None and (node.name or "").lower() != "svg":
        style = node.get("style")
        if isinstance(style, str):
            for match in _STYLE_PROPERTY.finditer(style):
                if match.group(1).lower() == attribute:
                    return match.group(2).strip().lower()
        value = node.get(attribute)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
        node = node.parent
    return None


def _inherited_classes(tag: Tag) -> list[str]:
    node: Tag | None = tag
    while node is not None and (node.name or "").lower() != "svg":
        classes = node.get("class")
        if classes:
            return list(classes)
        node = node.parent
    return []


# -- a chart flattened to text -----------------------------------------------------------------

_ARROWS = ("→", "->", "=>", "⇒", "⟶", "➔", "➜")
_ARROW = re.compile(rf"\s+(?:{'|'.join(_ARROWS)})\s+")
_ITEM_NUMBER = re.compile(r"(?:^|(?<=\s))(\d{1,2})[.)]\s+")
_ITEM_HINT = re.compile(r"\d[.)]\s")  # in every match of `_ITEM_NUMBER`; found at C speed
_LEADING_BULLET = re.compile(r"^[-•*]\s+")
_INNER_BULLET = re.compile(r"\s+[-•*]\s+")
_SHORT_STEP_WORDS = 8  # an arrow chain's steps are labels; longer runs hold arrows of their own


def _without_arrows(step: str) -> str:
    """`step` without the arrows at its ends: one there points at the step before or after it
    ("1. Map → 2. Plan" cut before each number, a label drawn as "→ Output"), which the list of
    steps shows already. A step that is only arrows stays as it is. Scanned by index, not by a
    regex, so a hostile run of arrows costs linear time."""
    start, end = 0, len(step)
    while True:
        while start < end and step[start].isspace():
            start += 1
        arrow = next((a for a in _ARROWS if step.startswith(a, start, end)), None)
        if arrow is None:
            break
        start += len(arrow)
    while True:
        while end > start and step[end - 1].isspace():
            end -= 1
        arrow = next((a for a in _ARROWS if step.endswith(a, start, end)), None)
        if arrow is None:
            break
        end -= len(arrow)
    return step[start:end] or step


def text_steps(line: str) -> list[str]:
    """The steps of a flow chart flattened to one line of text, where the text itself marks
    them: an arrow chain of short labels ("Encode -> Cluster -> Score"), items numbered 1, 2, 3…
    in order (what precedes item 1, often the chart's title, stays a step of its own), or a line
    of bullets ("- Encode - Cluster"). Anything else is one step, as written: an arrow inside a
    longer run ("root -> leaves") relates two labels, not the chart's steps. No step begins or
    ends with an arrow."""
    return [_without_arrows(step) for step in _marked_steps(collapse_whitespace(line))]


def _marked_steps(line: str) -> list[str]:
    # Each split below is tried only on a line holding what it needs (an arrow; a digit, then
    # "." or ")" and a space): the regexes are tried at every position, the tests are cheap.
    if any(map(line.__contains__, _ARROWS)):
        parts = _ARROW.split(line)
        if len(parts) > 1 and all(0 < len(p.split()) <= _SHORT_STEP_WORDS for p in parts):
            return parts
    hinted = ("." in line or ")" in line) and _ITEM_HINT.search(line)  # `in` first: C speed
    numbered = _numbered_items(line) if hinted else []
    if numbered:
        return numbered
    if _LEADING_BULLET.match(line):
        items = [p for p in _INNER_BULLET.split(_LEADING_BULLET.sub("", line)) if p]
        if len(items) > 1:
            return items
    return [line] if line else []


def _numbered_items(line: str) -> list[str]:
    """`line` split before items "1." (or "1)"), "2.", "3."… met in that order; [] unless
    there are at least two."""
    cuts: list[re.Match[str]] = []
    for match in _ITEM_NUMBER.finditer(line):
        if int(match.group(1)) == len(cuts) + 1:
            cuts.append(match)
    if len(cuts) < 2:
        return []
    items = [line[: cuts[0].start()].strip()]
    for cut, following in zip(cuts, [*cuts[1:], None], strict=True):
        items.append(line[cut.end() : following.start() if following else len(line)].strip())
    return [item for item in items if item]
