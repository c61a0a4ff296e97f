"""Marking periods (OneRoster grading periods) derived under the terms of a district."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from esp_pipeline.sandbox.districts.model import AcademicSession, District

# A term longer than this counts as full-year and gets twice the semester's marking periods.
FULL_YEAR_MIN_DAYS = 200


def derive_grading_periods(district: District, per_semester: int) -> list[AcademicSession]:
    """Split every term of `district` into `per_semester` marking periods of equal length.

    A term longer than FULL_YEAR_MIN_DAYS gets `2 * per_semester`. Titles are eSchool-style
    marking-period numbers counted from the start of the school year ("1".."4"), so the periods
    of a spring semester follow those of the autumn one. The id is the term id plus the title
    (`10-2026-S2-3`), so existing term ids stay as they are. Returns nothing when the district
    already has grading periods or `per_semester` is 0.
    """
    if per_semester <= 0 or any(s.type == "gradingPeriod" for s in district.sessions):
        return []
    terms_by_year: dict[tuple[str, str], list[AcademicSession]] = defaultdict(list)
    for session in district.sessions:
        if session.type == "term":
            terms_by_year[(session.school_id, session.parent_id or session.school_year)].append(session)

    periods = []
    for terms in terms_by_year.values():
        for term in sorted(terms, key=lambda t: (t.start_date, t.sourced_id)):
            earlier = [
                other for other in terms if other.end_date < term.start_date and other is not term
            ]
            first_number = 1 + sum(_period_count(other, per_semester) for other in earlier)
            periods.extend(_split_term(term, _period_count(term, per_semester), first_number))
    return periods


def _period_count(term: AcademicSession, per_semester: int) -> int:
    days = (term.end_date - term.start_date).days
    return per_semester * 2 if days > FULL_YEAR_MIN_DAYS else per_semester


def _split_term(term: AcademicSession, count: int, first_number: int) -> list[AcademicSession]:
    total_days = (term.end_date - term.start_date).days + 1
    periods = []
    start = term.start_date
    for index in range(count):
        # The last period ends on the term's last day, so rounding never leaves a gap.
        if index == count - 1:
            end = term.end_date
        else:
            end = term.start_date + dt.timedelta(days=total_days * (index + 1) // count - 1)
        title = str(first_number + index)
        periods.append(
            AcademicSession(
                sourced_id=f"{term.sourced_id}-{title}",
                title=title,
                type="gradingPeriod",
                start_date=start,
                end_date=end,
                school_year=term.school_year,
                school_id=term.school_id,
                parent_id=term.sourced_id,
                date_last_modified=term.date_last_modified,
            )
        )
        start = end + dt.timedelta(days=1)
    return periods
