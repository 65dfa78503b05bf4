"""A pause of Python's cyclic garbage collector around steps that make many objects and no cycles.

Reading a deck's state or the last build's notes makes hundreds of thousands of small objects
(dicts, lists, tuples, notes) that refcounting alone frees. Each time the collector's counters
fill up it traverses every object it tracks, and the oldest generation grows with every note
read: on a 37,000-note archive the collections took about a tenth of a build that adds one
digest. Within a pause nothing is collected. On leaving it, what was made in it joins the oldest
generation directly (`gc.freeze` then `gc.unfreeze`), so the first collection afterwards does
not traverse it all at once either: it is looked at only by a full collection, as objects that
survived long are. Cyclic garbage made in a pause stays until such a collection.

Not for steps that make cycles in number (parsing HTML: every BeautifulSoup tree is one) or
that fork workers (they would inherit the pause). Not within `workers.fork_iter`'s own pause,
whose frozen objects this would unfreeze.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection within the block; a caller's pause is left as it is."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # every tracked object into the permanent generation (young counts reset)
        gc.unfreeze()  # and back into the oldest one
        if collecting:
            gc.enable()
