"""The gradebook that OneRoster write-back fills: categories, lineItems and results.

The rules follow the eSchoolPLUS tables behind the PLUS360 gradebook endpoints. A lineItem is
an assignment (MR_GB_ASMT) whose category must be set up for its section. A result is the score
row of one student on one assignment (MR_GB_STU_SCORE), keyed by (assignment, student), so a
lineItem has at most one result per student. The vendor's sourcedIds are stored in varchar(64)
columns. Validation failures raise ApiError with the HTTP status the routes return.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass

from esp_pipeline.sandbox.districts.model import UTC, Record, SchoolClass

from .config import ESchoolPlusConfig
from .errors import ApiError
from .filters import FilterError, parse_timestamp
from .resources import GUIDREF_SUBFIELDS, Resource, _common, org_ref, ref, session_ref, user_ref
from .store import RosterStore

# OneRoster 1.1 scoreStatus vocabulary; the values contain spaces, not underscores.
SCORE_STATUSES = ("exempt", "fully graded", "not submitted", "partially graded", "submitted")
# Width of the eSchool assignment DESCRIPTION column that a lineItem title lands in.
MAX_TITLE_LENGTH = 255

# District gradebook category codes (MRTB_GB_CATEGORY) and their descriptions.
CATEGORY_TITLES = {
    "HW": "Homework",
    "CW": "Classwork",
    "QZ": "Quiz",
    "TST": "Test",
    "PRJ": "Project",
    "LAB": "Lab",
}
# Categories every section uses; LAB is set up only for science sections.
CORE_CATEGORIES = ("HW", "CW", "QZ", "TST", "PRJ")
_SCIENCE_TITLE = re.compile(r"\bscience\b|chemistry|physics|biology|living environment", re.I)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(kw_only=True, slots=True)
class Category(Record):
    """A gradebook category code such as HW or TST."""

    title: str


@dataclass(kw_only=True, slots=True)
class LineItem(Record):
    """An assignment in one section; scores of `result_value_max` are full marks."""

    title: str
    description: str
    assign_date: dt.datetime
    due_date: dt.datetime
    class_id: str
    school_id: str
    category_id: str
    grading_period_id: str | None
    result_value_min: float
    result_value_max: float


@dataclass(kw_only=True, slots=True)
class Result(Record):
    """One student's score on one lineItem."""

    line_item_id: str
    student_id: str
    score_status: str
    score: float
    score_date: dt.datetime
    comment: str


CATEGORY = Resource(
    collection="categories",
    singular="category",
    fields=_common({"title": lambda r, s: r.title}),
    value_types={"dateLastModified": "datetime"},
    subfields={},
)

LINE_ITEM = Resource(
    collection="lineItems",
    singular="lineItem",
    fields=_common(
        {
            "title": lambda r, s: r.title,
            "description": lambda r, s: r.description,
            "assignDate": lambda r, s: r.assign_date,
            "dueDate": lambda r, s: r.due_date,
            "class": lambda r, s: ref("classes", "class", r.class_id),
            "school": lambda r, s: org_ref(r.school_id),
            "category": lambda r, s: ref("categories", "category", r.category_id),
            "gradingPeriod": lambda r, s: session_ref(r.grading_period_id),
            "resultValueMin": lambda r, s: r.result_value_min,
            "resultValueMax": lambda r, s: r.result_value_max,
        }
    ),
    value_types={"dateLastModified": "datetime", "assignDate": "datetime", "dueDate": "datetime"},
    subfields={
        "class": GUIDREF_SUBFIELDS,
        "school": GUIDREF_SUBFIELDS,
        "category": GUIDREF_SUBFIELDS,
        "gradingPeriod": GUIDREF_SUBFIELDS,
    },
)

