"""Day-by-day change scripts: dated roster changes applied to a District in order.

A script is a list of Change records (one dataclass per kind), stored as JSON or YAML with one
mapping per change: `date`, `kind` and the fields of that kind. `apply_changes` replays the
changes dated within a window and moves the dateLastModified of every record it touches, so a
OneRoster `dateLastModified>` filter finds them. `generate_change_script` writes a realistic
script of school-day churn from a seed, and `apply_changes_to_sandbox` replays one into a
running eSchoolPLUS sandbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar


from .generator import FAMILY_NAMES, GIVEN_NAMES, _ascii_handle, _next_school_day
from .model import UTC, AcademicSession, District, Enrollment, Record, SchoolClass, User, school_year_for

log = logging.getLogger(__name__)

WITHDRAWN_STATUSES = ("tobedeleted", "inactive")


class ChangeError(ValueError):
    """A change does not fit the district's current state; the message names the change."""


@dataclass(frozen=True, kw_only=True)
class Change:
    """One dated roster change; `kind` names the subclass in script files."""

    kind: ClassVar[str] = ""
    date: dt.date


@dataclass(frozen=True, kw_only=True)
class AddStudent(Change):
    """A new student arrives at `school_id`; schedule them with EnrollStudent changes."""

    kind: ClassVar[str] = "add_student"
    student_id: str
    school_id: str
    grade: str
    given_name: str
    family_name: str
    username: str
    email: str = ""


@dataclass(frozen=True, kw_only=True)
class EnrollStudent(Change):
    """An active student joins a section from `date` (or from the section's first day, if later)."""

    kind: ClassVar[str] = "enroll"
    student_id: str
    class_id: str


@dataclass(frozen=True, kw_only=True)
class WithdrawStudent(Change):
    """A student leaves: the user and every active enrollment take `status` and end on `date`."""

    kind: ClassVar[str] = "withdraw"
    student_id: str
    status: str = "tobedeleted"


@dataclass(frozen=True, kw_only=True)
class ReenrollStudent(Change):
    """A withdrawn student returns: the user is active again and joins `class_ids` from `date`."""

    kind: ClassVar[str] = "reenroll"
    student_id: str
    class_ids: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ChangeSchedule(Change):
    """A student drops one section (its enrollment ends on `date`) and joins another."""

    kind: ClassVar[str] = "change_schedule"
    student_id: str
    drop_class_id: str
    add_class_id: str


@dataclass(frozen=True, kw_only=True)
class CorrectName(Change):
    """A name fix on any user; fields left None keep their value."""

    kind: ClassVar[str] = "correct_name"
    user_id: str
    given_name: str | None = None
    family_name: str | None = None
    middle_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddTerm(Change):
    """A new term at one school, under the school year `parent_id` when given."""

    kind: ClassVar[str] = "add_term"
    sourced_id: str
    school_id: str
    title: str
    start_date: dt.date
    end_date: dt.date
    parent_id: str | None = None


CHANGE_KINDS: dict[str, type[Change]] = {
    cls.kind: cls
    for cls in (AddStudent, EnrollStudent, WithdrawStudent, ReenrollStudent, ChangeSchedule,
                CorrectName, AddTerm)
}


# --- applying ---------------------------------------------------------------------------------


def apply_changes(
    district: District,
    changes: Iterable[Change],
    *,
    up_to: dt.date | None = None,
    after: dt.date | None = None,
    clock: Callable[[Change], dt.datetime] | None = None,
) -> list[Change]:
    """Apply the changes dated after `after` (exclusive) and up to `up_to` (inclusive), in order.

    Changes run in date order, and changes of one day run in script order. Each touched record
    gets a dateLastModified from `clock(change)`, at least 1 ms past its previous value. The
    default clock is 12:00 UTC on the change's date plus 1 ms per change already applied that
    day, so replaying a script gives the same district every time. `district.loaded_at` moves
    to the latest stamp. Raises ChangeError on the first change that does not fit the district;
    the changes before it stay applied. Returns the applied changes.
    """
    selected = [
        change for change in changes
        if (up_to is None or change.date <= up_to) and (after is None or change.date > after)
    ]
    selected.sort(key=lambda change: change.date)
    applier = _Applier(district)
    per_day: dict[dt.date, int] = {}
    for position, change in enumerate(selected):
        if clock is None:
            count = per_day.get(change.date, 0)
            per_day[change.date] = count + 1
            stamp = dt.datetime.combine(change.date, dt.time(12), tzinfo=UTC)
            stamp += dt.timedelta(milliseconds=count)
        else:
            stamp = clock(change)
        handler = getattr(applier, f"_{change.kind}")
        try:
            handler(change, stamp)
        except ChangeError as err:
            raise ChangeError(f"change {position} ({change.kind} on {change.date}): {err}") from None
    if selected:
        log.info("applied %d change(s) from %s to %s", len(selected), selected[0].date,
                 selected[-1].date)
    return selected


