"""Download/Upload Definitions: validation of the saved JSON, export files and upload parsing.

A definition has a 5-character InterfaceId and one or more headers. Each header writes (or,
for uploads, reads) one delimited file from one table; its InterfaceDetails list the columns
in FieldOrder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .webconfig import WebConfig
from .webtables import TABLE_AFFECTED, Condition, Table, find_table, format_value

INTERFACE_ID_LENGTH = 5
# A ColumnOverride written as a quoted SQL string puts that text in every row, which is how
# scripts add a constant record terminator such as '#!#'.
_QUOTED = re.compile(r"^'((?:[^']|'')*)'$")


@dataclass(frozen=True)
class Column:
    """One output column: a table column, or a constant when `literal` is set."""

    order: int
    caption: str
    column: str | None
    literal: str | None = None

    def render(self, row: dict[str, object], config: WebConfig) -> str:
        if self.literal is not None:
            return self.literal
        return format_value(row.get(self.column or ""), config)


@dataclass(frozen=True)
class Header:
    header_id: str
    order: int
    file_name: str
    delimiter: str
    table: Table
    additional_sql: str
    column_headers: bool
    columns: tuple[Column, ...]


@dataclass
class Definition:
    """A saved definition; `raw` is the UploadDownloadDefinition object as the client sent it."""

    interface_id: str
    kind: str
    description: str
    headers: tuple[Header, ...]
    raw: dict = field(repr=False)

    @property
    def is_upload(self) -> bool:
        return self.kind == "U"


class DefinitionErrors(ValueError):
    """A definition failed validation; `messages` lists every problem found."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def interface_id_error(interface_id: object) -> str | None:
    """Return the validation message for an InterfaceId that is not exactly 5 characters."""
    if not isinstance(interface_id, str) or not interface_id:
        return "Interface ID is required and must be exactly 5 characters."
    if len(interface_id) != INTERFACE_ID_LENGTH:
        return (
            f"Interface ID '{interface_id}' must be exactly {INTERFACE_ID_LENGTH} characters "
            f"(it has {len(interface_id)})."
        )
    return None


def _order(value: object, default: int, label: str, messages: list[str]) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        messages.append(f"{label}: order {value!r} must be a whole number.")
        return default


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "y", "yes", "1")
    return bool(value)


def parse_definition(body: object) -> Definition:
    """Validate a SaveUploadDownload body and return the definition it describes.

    Raise DefinitionErrors listing every problem: an InterfaceId that is not 5 characters,
    a TableAffected outside the known list, two headers writing one file, unknown tables or
    columns in InterfaceDetails, and upload headers the sandbox cannot apply.
    """
    if not isinstance(body, dict) or not isinstance(body.get("UploadDownloadDefinition"), dict):
        raise DefinitionErrors(["The request body must be a JSON object with UploadDownloadDefinition."])
    raw = body["UploadDownloadDefinition"]
    messages: list[str] = []
    interface_id = raw.get("InterfaceId")
    id_error = interface_id_error(interface_id)
    if id_error:
        raise DefinitionErrors([id_error])
    kind = str(raw.get("UploadDownload") or raw.get("UploadDownloadRaw") or "").upper()
    if kind not in ("D", "U"):
        messages.append(f"UploadDownload must be 'D' (download) or 'U' (upload), got {kind!r}.")
    raw_headers = raw.get("InterfaceHeaders")
    if not isinstance(raw_headers, list) or not raw_headers:
        raise DefinitionErrors(messages + ["A definition needs at least one interface header."])

    headers: list[Header] = []
    seen_ids: set[str] = set()
    seen_files: dict[str, str] = {}
    for position, raw_header in enumerate(raw_headers, start=1):
        if not isinstance(raw_header, dict):
            messages.append(f"Interface header {position} must be a JSON object.")
            continue
        header = _parse_header(raw_header, position, interface_id, kind, messages)
        if header is None:
            continue
        if header.header_id in seen_ids:
            messages.append(f"Header ID '{header.header_id}' is used by more than one header.")
        seen_ids.add(header.header_id)
        file_key = header.file_name.lower()
        if file_key in seen_files:
            messages.append(
                f"File name '{header.file_name}' is used by headers {seen_files[file_key]} and "
                f"{header.header_id}; each header needs its own file."
            )
        seen_files[file_key] = header.header_id
        headers.append(header)
    if messages:
        raise DefinitionErrors(messages)
    return Definition(
        interface_id=interface_id,
        kind=kind,
        description=str(raw.get("Description") or ""),
        headers=tuple(sorted(headers, key=lambda h: h.order)),
        raw=raw,
    )


