"""Deterministic id allocation.

Every kind of object has its own counter, and an id is the kind's base number plus the counter
(the first object of a kind gets base + 1). Nothing random or time-based enters an id, so two
sandboxes built with the same arguments and sent the same requests in the same order hand out the
same ids. The bases give 9-10 digit numbers like those of real Schoology tenants.
"""

from __future__ import annotations

import hashlib
import threading

# Kind -> base. Schools and buildings share one counter because the API addresses both through
# `schools/{id}`: the district school is 2908525001, then the buildings in constructor order.
ID_BASES: dict[str, int] = {
    "school": 2_908_525_000,
    "role": 796_381_000,
    "user": 3_100_000_000,
    "course": 2_941_242_000,
    "section": 2_942_191_000,
    "enrollment": 2_385_759_000,
    "grading_period": 822_639_000,
    # Assignments, discussions and assessments share one counter because grades refer to all
    # of them as `assignment_id`.
    "grade_item": 2_942_237_000,
    "grading_category": 38_619_000,
    "grading_scale": 96_033_000,
}


class IdAllocator:
    """Per-kind counters that turn into ids by adding the kind's base from ID_BASES."""

    def __init__(self, bases: dict[str, int] | None = None) -> None:
        self._bases = dict(bases or ID_BASES)
        self._counters = {kind: 0 for kind in self._bases}
        self._lock = threading.Lock()

    def allocate(self, kind: str) -> int:
        with self._lock:
            self._counters[kind] += 1
            return self._bases[kind] + self._counters[kind]


_ACCESS_CODE_ALPHABET = "23456789BCDFGHJKMNPQRSTVWXZ"


def access_code_for(section_id: int) -> str:
    """Derive a section access code in Schoology's `XXXXX-XXXXX` form from the section id."""
    digest = hashlib.sha256(str(section_id).encode()).digest()
    letters = [_ACCESS_CODE_ALPHABET[byte % len(_ACCESS_CODE_ALPHABET)] for byte in digest[:10]]
    return "".join(letters[:5]) + "-" + "".join(letters[5:])
