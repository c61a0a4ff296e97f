"""Scheduled tasks, the per-user file list and the definitions of the eSchoolPLUS web path.

A task waits in InactiveTasks until its scheduled time plus `task_queue_seconds`, then runs in
ActiveTasks for `task_run_seconds` and leaves both lists when it finishes. A task that fails
stays in ActiveTasks with ErrorOccurred "True" until the user clears it. Tasks move forward
whenever a request looks at them, so no background thread is involved.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .store import RosterStore
from .webconfig import WebConfig
from .webdefs import Definition, Header, render_export, split_upload
from .webtables import SqlError, Table, filter_conditions, parse_where, user_for_key

log = logging.getLogger(__name__)

UTC = dt.timezone.utc
SCHEDULED, RUNNING, DONE, FAILED = "scheduled", "running", "done", "failed"


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass
class StoredFile:
    """A file in a user's report directory: an export, an upload or an upload run report."""

    name: str
    content: bytes
    modified: dt.datetime


@dataclass
class UploadOptions:
    run_mode: str = "V"
    insert_new: bool = False
    update_existing: bool = True
    update_blank: bool = False


@dataclass
class Task:
    """One scheduled run of a definition; `run_time` is the server-local time shown as RunTime."""

    key: str
    name: str
    owner: str
    definition: Definition
    run_time: dt.datetime
    due: dt.datetime
    predicates: list[dict[str, str]] = field(default_factory=list)
    upload: UploadOptions | None = None
    state: str = SCHEDULED
    started: dt.datetime | None = None
    error: str | None = None
    total_records: int = 0
    # File name -> content, written to the user's files when the task finishes.
    outputs: dict[str, bytes] = field(default_factory=dict)
    # (user sourcedId, {User field: new value}) applied when an upload in run mode finishes.
    changes: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@dataclass
class Workspace:
    """One user's tasks and files."""

    tasks: dict[str, Task] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)