def _parse_header(
    raw: dict, position: int, interface_id: str, kind: str, messages: list[str]
) -> Header | None:
    label = f"Header {raw.get('HeaderId') or position}"
    start = len(messages)

    if raw.get("InterfaceId") not in (None, interface_id):
        messages.append(
            f"{label}: InterfaceId '{raw.get('InterfaceId')}' does not match the definition's "
            f"'{interface_id}'."
        )
    file_name = str(raw.get("FileName") or "").strip()
    if not file_name:
        messages.append(f"{label}: FileName is required.")
    elif "/" in file_name or "\\" in file_name:
        messages.append(f"{label}: FileName '{file_name}' must not contain a path.")
    delimiter = raw.get("DelimitChar")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        messages.append(f"{label}: DelimitChar must be exactly one character, got {delimiter!r}.")

    affected = str(raw.get("TableAffected") or "").strip()
    if affected.lower() not in TABLE_AFFECTED:
        messages.append(f"{label}: TableAffected '{affected}' is not a table that definitions can use.")
    table = find_table(affected)
    if table is None and affected.lower() in TABLE_AFFECTED:
        messages.append(
            f"{label}: the sandbox does not model table '{affected}'; it models reg, reg_staff, "
            "reg_building, schd_ms and schd_stu_crs_dates."
        )

    details = raw.get("InterfaceDetails")
    if not isinstance(details, list) or not details:
        messages.append(f"{label}: InterfaceDetails must list at least one column.")
        details = []
    order = _order(raw.get("HeaderOrder"), position, label, messages)
    columns = [
        column
        for number, detail in enumerate(details, start=1)
        if (column := _parse_detail(detail, number, label, table, messages)) is not None
    ]
    if table is not None and kind == "U":
        _check_upload_columns(label, table, columns, messages)
    if len(messages) > start or table is None:
        return None

    return Header(
        header_id=str(raw.get("HeaderId") or position),
        order=order,
        file_name=file_name,
        delimiter=delimiter,
        table=table,
        additional_sql=str(raw.get("AdditionalSql") or ""),
        column_headers=_flag(raw.get("ColumnHeaders", raw.get("ColumnHeadersRaw", True))),
        columns=tuple(sorted(columns, key=lambda c: c.order)),
    )


def _parse_detail(
    detail: object, number: int, label: str, table: Table | None, messages: list[str]
) -> Column | None:
    if not isinstance(detail, dict):
        messages.append(f"{label}, field {number}: each InterfaceDetails entry must be an object.")
        return None
    order = _order(detail.get("FieldOrder"), number, f"{label}, field {number}", messages)
    table_name = str(detail.get("TableName") or "").strip().lower()
    column_name = str(detail.get("ColumnName") or "").strip()
    literal = detail.get("Literal")
    override = detail.get("ColumnOverride")

    if literal not in (None, ""):
        return Column(order, column_name, None, str(literal))
    if override not in (None, ""):
        quoted = _QUOTED.match(str(override).strip())
        if quoted:
            return Column(order, column_name, None, quoted.group(1).replace("''", "'"))
        column_name = str(override).strip()

    detail_table = find_table(table_name)
    if detail_table is None:
        messages.append(f"{label}, field {number}: table '{table_name}' is not a known table.")
        return None
    if not detail_table.has_column(column_name):
        messages.append(
            f"{label}, field {number}: column '{column_name}' is not in table '{table_name}'."
        )
        return None
    if table is not None and detail_table is not table:
        # NOTE: eSchool can join other tables through AdditionalSql; the sandbox reads only
        # the header's TableAffected.
        messages.append(
            f"{label}, field {number}: column {table_name}.{column_name} is not in the header's "
            f"table '{table.name}', and the sandbox does not join tables."
        )
        return None
    return Column(order, column_name.upper(), column_name.upper())


def _check_upload_columns(
    label: str, table: Table, columns: list[Column], messages: list[str]
) -> None:
    names = {column.column for column in columns if column.column}
    missing = [key for key in table.keys if key not in names]
    if not table.updatable:
        messages.append(f"{label}: the sandbox cannot upload into table '{table.name}'.")
    elif missing:
        messages.append(
            f"{label}: an upload into '{table.name}' must include the key column(s) "
            f"{', '.join(missing)}."
        )
    for name in sorted(names - set(table.keys) - set(table.updatable)):
        messages.append(f"{label}: the sandbox cannot update column {table.name}.{name}.")


# --- export files ------------------------------------------------------------------------------


def render_export(
    header: Header, rows: list[dict[str, object]], conditions: list[Condition], config: WebConfig
) -> tuple[bytes, int]:
    """Write `rows` that pass `conditions` as the header's delimited file.

    Return the Windows-1252 bytes and the number of records. As in eSchool, nothing is quoted
    or escaped: a value holding the delimiter, a quote or a line break is written as it is.
    Characters outside Windows-1252 become '?'.
    """
    delimiter = header.delimiter
    lines = []
    if header.column_headers:
        lines.append(delimiter.join(column.caption for column in header.columns))
    count = 0
    for row in rows:
        if all(condition.matches(row, config) for condition in conditions):
            lines.append(delimiter.join(column.render(row, config) for column in header.columns))
            count += 1
    text = "".join(line + "\r\n" for line in lines)
    return text.encode("cp1252", errors="replace"), count


def split_upload(header: Header, content: bytes, config: WebConfig) -> list[list[str]]:
    """Split an uploaded file into records of fields, in the header's column order.

    Lines end at CR/LF, LF or CR, blank lines are skipped, and the first line is skipped when
    the header has ColumnHeaders set. Fields are split on the delimiter with no quote handling.
    """
    text = content.decode(config.upload_encoding, errors="replace")
    lines = [line for line in re.split(r"\r\n|\n|\r", text) if line.strip()]
    if header.column_headers:
        # NOTE: whether eSchool skips the first line of an upload when ColumnHeaders is set is
        # not published; the sandbox does.
        lines = lines[1:]
    return [line.split(header.delimiter) for line in lines]
