"""A Schoology state summary without Schoology ids, to compare two syncs of the same district."""

from __future__ import annotations

from collections import Counter

from esp_pipeline.sandbox.launch import RunningSandboxes


def fingerprint(sandboxes: RunningSandboxes) -> dict[str, Counter]:
    """Count each object by its SIS keys and synced fields; a duplicate shows as a count of 2."""
    state = sandboxes.schoology.state
    users = state.users(include_inactive=True)
    school_uid = {u["id"]: u["school_uid"] for u in users}
    roles = {r["id"]: r["title"] for r in state.roles()}
    courses = state.courses()
    course_code = {c["id"]: c["course_code"] for c in courses}
    periods = {g["id"]: g["title"] for g in state.grading_periods()}
    sections = state.sections()
    section_code = {s["id"]: s["section_school_code"] for s in sections}
    return {
        "users": Counter(
            (u["school_uid"], u["name_first"], u["name_last"], u["username"],
             u["primary_email"].lower(), roles.get(u["role_id"]), u["active"])
            for u in users
        ),
        "courses": Counter((c["course_code"], c["title"]) for c in courses),
        "sections": Counter(
            (s["section_school_code"], s.get("section_title") or s.get("title"),
             course_code[s["course_id"]], tuple(sorted(periods[g] for g in s["grading_periods"])))
            for s in sections
        ),
        "enrollments": Counter(
            (section_code[e["section_id"]], school_uid[e["uid"]], int(e["admin"]))
            for e in state.enrollments()
        ),
        "grading_periods": Counter(periods.values()),
    }


def duplicates(summary: dict[str, Counter]) -> dict[str, list]:
    """Objects that appear more than once, by kind."""
    return {kind: [k for k, n in counts.items() if n > 1] for kind, counts in summary.items()
            if any(n > 1 for n in counts.values())}