RESULT = Resource(
    collection="results",
    singular="result",
    fields=_common(
        {
            "lineItem": lambda r, s: ref("lineItems", "lineItem", r.line_item_id),
            "student": lambda r, s: user_ref(r.student_id, s),
            "scoreStatus": lambda r, s: r.score_status,
            "score": lambda r, s: r.score,
            "scoreDate": lambda r, s: r.score_date,
            "comment": lambda r, s: r.comment,
        }
    ),
    value_types={"dateLastModified": "datetime", "scoreDate": "datetime"},
    subfields={"lineItem": GUIDREF_SUBFIELDS, "student": GUIDREF_SUBFIELDS},
)


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_data", message)


def _text(body: dict, name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _invalid(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string, got {type(value).__name__}")
    return value


def _guid_ref_id(body: dict, name: str, required: bool) -> str | None:
    """Return the sourcedId of the GUIDRef `body[name]`."""
    value = body.get(name)
    if value is None:
        if required:
            raise _invalid(f"{name} is required (a GUIDRef with a sourcedId)")
        return None
    sourced_id = value.get("sourcedId") if isinstance(value, dict) else None
    if not isinstance(sourced_id, str) or not sourced_id.strip():
        raise _invalid(f"{name} must be a GUIDRef object with a non-empty sourcedId, got {value!r}")
    return sourced_id


def _timestamp(body: dict, name: str, required: bool) -> dt.datetime | None:
    text = _text(body, name, required)
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except FilterError:
        raise _invalid(f"{name} must be an ISO-8601 date or date-time, got {text!r}") from None


def _number(body: dict, name: str, required: bool) -> float | int | None:
    """Read a number; numeric strings ("100") are accepted, as some clients send them."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _invalid(f"{name} is required")
        return None
    if isinstance(value, bool):
        raise _invalid(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise _invalid(f"{name} must be a finite number, got {value!r}")
    return int(number) if number.is_integer() else number


def _format_day(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


class Gradebook:
    """The sandbox's gradebook tables and the write rules a PLUS360 server applies to them.

    Shares the roster store's lock. `line_items()`, `results()` and `categories()` return
    snapshots for tests; the PUT, POST and DELETE routes call `put_line_item`, `put_result`,
    `post_line_items`, `post_results` and the delete methods.
    """

    def __init__(self, store: RosterStore, config: ESchoolPlusConfig) -> None:
        self.store = store
        self.config = config
        self.lock = store.lock
        self.category_table: dict[str, Category] = {}
        self.school_categories: dict[str, set[str]] = {}
        self.class_categories: dict[str, set[str]] = {}
        self.line_item_table: dict[str, LineItem] = {}
        self.result_table: dict[str, Result] = {}
        self.result_by_pair: dict[tuple[str, str], str] = {}
        # Ids that POST handed out when allocate_sourced_ids is on: (kind, supplied) -> allocated.
        self.allocated_ids: dict[tuple[str, str], str] = {}
        self._seed_categories()

    # --- inspection helpers for tests --------------------------------------------------------

    def categories(self, class_id: str | None = None) -> list[Category]:
        """Return the categories, or those set up for one class, sorted by sourcedId."""
        with self.lock:
            ids = self.category_table if class_id is None else self.class_categories.get(class_id, ())
            return [self.category_table[i] for i in sorted(ids)]

    def line_items(self, class_id: str | None = None) -> list[LineItem]:
        """Return the lineItems, or those of one class, sorted by sourcedId."""
        with self.lock:
            items = sorted(self.line_item_table.values(), key=lambda item: item.sourced_id)
            return [item for item in items if class_id is None or item.class_id == class_id]

    def results(
        self, line_item_id: str | None = None, student_id: str | None = None
    ) -> list[Result]:
        """Return the results, optionally those of one lineItem and/or student."""
        with self.lock:
            results = sorted(self.result_table.values(), key=lambda r: r.sourced_id)
            return [
                r
                for r in results
                if (line_item_id is None or r.line_item_id == line_item_id)
                and (student_id is None or r.student_id == student_id)
            ]

    def enable_category(self, class_id: str, category_id: str, title: str | None = None) -> None:
        """Set up a category for a class, creating the district category when it is new."""
        with self.lock:
            school_class = self.store.classes[class_id]
            if category_id not in self.category_table:
                self.category_table[category_id] = Category(
                    sourced_id=category_id,
                    title=title or category_id,
                    date_last_modified=self.store._next_timestamp(_EPOCH),
                )
            self.school_categories.setdefault(school_class.school_id, set()).add(category_id)
            self.class_categories.setdefault(class_id, set()).add(category_id)

    def _seed_categories(self) -> None:
        stamp = self.store.district.loaded_at
        for code, title in CATEGORY_TITLES.items():
            self.category_table[code] = Category(sourced_id=code, title=title, date_last_modified=stamp)
        for class_id, school_class in self.store.classes.items():
            codes = set(CORE_CATEGORIES)
            if self._is_science(school_class):
                codes.add("LAB")
            self.class_categories[class_id] = codes
            self.school_categories.setdefault(school_class.school_id, set()).update(codes)

    def _is_science(self, school_class: SchoolClass) -> bool:
        course = self.store.courses.get(school_class.course_id)
        titles = [school_class.title, course.title if course else ""]
        return any(_SCIENCE_TITLE.search(title) for title in titles)

    # --- lineItems ---------------------------------------------------------------------------

    def put_line_item(self, sourced_id: str, body: dict) -> tuple[LineItem, bool]:
        """Create or replace a lineItem; return it and whether it was created."""
        with self.lock:
            item = self.build_line_item(sourced_id, body)
            created = sourced_id not in self.line_item_table
            self.line_item_table[sourced_id] = item
            return item, created

    def build_line_item(
        self,
        sourced_id: str,
        body: dict,
        *,
        class_id: str | None = None,
        school_id: str | None = None,
    ) -> LineItem:
        """Validate `body` as lineItem `sourced_id` and return the record, storing nothing.

        `class_id` or `school_id` come from the path of a POST collection; a body that names a
        different class or school is rejected.
        """
        self._check_sourced_id(sourced_id, body)
        title = _text(body, "title", required=True)
        if len(title) > MAX_TITLE_LENGTH:
            if self.config.long_title == "reject":
                raise _invalid(
                    f"title is {len(title)} characters; the maximum is {MAX_TITLE_LENGTH}"
                )
            title = title[:MAX_TITLE_LENGTH]
        description = _text(body, "description", required=False) or ""

        body_class_id = _guid_ref_id(body, "class", required=class_id is None)
        if class_id is not None and body_class_id not in (None, class_id):
            raise _invalid(f"class {body_class_id} does not match class {class_id} in the path")
        class_id = class_id or body_class_id
        school_class = self.store.classes.get(class_id)
        if school_class is None:
            raise _invalid(f"class {class_id} not found")
        if school_class.status != "active":
            raise _invalid(f"class {class_id} is {school_class.status}")
        body_school_id = _guid_ref_id(body, "school", required=False)
        for named in (body_school_id, school_id):
            if named is not None and named != school_class.school_id:
                raise _invalid(
                    f"class {class_id} belongs to school {school_class.school_id}, not {named}"
                )

        category_id = _guid_ref_id(body, "category", required=True)
        if category_id not in self.category_table:
            raise _invalid(f"category {category_id} not found")
        if category_id not in self.class_categories.get(class_id, set()):
            raise _invalid(f"category {category_id} is not set up for class {class_id}")

        grading_period_id = _guid_ref_id(
            body, "gradingPeriod", required=self.config.require_grading_period
        )
        if grading_period_id is not None:
            self._check_grading_period(grading_period_id, school_class)

        assign_date = _timestamp(body, "assignDate", required=True)
        due_date = _timestamp(body, "dueDate", required=True)
        if due_date < assign_date:
            raise _invalid(
                f"dueDate {body['dueDate']} is before assignDate {body['assignDate']}"
            )
        if self.config.check_line_item_dates:
            self._check_dates(assign_date, due_date, grading_period_id, school_class)

        minimum = _number(body, "resultValueMin", required=False)
        minimum = 0 if minimum is None else minimum
        maximum = _number(body, "resultValueMax", required=True)
        if maximum <= minimum:
            raise _invalid(
                f"resultValueMax ({maximum}) must be greater than resultValueMin ({minimum})"
            )

        existing = self.line_item_table.get(sourced_id)
        if existing is not None and existing.class_id != class_id and self.results(sourced_id):
            raise ApiError(
                409,
                "invalid_data",
                f"lineItem {sourced_id} has results in class {existing.class_id}; "
                "delete them before moving it to another class",
            )
        previous = existing.date_last_modified if existing else _EPOCH
        return LineItem(
            sourced_id=sourced_id,
            title=title,
            description=description,
            assign_date=assign_date,
            due_date=due_date,
            class_id=class_id,
            school_id=school_class.school_id,
            category_id=category_id,
            grading_period_id=grading_period_id,
            result_value_min=minimum,
            result_value_max=maximum,
            date_last_modified=self.store._next_timestamp(previous),
        )

    def _check_grading_period(self, session_id: str, school_class: SchoolClass) -> None:
        session = self.store.sessions.get(session_id)
        if session is None or session.type not in ("gradingPeriod", "term"):
            raise _invalid(f"gradingPeriod {session_id} not found")
        term_id = session.parent_id if session.type == "gradingPeriod" else session.sourced_id
        if term_id not in school_class.term_ids:
            raise _invalid(
                f"gradingPeriod {session_id} is not a marking period of class "
                f"{school_class.sourced_id} (terms {', '.join(school_class.term_ids)})"
            )

    def _check_dates(
        self,
        assign_date: dt.datetime,
        due_date: dt.datetime,
        grading_period_id: str | None,
        school_class: SchoolClass,
    ) -> None:
        if grading_period_id is not None:
            windows = [self.store.sessions[grading_period_id]]
            label = f"grading period {grading_period_id}"
        else:
            windows = [self.store.sessions[t] for t in school_class.term_ids if t in self.store.sessions]
            label = f"the terms of class {school_class.sourced_id}"
        for name, moment in (("assignDate", assign_date), ("dueDate", due_date)):
            day = moment.astimezone(UTC).date()
            if not any(w.start_date <= day <= w.end_date for w in windows):
                spans = ", ".join(f"{w.start_date}..{w.end_date}" for w in windows)
                raise _invalid(f"{name} {_format_day(moment)} is outside {label} ({spans})")

    def delete_line_item(self, sourced_id: str) -> None:
        """Delete a lineItem and its results; raise ApiError 404 for an unknown id."""
        with self.lock:
            if sourced_id not in self.line_item_table:
                raise ApiError(404, "unknownobject", f"lineItems {sourced_id} not found")
            del self.line_item_table[sourced_id]
            for result in self.results(sourced_id):
                self._remove_result(result.sourced_id)

    # --- results -----------------------------------------------------------------------------

    def put_result(self, sourced_id: str, body: dict) -> tuple[Result, bool]:
        """Create or replace a result; return it and whether it was created."""
        with self.lock:
            result = self.build_result(sourced_id, body)
            created = sourced_id not in self.result_table
            self._store_result(result)
            return result, created

    def build_result(
        self, sourced_id: str, body: dict, *, line_item_id: str | None = None
    ) -> Result:
        """Validate `body` as result `sourced_id` and return the record, storing nothing.

        `line_item_id` comes from the path of a POST collection.
        """
        self._check_sourced_id(sourced_id, body)
        body_line_item_id = _guid_ref_id(body, "lineItem", required=line_item_id is None)
        if line_item_id is not None and body_line_item_id not in (None, line_item_id):
            raise _invalid(
                f"lineItem {body_line_item_id} does not match lineItem {line_item_id} in the path"
            )
        line_item_id = line_item_id or body_line_item_id
        line_item = self.line_item_table.get(line_item_id)
        if line_item is None:
            raise _invalid(f"lineItem {line_item_id} not found")

        student_id = self.store.strip_user_id(_guid_ref_id(body, "student", required=True))
        student = self.store.users.get(student_id)
        if student is None or student.role != "student":
            raise _invalid(f"student {student_id} not found")
        if not self.store.is_active_student(line_item.class_id, student_id):
            raise _invalid(
                f"student {student_id} is not actively enrolled in class {line_item.class_id}"
            )

        score_status = _text(body, "scoreStatus", required=True)
        if score_status not in SCORE_STATUSES:
            hint = ""
            if score_status.replace("_", " ").lower() in SCORE_STATUSES:
                hint = " (the values use spaces, e.g. 'fully graded')"
            raise _invalid(
                f"scoreStatus {score_status!r} is not one of {', '.join(SCORE_STATUSES)}{hint}"
            )
        score = _number(body, "score", required=True)
        if score < line_item.result_value_min:
            raise _invalid(
                f"score {score} is below resultValueMin {line_item.result_value_min} "
                f"of lineItem {line_item_id}"
            )
        if self.config.reject_score_above_max and score > line_item.result_value_max:
            raise _invalid(
                f"score {score} is above resultValueMax {line_item.result_value_max} "
                f"of lineItem {line_item_id}"
            )
        score_date = _timestamp(body, "scoreDate", required=True)
        comment = _text(body, "comment", required=False) or ""

        holder = self.result_by_pair.get((line_item_id, student_id))
        if holder is not None and holder != sourced_id and self.config.duplicate_result == "reject":
            raise ApiError(
                409,
                "invalid_data",
                f"student {student_id} already has result {holder} for lineItem {line_item_id}; "
                "eSchoolPLUS keeps one result per student and lineItem",
            )
        existing = self.result_table.get(sourced_id)
        previous = existing.date_last_modified if existing else _EPOCH
        return Result(
            sourced_id=sourced_id,
            line_item_id=line_item_id,
            student_id=student_id,
            score_status=score_status,
            score=score,
            score_date=score_date,
            comment=comment,
            date_last_modified=self.store._next_timestamp(previous),
        )

    def _store_result(self, result: Result) -> None:
        """Store a validated result, replacing any other result for the same pair."""
        pair = (result.line_item_id, result.student_id)
        holder = self.result_by_pair.get(pair)
        if holder is not None and holder != result.sourced_id:
            self._remove_result(holder)
        if result.sourced_id in self.result_table:
            self._remove_result(result.sourced_id)
        self.result_table[result.sourced_id] = result
        self.result_by_pair[pair] = result.sourced_id

    def _remove_result(self, sourced_id: str) -> None:
        result = self.result_table.pop(sourced_id)
        pair = (result.line_item_id, result.student_id)
        if self.result_by_pair.get(pair) == sourced_id:
            del self.result_by_pair[pair]

    def delete_result(self, sourced_id: str) -> None:
        """Delete a result; raise ApiError 404 for an unknown id."""
        with self.lock:
            if sourced_id not in self.result_table:
                raise ApiError(404, "unknownobject", f"results {sourced_id} not found")
            self._remove_result(sourced_id)

    # --- OneRoster 1.2 POST collections ------------------------------------------------------

    def post_line_items(
        self, bodies: list, *, class_id: str | None = None, school_id: str | None = None
    ) -> list[dict]:
        """Create or update every lineItem in `bodies`, or none when one is invalid.

        Returns the sourcedIdPairs. Raises ApiError 422 listing each invalid item.
        """
        with self.lock:
            items = self._build_batch(
                "lineItem",
                bodies,
                lambda sourced_id, body: self.build_line_item(
                    sourced_id, body, class_id=class_id, school_id=school_id
                ),
            )
            for _, item in items:
                self.line_item_table[item.sourced_id] = item
            return [{"suppliedSourcedId": s, "allocatedSourcedId": i.sourced_id} for s, i in items]

    def post_results(self, line_item_id: str, bodies: list) -> list[dict]:
        """Create or update every result in `bodies` for one lineItem, or none when one is
        invalid. Returns the sourcedIdPairs; raises ApiError 409 or 422 naming each problem."""
        with self.lock:
            results = self._build_batch(
                "result",
                bodies,
                lambda sourced_id, body: self.build_result(
                    sourced_id, body, line_item_id=line_item_id
                ),
            )
            seen: dict[str, str] = {}
            for supplied, result in results:
                earlier = seen.get(result.student_id)
                if earlier is not None and self.config.duplicate_result == "reject":
                    raise ApiError(
                        409,
                        "invalid_data",
                        f"results {earlier} and {supplied} are both for student "
                        f"{result.student_id}; eSchoolPLUS keeps one result per student and "
                        "lineItem",
                    )
                seen[result.student_id] = supplied
            for _, result in results:
                self._store_result(result)
            return [
                {"suppliedSourcedId": s, "allocatedSourcedId": r.sourced_id} for s, r in results
            ]

    def _build_batch(self, kind: str, bodies: list, build) -> list[tuple[str, Record]]:
        """Validate each body of a POST collection; return (supplied id, record) pairs."""
        if not isinstance(bodies, list) or not bodies:
            raise ApiError(400, "invalid_data", f"{kind}s must be a non-empty array")
        built = []
        problems = []
        supplied_ids = set()
        for index, body in enumerate(bodies):
            label = f"{kind}s[{index}]"
            if not isinstance(body, dict):
                problems.append(f"{label}: must be an object")
                continue
            supplied = body.get("sourcedId")
            if not isinstance(supplied, str) or not supplied.strip():
                problems.append(f"{label}: sourcedId is required")
                continue
            if supplied in supplied_ids:
                problems.append(f"{label}: sourcedId {supplied} appears twice in the request")
                continue
            supplied_ids.add(supplied)
            sourced_id = self._allocate(kind, supplied)
            try:
                record = build(sourced_id, {**body, "sourcedId": sourced_id})
            except ApiError as error:
                if error.status != 422:
                    raise
                problems.append(f"{label} ({supplied}): {error.description}")
                continue
            built.append((supplied, record))
        if problems:
            raise ApiError(422, "invalid_data", problems[0], details=problems[1:])
        for supplied, record in built:
            if record.sourced_id != supplied:
                self.allocated_ids[(kind, supplied)] = record.sourced_id
        return built

    def _allocate(self, kind: str, supplied: str) -> str:
        if not self.config.allocate_sourced_ids:
            return supplied
        allocated = self.allocated_ids.get((kind, supplied))
        return allocated or f"esp-{kind.lower()}-{uuid.uuid4()}"

    # --- shared checks -----------------------------------------------------------------------

    def _check_sourced_id(self, sourced_id: str, body: dict) -> None:
        limit = self.config.max_sourced_id_length
        if not sourced_id.strip():
            raise _invalid("sourcedId must not be blank")
        if len(sourced_id) > limit:
            raise _invalid(
                f"sourcedId is {len(sourced_id)} characters; the maximum is {limit}"
            )
        named = body.get("sourcedId")
        if named is not None and named != sourced_id:
            raise _invalid(f"sourcedId {named!r} in the body does not match {sourced_id!r} in the path")


__all__ = [
    "CATEGORY",
    "CATEGORY_TITLES",
    "Category",
    "Gradebook",
    "LINE_ITEM",
    "LineItem",
    "RESULT",
    "Result",
    "SCORE_STATUSES",
]