class WebState:
    """Definitions, tasks and files shared by every session of one sandbox.

    All methods take `lock`. `clock` returns the current UTC time and may be replaced in tests.
    """

    def __init__(
        self, store: RosterStore, config: WebConfig, clock: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.definitions: dict[str, Definition] = {}
        self.workspaces: dict[str, Workspace] = {}
        self._task_numbers = itertools.count(1001)

    def workspace(self, username: str) -> Workspace:
        with self.lock:
            return self.workspaces.setdefault(username.lower(), Workspace())

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.config.zone)

    def format_local(self, moment: dt.datetime) -> str:
        return self.local(moment).strftime(self.config.datetime_format)

    # --- definitions -----------------------------------------------------------------------

    def save_definition(self, definition: Definition, replace: bool) -> str | None:
        """Store a definition; return a validation message when the id is taken and not replaced."""
        with self.lock:
            if definition.interface_id in self.definitions and not replace:
                return (
                    f"Interface ID '{definition.interface_id}' already exists. Delete it first, "
                    "or save with PageEditMode 1 to change it."
                )
            self.definitions[definition.interface_id] = definition
            log.info("saved %s definition %s", definition.kind, definition.interface_id)
            return None

    def delete_definition(self, interface_id: str) -> bool:
        with self.lock:
            removed = self.definitions.pop(interface_id, None) is not None
        if removed:
            log.info("deleted definition %s", interface_id)
        return removed

    # --- tasks ---------------------------------------------------------------------------------

    def schedule(
        self,
        owner: str,
        name: str,
        definition: Definition,
        run_time: dt.datetime,
        *,
        predicates: list[dict[str, str]] | None = None,
        upload: UploadOptions | None = None,
    ) -> Task:
        """Queue a run of `definition` at `run_time` (server-local), or now if that has passed."""
        with self.lock:
            now = self.clock()
            task = Task(
                key=str(next(self._task_numbers)),
                name=name,
                owner=owner,
                definition=definition,
                run_time=run_time,
                due=max(now, run_time.astimezone(UTC)),
                predicates=predicates or [],
                upload=upload,
            )
            self.workspace(owner).tasks[task.key] = task
            log.info("scheduled task %s (%s) for %s at %s", task.key, name, owner,
                     run_time.isoformat())
            return task

    def advance(self, username: str) -> Workspace:
        """Move the user's tasks forward to the current time and return the workspace."""
        with self.lock:
            workspace = self.workspace(username)
            now = self.clock()
            queue = dt.timedelta(seconds=self.config.task_queue_seconds)
            run = dt.timedelta(seconds=self.config.task_run_seconds)
            for task in list(workspace.tasks.values()):
                if task.state == SCHEDULED and now >= task.due + queue:
                    task.started = task.due + queue
                    self._start(task)
                if task.state == RUNNING and now >= task.started + run:
                    self._finish(task, workspace, task.started + run)
                    del workspace.tasks[task.key]
            return workspace

    def progress(self, task: Task) -> int:
        """Return how many records a running task has processed, growing with elapsed time."""
        if task.state != RUNNING or task.started is None:
            return task.total_records if task.state in (DONE, FAILED) else 0
        if self.config.task_run_seconds <= 0:
            return task.total_records
        elapsed = (self.clock() - task.started).total_seconds()
        share = min(1.0, max(0.0, elapsed / self.config.task_run_seconds))
        return int(task.total_records * share)

    def _start(self, task: Task) -> None:
        try:
            if task.definition.is_upload:
                self._prepare_upload(task)
            else:
                self._prepare_download(task)
        except (SqlError, UploadError) as err:
            task.state = FAILED
            task.error = str(err)
            log.info("task %s (%s) failed: %s", task.key, task.name, err)
            return
        task.state = RUNNING

    def _finish(self, task: Task, workspace: Workspace, finished: dt.datetime) -> None:
        task.state = DONE
        for user_id, changes in task.changes:
            self.store.update_user(user_id, **changes)
        for name, content in task.outputs.items():
            workspace.files[name] = StoredFile(name, content, finished)
        log.info("task %s (%s) finished: %d records, files %s, %d changes applied",
                 task.key, task.name, task.total_records, sorted(task.outputs), len(task.changes))

    def _prepare_download(self, task: Task) -> None:
        with self.store.lock:
            for header in task.definition.headers:
                conditions = parse_where(header.additional_sql, header.table)
                conditions += filter_conditions(task.predicates, header.table)
                rows = header.table.rows(self.store, self.config)
                content, count = render_export(header, rows, conditions, self.config)
                task.outputs[header.file_name] = content
                task.total_records += count

    def _prepare_upload(self, task: Task) -> None:
        options = task.upload or UploadOptions()
        files = self.workspace(task.owner).files
        lines = [
            f"Upload run {task.definition.interface_id}: "
            + ("RUN MODE - changes applied" if options.run_mode == "R"
               else "VERIFY MODE - no changes made"),
        ]
        with self.store.lock:
            for header in task.definition.headers:
                stored = files.get(header.file_name)
                if stored is None:
                    raise UploadError(
                        f"File '{header.file_name}' for header {header.header_id} was not found "
                        "in the user's upload directory; upload it with /Utility/UploadFile first."
                    )
                records = split_upload(header, stored.content, self.config)
                task.total_records += len(records)
                lines.extend(self._plan_changes(task, header, records, options))
        task.outputs[f"{task.definition.interface_id}_upload_report.txt"] = (
            "".join(line + "\r\n" for line in lines).encode("cp1252", errors="replace")
        )
        if options.run_mode != "R":
            task.changes.clear()

    def _plan_changes(
        self, task: Task, header: Header, records: list[list[str]], options: UploadOptions
    ) -> list[str]:
        table: Table = header.table
        columns = list(header.columns)
        key_index = next(i for i, c in enumerate(columns) if c.column == table.keys[0])
        lines, updated, skipped = [], 0, 0
        for number, fields in enumerate(records, start=1):
            if len(fields) != len(columns):
                lines.append(f"Record {number}: expected {len(columns)} fields, found {len(fields)}; skipped.")
                skipped += 1
                continue
            key = fields[key_index].strip()
            user = user_for_key(self.store, table, key)
            if user is None:
                reason = ("inserting new records is not supported by the sandbox"
                          if options.insert_new else "no existing record")
                lines.append(f"Record {number}: {table.keys[0]} {key}: {reason}; skipped.")
                skipped += 1
                continue
            changes = {}
            for column, value in zip(columns, fields):
                attribute = table.updatable.get(column.column or "")
                if attribute is None:
                    continue
                value = value.rstrip()
                if value == "" and not options.update_blank:
                    continue
                if getattr(user, attribute) != value:
                    changes[attribute] = value
                    lines.append(
                        f"Record {number}: {table.name}.{column.column} for {key}: "
                        f"'{getattr(user, attribute)}' -> '{value}'"
                    )
            if changes and options.update_existing:
                task.changes.append((user.sourced_id, changes))
                updated += 1
        lines.append(f"Header {header.header_id} ({header.file_name}): {len(records)} records read, "
                     f"{updated} to update, {skipped} skipped.")
        return lines

    # --- files -----------------------------------------------------------------------------------

    def store_upload(self, username: str, name: str, content: bytes) -> StoredFile:
        """Save an uploaded file in the user's directory under its base name."""
        base = os.path.basename(name.replace("\\", "/"))
        with self.lock:
            stored = StoredFile(base, content, self.clock())
            self.workspace(username).files[base] = stored
            return stored


class UploadError(ValueError):
    """An upload run cannot read its data file."""