def wall_clock(change: Change) -> dt.datetime:
    """Return the current UTC time truncated to milliseconds, ignoring the change's date."""
    now = dt.datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def apply_changes_to_sandbox(
    sandbox,
    changes: Iterable[Change],
    *,
    up_to: dt.date | None = None,
    after: dt.date | None = None,
    clock: Callable[[Change], dt.datetime] | None = wall_clock,
) -> list[Change]:
    """Apply changes to the district a running ESchoolPLUSSandbox serves, then rebuild its indexes.

    Holds `sandbox.lock` throughout, so no request reads a half-applied change, and calls
    `sandbox.store.reindex()` even when a change fails. The default clock stamps records with
    the current time, so a client's `dateLastModified>` filter from its last sync finds them.
    Pass `clock=None` for the script-date stamps of apply_changes.
    """
    with sandbox.lock:
        try:
            return apply_changes(sandbox.district, changes, up_to=up_to, after=after, clock=clock)
        finally:
            sandbox.store.reindex()


class _Applier:
    """Lookup tables over one district, built once per apply_changes call (linear time)."""

    def __init__(self, district: District) -> None:
        self.district = district
        self.users = {user.sourced_id: user for user in district.users}
        self.classes = {school_class.sourced_id: school_class for school_class in district.classes}
        self.sessions = {session.sourced_id: session for session in district.sessions}
        self.schools = {school.sourced_id for school in district.schools}
        self.by_pair: dict[tuple[str, str], Enrollment] = {}
        self.by_user: dict[str, list[Enrollment]] = {}
        for enrollment in district.enrollments:
            self._index_enrollment(enrollment)

    def _index_enrollment(self, enrollment: Enrollment) -> None:
        pair = (enrollment.class_id, enrollment.user_id)
        previous = self.by_pair.get(pair)
        # A user may hold several enrollments in one class; the active one is the one to change.
        if previous is None or previous.status != "active":
            self.by_pair[pair] = enrollment
        self.by_user.setdefault(enrollment.user_id, []).append(enrollment)

    def _touch(self, record: Record, stamp: dt.datetime, *, new: bool = False) -> None:
        if new:
            record.date_last_modified = stamp
        else:
            previous = record.date_last_modified
            record.date_last_modified = max(stamp, previous + dt.timedelta(milliseconds=1))
        if record.date_last_modified > self.district.loaded_at:
            self.district.loaded_at = record.date_last_modified

    def _student(self, student_id: str) -> User:
        user = self.users.get(student_id)
        if user is None or user.role != "student":
            raise ChangeError(f"no student with sourcedId {student_id!r}")
        return user

    def _class(self, class_id: str) -> SchoolClass:
        school_class = self.classes.get(class_id)
        if school_class is None:
            raise ChangeError(f"no class with sourcedId {class_id!r}")
        return school_class

    def _span(self, school_class: SchoolClass) -> tuple[dt.date | None, dt.date | None]:
        terms = [self.sessions[t] for t in school_class.term_ids if t in self.sessions]
        if not terms:
            return None, None
        return min(t.start_date for t in terms), max(t.end_date for t in terms)

    def _join(self, user: User, school_class: SchoolClass, day: dt.date, stamp: dt.datetime) -> None:
        """Enroll `user` in `school_class` from `day`, reusing a dropped enrollment if one exists."""
        existing = self.by_pair.get((school_class.sourced_id, user.sourced_id))
        if existing is not None and existing.status == "active":
            raise ChangeError(
                f"user {user.sourced_id!r} is already enrolled in class {school_class.sourced_id!r}"
            )
        begin, end = self._span(school_class)
        begin = max(begin, day) if begin else day
        if end is not None and end < begin:
            raise ChangeError(f"class {school_class.sourced_id!r} ended on {end}, before {day}")
        if existing is not None:
            existing.status = "active"
            existing.begin_date = begin
            existing.end_date = end
            self._touch(existing, stamp)
        else:
            enrollment = Enrollment(
                sourced_id=f"{school_class.sourced_id}-{user.sourced_id}",
                role=user.role,
                primary=False,
                user_id=user.sourced_id,
                class_id=school_class.sourced_id,
                school_id=school_class.school_id,
                begin_date=begin,
                end_date=end,
                date_last_modified=stamp,
            )
            self.district.enrollments.append(enrollment)
            self._index_enrollment(enrollment)
            self._touch(enrollment, stamp, new=True)
        if school_class.school_id not in user.org_ids:
            user.org_ids.append(school_class.school_id)
            self._touch(user, stamp)

    def _end(self, enrollment: Enrollment, day: dt.date, status: str, stamp: dt.datetime) -> None:
        enrollment.status = status
        end = day
        if enrollment.end_date is not None and enrollment.end_date < end:
            end = enrollment.end_date
        if enrollment.begin_date is not None and end < enrollment.begin_date:
            # A section that had not started yet ends on its first day.
            end = enrollment.begin_date
        enrollment.end_date = end
        self._touch(enrollment, stamp)

    def _require_active(self, user: User) -> None:
        if user.status != "active":
            raise ChangeError(f"student {user.sourced_id!r} is {user.status}, not active")

    # One method per change kind, named after Change.kind.

    def _add_student(self, change: AddStudent, stamp: dt.datetime) -> None:
        if change.student_id in self.users:
            raise ChangeError(f"user {change.student_id!r} already exists")
        if change.school_id not in self.schools:
            raise ChangeError(f"no school with sourcedId {change.school_id!r}")
        user = User(
            sourced_id=change.student_id,
            role="student",
            username=change.username,
            given_name=change.given_name,
            family_name=change.family_name,
            identifier=change.student_id,
            email=change.email,
            grades=[change.grade],
            org_ids=[change.school_id],
            date_last_modified=stamp,
        )
        self.district.users.append(user)
        self.users[user.sourced_id] = user
        self._touch(user, stamp, new=True)

    def _enroll(self, change: EnrollStudent, stamp: dt.datetime) -> None:
        user = self._student(change.student_id)
        self._require_active(user)
        self._join(user, self._class(change.class_id), change.date, stamp)

    def _withdraw(self, change: WithdrawStudent, stamp: dt.datetime) -> None:
        if change.status not in WITHDRAWN_STATUSES:
            raise ChangeError(
                f"status must be one of {', '.join(WITHDRAWN_STATUSES)}, got {change.status!r}"
            )
        user = self._student(change.student_id)
        self._require_active(user)
        user.status = change.status
        user.enabled_user = False
        self._touch(user, stamp)
        for enrollment in self.by_user.get(user.sourced_id, []):
            if enrollment.status == "active":
                self._end(enrollment, change.date, change.status, stamp)

    def _reenroll(self, change: ReenrollStudent, stamp: dt.datetime) -> None:
        user = self._student(change.student_id)
        if user.status == "active":
            raise ChangeError(f"student {user.sourced_id!r} is active, not withdrawn")
        classes = [self._class(class_id) for class_id in change.class_ids]
        user.status = "active"
        user.enabled_user = True
        self._touch(user, stamp)
        for school_class in classes:
            self._join(user, school_class, change.date, stamp)

    def _change_schedule(self, change: ChangeSchedule, stamp: dt.datetime) -> None:
        user = self._student(change.student_id)
        self._require_active(user)
        dropped = self.by_pair.get((change.drop_class_id, user.sourced_id))
        if dropped is None or dropped.status != "active":
            raise ChangeError(
                f"student {user.sourced_id!r} has no active enrollment in class "
                f"{change.drop_class_id!r}"
            )
        added = self._class(change.add_class_id)
        self._end(dropped, change.date, "tobedeleted", stamp)
        self._join(user, added, change.date, stamp)

    def _correct_name(self, change: CorrectName, stamp: dt.datetime) -> None:
        user = self.users.get(change.user_id)
        if user is None:
            raise ChangeError(f"no user with sourcedId {change.user_id!r}")
        fixes = {
            name: value
            for name in ("given_name", "family_name", "middle_name")
            if (value := getattr(change, name)) is not None
        }
        if not fixes:
            raise ChangeError("correct_name sets none of given_name, family_name, middle_name")
        for name, value in fixes.items():
            setattr(user, name, value)
        self._touch(user, stamp)

    def _add_term(self, change: AddTerm, stamp: dt.datetime) -> None:
        if change.sourced_id in self.sessions:
            raise ChangeError(f"academic session {change.sourced_id!r} already exists")
        if change.school_id not in self.schools:
            raise ChangeError(f"no school with sourcedId {change.school_id!r}")
        if change.end_date < change.start_date:
            raise ChangeError(f"end_date {change.end_date} is before start_date {change.start_date}")
        school_year = str(school_year_for(change.start_date))
        if change.parent_id is not None:
            parent = self.sessions.get(change.parent_id)
            if parent is None:
                raise ChangeError(f"no academic session {change.parent_id!r} to be the parent")
            school_year = parent.school_year
        term = AcademicSession(
            sourced_id=change.sourced_id,
            title=change.title,
            type="term",
            start_date=change.start_date,
            end_date=change.end_date,
            school_year=school_year,
            school_id=change.school_id,
            parent_id=change.parent_id,
            date_last_modified=stamp,
        )
        self.district.sessions.append(term)
        self.sessions[term.sourced_id] = term
        self._touch(term, stamp, new=True)


# --- script files -----------------------------------------------------------------------------


def change_to_dict(change: Change) -> dict:
    """Return a change as the plain mapping script files hold (dates as ISO text)."""
    data: dict = {"date": change.date.isoformat(), "kind": change.kind}
    for item in dataclasses.fields(change):
        if item.name == "date":
            continue
        value = getattr(change, item.name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        data[item.name] = value
    return data


def change_from_dict(data: dict, where: str = "change") -> Change:
    """Build a Change from a script mapping; raise ChangeError naming `where` when it is invalid."""
    if not isinstance(data, dict):
        raise ChangeError(f"{where}: expected a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    cls = CHANGE_KINDS.get(kind)
    if cls is None:
        raise ChangeError(f"{where}: unknown kind {kind!r}; expected one of {', '.join(CHANGE_KINDS)}")
    fields = {item.name: item for item in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields) - {"kind"})
    if unknown:
        raise ChangeError(f"{where}: {kind} has no field(s) {', '.join(unknown)}")
    values = {}
    for name, item in fields.items():
        if name not in data:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise ChangeError(f"{where}: {kind} needs field {name!r}")
            continue
        value = data[name]
        if name in ("date", "start_date", "end_date"):
            value = _parse_date(value, f"{where}, field {name}")
        elif name == "class_ids":
            if not isinstance(value, list):
                raise ChangeError(f"{where}, field class_ids: expected a list of sourcedIds")
            value = tuple(str(item) for item in value)
        elif value is not None:
            value = str(value)
        values[name] = value
    return cls(**values)


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ChangeError(f"{where}: invalid date {value!r}; expected YYYY-MM-DD") from None


def _load_yaml(text: str, name: str) -> object:
    """Parse YAML with dates left as text, so an invalid date is reported with its change."""
    import yaml  # PyYAML comes with Dagster

    class ScriptLoader(yaml.SafeLoader):
        pass

    ScriptLoader.yaml_implicit_resolvers = {
        first: [item for item in resolvers if item[0] != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    try:
        return yaml.load(text, Loader=ScriptLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ChangeError(f"{name}: invalid YAML: {err}") from None


def dump_change_script(changes: Sequence[Change], path: str | Path) -> Path:
    """Write changes to `path` as JSON (.json) or YAML (.yaml, .yml), under a `changes` key."""
    target = Path(path)
    document = {"changes": [change_to_dict(change) for change in changes]}
    if target.suffix == ".json":
        target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    elif target.suffix in (".yaml", ".yml"):
        import yaml  # PyYAML comes with Dagster

        target.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    else:
        raise ValueError(f"{target}: unknown script format; use .json, .yaml or .yml")
    return target


def load_change_script(path: str | Path) -> list[Change]:
    """Read a change script written by dump_change_script or by hand (JSON or YAML)."""
    source = Path(path)
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as err:
            raise ChangeError(f"{source.name}: invalid JSON: {err}") from None
    elif source.suffix in (".yaml", ".yml"):
        document = _load_yaml(text, source.name)
    else:
        raise ValueError(f"{source}: unknown script format; use .json, .yaml or .yml")
    entries = document.get("changes") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise ChangeError(f"{source.name}: expected a list of changes under 'changes'")
    return [
        change_from_dict(entry, f"{source.name} change {index}")
        for index, entry in enumerate(entries)
    ]


# --- generating -------------------------------------------------------------------------------


@dataclass
class _ScriptState:
    """Per-student state that the script generator updates as it writes changes."""

    active_classes: dict[str, set[str]] = field(default_factory=dict)
    withdrawn: dict[str, list[str]] = field(default_factory=dict)
    school_of: dict[str, str] = field(default_factory=dict)
    grade_of: dict[str, str] = field(default_factory=dict)


def generate_change_script(
    district: District,
    *,
    seed: int = 0,
    start: dt.date | None = None,
    school_days: int = 20,
    schedule_change_rate: float = 0.004,
    withdrawal_rate: float = 0.0005,
    arrival_rate: float = 0.0005,
    name_correction_rate: float = 0.0003,
    reenroll_chance: float = 0.02,
    add_term: bool = True,
) -> list[Change]:
    """Write a script of `school_days` weekdays of churn, starting at `start` (default: first day).

    Rates are per active student per school day. Schedule changes run at 3x `schedule_change_rate`
    in the first five days (the add/drop window). A withdrawn student returns on a later day with
    probability `reenroll_chance` per day, to the sections held at withdrawal. Arrivals copy the
    schedule of a classmate in the same school and grade. With `add_term`, one school adds a
    second-quarter term halfway through. The district is read, never changed. The same district
    and arguments give the same script, and the script applies to that district without errors.
    """
    rng = random.Random(f"{seed}:changes")
    state = _script_state(district)
    first_day = min((s.start_date for s in district.terms), default=dt.date.today())
    day = _next_school_day(start or first_day)
    swaps = _swap_groups(district)
    class_swap_key = {class_id: key for key, ids in swaps.items() for class_id in ids}
    class_span = _class_spans(district)
    next_number = _next_student_number(district)
    changes: list[Change] = []
    students = sorted(state.active_classes)
    user_ids = [user.sourced_id for user in district.users]
    for index in range(school_days):
        active = [s for s in students if s not in state.withdrawn]
        rate = schedule_change_rate * (3 if index < 5 else 1)
        # Re-enrollments come first, so a student withdrawn today cannot return today.
        for student_id in sorted(state.withdrawn):
            if rng.random() < reenroll_chance:
                class_ids = [c for c in state.withdrawn.pop(student_id) if class_span[c][1] >= day]
                changes.append(ReenrollStudent(date=day, student_id=student_id,
                                               class_ids=tuple(sorted(class_ids))))
                state.active_classes[student_id] = set(class_ids)
        for student_id in _pick(rng, active, rate):
            change = _schedule_change(rng, state, student_id, day, swaps, class_swap_key, class_span)
            if change is not None:
                changes.append(change)
        for student_id in _pick(rng, active, withdrawal_rate):
            if student_id in state.withdrawn:
                continue
            status = "tobedeleted" if rng.random() < 0.8 else "inactive"
            changes.append(WithdrawStudent(date=day, student_id=student_id, status=status))
            state.withdrawn[student_id] = sorted(state.active_classes.get(student_id, ()))
            state.active_classes[student_id] = set()
        for twin_id in _pick(rng, active, arrival_rate):
            if twin_id in state.withdrawn:
                continue
            student_id = str(next_number)
            next_number += 1
            changes.extend(_arrival(rng, state, student_id, twin_id, day, class_span))
            students.append(student_id)
        for user_id in _pick(rng, user_ids, name_correction_rate):
            changes.append(_name_correction(rng, district, user_id, day))
        if add_term and index == school_days // 2:
            term = _quarter_term(rng, district, day)
            if term is not None:
                changes.append(term)
        day = _next_school_day(day + dt.timedelta(days=1))
    log.info("generated %d change(s) over %d school day(s)", len(changes), school_days)
    return changes


def _pick(rng: random.Random, population: list[str], rate: float) -> list[str]:
    """Sample about `rate * len(population)` members; the fraction becomes one more with its odds."""
    expected = rate * len(population)
    count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
    return rng.sample(population, min(count, len(population)))


def _script_state(district: District) -> _ScriptState:
    state = _ScriptState()
    users = {user.sourced_id: user for user in district.users if user.role == "student"}
    for user_id, user in users.items():
        state.active_classes[user_id] = set()
        state.school_of[user_id] = user.org_ids[0] if user.org_ids else ""
        state.grade_of[user_id] = user.grades[0] if user.grades else ""
    ended: dict[str, list[str]] = {}
    for enrollment in district.enrollments:
        if enrollment.user_id not in users:
            continue
        if enrollment.status == "active":
            state.active_classes[enrollment.user_id].add(enrollment.class_id)
        else:
            ended.setdefault(enrollment.user_id, []).append(enrollment.class_id)
    # Students withdrawn before the script starts may return to the sections they had.
    for user_id, user in users.items():
        if user.status != "active":
            state.withdrawn[user_id] = sorted(ended.get(user_id, []))
    return state


def _swap_groups(district: District) -> dict[tuple, list[str]]:
    """Group active scheduled sections that can replace each other: same school, periods, terms."""
    groups: dict[tuple, list[str]] = {}
    for school_class in district.classes:
        if school_class.class_type != "scheduled" or school_class.status != "active":
            continue
        key = (school_class.school_id, tuple(school_class.periods), tuple(school_class.term_ids))
        groups.setdefault(key, []).append(school_class.sourced_id)
    return {key: ids for key, ids in groups.items() if len(ids) > 1}


def _class_spans(district: District) -> dict[str, tuple[dt.date, dt.date]]:
    sessions = {session.sourced_id: session for session in district.sessions}
    spans = {}
    for school_class in district.classes:
        terms = [sessions[t] for t in school_class.term_ids if t in sessions]
        if terms:
            spans[school_class.sourced_id] = (min(t.start_date for t in terms),
                                              max(t.end_date for t in terms))
        else:
            spans[school_class.sourced_id] = (dt.date.min, dt.date.max)
    return spans


def _next_student_number(district: District) -> int:
    """Return a number above every numeric user id, for new arrivals' ids."""
    numbers = [int(u.sourced_id) for u in district.users if u.sourced_id.isdigit()]
    return max(numbers, default=0) + 1


def _schedule_change(rng, state, student_id, day, swaps, class_swap_key, class_span):
    held = state.active_classes.get(student_id, set())
    options = sorted(c for c in held if c in class_swap_key and class_span[c][1] >= day)
    if not options:
        return None
    drop = rng.choice(options)
    targets = [c for c in swaps[class_swap_key[drop]] if c not in held and c != drop]
    if not targets:
        return None
    add = rng.choice(targets)
    held.discard(drop)
    held.add(add)
    return ChangeSchedule(date=day, student_id=student_id, drop_class_id=drop, add_class_id=add)


def _arrival(rng, state, student_id, twin_id, day, class_span) -> list[Change]:
    given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
    handle = _ascii_handle(f"{given}{family[:1]}") or "student"
    school_id, grade = state.school_of[twin_id], state.grade_of[twin_id]
    changes: list[Change] = [
        AddStudent(
            date=day,
            student_id=student_id,
            school_id=school_id,
            grade=grade,
            given_name=given,
            family_name=family,
            username=f"{handle}{student_id[-4:]}",
        )
    ]
    classes = sorted(c for c in state.active_classes.get(twin_id, ()) if class_span[c][1] >= day)
    changes.extend(EnrollStudent(date=day, student_id=student_id, class_id=c) for c in classes)
    state.active_classes[student_id] = set(classes)
    state.school_of[student_id] = school_id
    state.grade_of[student_id] = grade
    return changes


def _name_correction(rng, district: District, user_id: str, day: dt.date) -> CorrectName:
    if rng.random() < 0.5:
        return CorrectName(date=day, user_id=user_id, family_name=rng.choice(FAMILY_NAMES))
    return CorrectName(date=day, user_id=user_id, given_name=rng.choice(GIVEN_NAMES))


def _quarter_term(rng, district: District, day: dt.date) -> AddTerm | None:
    """Add a second-quarter term (Q2) at one school, inside its fall semester."""
    semesters = [s for s in district.terms if s.title == "S1" and s.parent_id]
    if not semesters:
        return None
    fall = rng.choice(sorted(semesters, key=lambda s: s.sourced_id))
    middle = fall.start_date + (fall.end_date - fall.start_date) / 2
    sourced_id = f"{fall.parent_id}-Q2"
    if any(s.sourced_id == sourced_id for s in district.sessions):
        return None
    return AddTerm(date=day, sourced_id=sourced_id, school_id=fall.school_id, title="Q2",
                   start_date=middle, end_date=fall.end_date, parent_id=fall.parent_id)
