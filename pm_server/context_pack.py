"""The context pack: what an agent needs to start work on a project, within a token budget.

Pure: the handler (:mod:`pm_server.handlers.context_pack`) reads the rows in one
snapshot and hands them here; this module orders, renders and cuts, with no I/O,
so its budget rule is tested without a server.

Tokens are counted with a documented approximation, the same for every model:
**one token per four characters** (Unicode code points) of the text, rounded
up. English prose and markdown run at three to four characters per token in
the common tokenizers, so a pack within N tokens by this count is near N in
theirs; an agent that needs a hard limit in its own tokenizer asks for a
smaller budget.

The text, in order (each part only if it fits, what does not fit named at the end):

1. the project, the snapshot's ``seq`` and how to follow changes from there;
2. how to work on the board: its rules and the commands that read and write it
   (agents reach the data only through commands: no SQL is shown);
3. the project's ``llm_context`` rows, then the tenant's, by priority, in full
   (their ``example_sql`` left out) -- together at most half of what remains;
4. the active sprint;
5. the open items, most relevant first: in the active sprint, then blocked,
   then changed in the last seven days, then assigned to the caller (each
   criterion outweighs all those after it), newest change first among equals;
6. what was left out, and the command that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from pm_core.enums import LlmContextType
from pm_core.keys import format_display_key
from pm_core.models import LlmContext, Project, Sprint, WorkItem

CHARS_PER_TOKEN: Final = 4
DEFAULT_BUDGET: Final = 8_000
MIN_BUDGET: Final = 1_000
#: Large enough for a whole 10,000-item board's open items, small enough for one reply.
MAX_BUDGET: Final = 200_000
RECENT: Final = timedelta(days=7)
#: The tenant's rows that document the database's SQL: agents cannot run it.
SQL_TYPES: Final = frozenset({LlmContextType.SCHEMA_DOC, LlmContextType.QUERY_PATTERN})
#: Omitted rows named one by one at most; the rest are counted.
MAX_NAMED_OMISSIONS: Final = 3
#: Room kept for the "Left out" section's item line.
_ITEMS_LINE_RESERVE: Final = 300


def count_tokens(text: str) -> int:
    """Tokens of ``text`` by the pack's approximation: characters / 4, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class PackInput:
    project: Project
    caller_id: str
    now: datetime
    seq: int
    #: The project's and the tenant's live rows, any order.
    contexts: Sequence[LlmContext]
    active_sprint: Sprint | None
    #: Every open (not done) item of the project.
    open_items: Sequence[WorkItem]
    #: Blocked item id -> the item numbers of its open blockers.
    blockers: Mapping[str, Sequence[int]]


@dataclass(frozen=True, slots=True)
class Pack:
    text: str
    tokens: int
    budget: int
    item_keys: list[str]
    context_ids: list[str]
    left_out: list[str]
    open_items: int
    contexts: int


@dataclass
class _Text:
    """Lines under a character cap."""

    cap: int
    lines: list[str] = field(default_factory=list)
    used: int = 0

    def fits(self, lines: Sequence[str], reserve: int = 0) -> bool:
        return self.used + sum(len(line) + 1 for line in lines) + reserve <= self.cap

    def add(self, lines: Sequence[str]) -> None:
        self.lines += lines
        self.used += sum(len(line) + 1 for line in lines)


def relevance(item: WorkItem, data: PackInput) -> tuple[int, float, int]:
    """The sort key of an open item: most relevant first."""
    sprint = data.active_sprint
    score = (
        8 * (sprint is not None and item.sprint_id == sprint.id)
        + 4 * (item.id in data.blockers)
        + 2 * (data.now - item.updated_at <= RECENT)
        + 1 * (item.assignee_id == data.caller_id)
    )
    return (-score, -item.updated_at.timestamp(), item.item_number)


def build(data: PackInput, budget: int) -> Pack:
    key = data.project.key
    text = _Text(cap=budget * CHARS_PER_TOKEN)
    text.add(_head(data, budget))
    text.add(_how_to_work(key))

    # -- llm_context: the project's rows, then the tenant's, in full while they fit ---
    shown_rows: list[LlmContext] = []
    omitted_rows: list[LlmContext] = []
    sql_rows = [r for r in data.contexts if r.project_id is None and r.context_type in SQL_TYPES]
    rows = sorted(
        (r for r in data.contexts if r not in sql_rows),
        key=lambda r: (r.project_id is None, -r.priority, r.title),
    )
    context_cap = text.used + (text.cap - text.used) // 2
    context_text = _Text(cap=context_cap - text.used)
    for row in rows:
        lines = _context_lines(row, key)
        if context_text.fits(lines):
            context_text.add(lines)
            shown_rows.append(row)
        else:
            omitted_rows.append(row)
    text.add(["## Rules and docs (llm_context)", ""])
    if not context_text.lines:
        context_text.add(
            ["(none fit in the budget: see Left out)" if omitted_rows else "(none)", ""]
        )
    text.add(context_text.lines)

    left_out = _context_omissions(omitted_rows, sql_rows, key)
    reserve = sum(len(line) + 1 for line in left_out) + _ITEMS_LINE_RESERVE + 40

    # -- the active sprint and the open items, most relevant first -------------------
    sprint_lines = _sprint_lines(data)
    if text.fits(sprint_lines, reserve):
        text.add(sprint_lines)
    ranked = sorted(data.open_items, key=lambda item: relevance(item, data))
    heading = [f"## Open items, most relevant first ({len(ranked)} open)", ""]
    legend = [
        "In the active sprint, then blocked, then changed in the last 7 days, then assigned "
        "to you. Read one in full (description, comments, dependencies) with `get_work_item` "
        f"(`pm item show {key}-N`).",
        "",
    ]
    shown_keys: list[str] = []
    if text.fits([*heading, *legend], reserve):
        text.add([*heading, *legend])
        for item in ranked:
            line = _item_line(item, data)
            if not text.fits([line], reserve):
                break
            text.add([line])
            shown_keys.append(format_display_key(key, item.item_number))
        text.add([""])
    missing = len(ranked) - len(shown_keys)
    if missing:
        left_out.insert(
            0,
            f"- {missing} of {len(ranked)} open items (the least relevant): list them with "
            f"`list_work_items` (`pm item list --project {key}`), blocked ones with "
            f"`list_blocked_items` (`pm dep blocked --project {key}`).",
        )
    footer = ["## Left out", "", *(left_out or ["Nothing: the whole board is above."])]
    text.add(footer)
    body = "\n".join(text.lines).rstrip() + "\n"
    return Pack(
        text=body,
        tokens=count_tokens(body),
        budget=budget,
        item_keys=shown_keys,
        context_ids=[row.id for row in shown_rows],
        left_out=[line.removeprefix("- ") for line in left_out],
        open_items=len(ranked),
        contexts=len(data.contexts),
    )


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _head(data: PackInput, budget: int) -> list[str]:
    project = data.project
    lines = [f"# Context pack: {project.key} ({_one_line(project.name)})", ""]
    if project.description.strip():
        lines += [_one_line(project.description, 500), ""]
    lines += [
        f"Read at seq {data.seq} ({data.now.strftime('%Y-%m-%dT%H:%M:%SZ')}); budget {budget} "
        f"tokens, counted as one token per {CHARS_PER_TOKEN} characters. Follow what changes "
        f"after it: `subscribe` with resume seq {data.seq} "
        f"(`pm watch --project {project.key} --since {data.seq}`).",
        "",
    ]
    return lines


def _how_to_work(key: str) -> list[str]:
    """The board's rules as commands: the only way an agent reaches its data."""
    return [
        "## How to work on this board",
        "",
        "Every read and write is a command (protocol.md; the `pm` CLI and the MCP server "
        "`pm mcp` send the same ones). There is no SQL access.",
        "",
        f"- Items are epics > stories > tasks, named by key ({key}-12). Statuses: backlog, "
        "todo, in_progress, in_review, done. Read: `get_work_item` (`pm item show KEY`), "
        f"`list_work_items` (`pm item list --project {key}`).",
        "- Writes carry the version you read (`expected_version`, `--version`); CONFLICT means "
        "someone changed it: read again, re-apply, retry. A retried write with the same request "
        "id is applied once.",
        "- `create_work_item` / `update_work_item` (`pm item create`, `pm item update`, "
        "`pm item move KEY --status done`); `create_comment` (`pm comment add KEY TEXT`).",
        "- Dependencies: `create_dependency` (`pm dep add FROM TO`; `blocks` never closes a "
        f"cycle); `list_blocked_items` (`pm dep blocked --project {key}`).",
        "- Time: `start_timer` / `stop_timer` (`pm timer start KEY`, `pm timer stop`), "
        "`create_time_entry` (`pm timer log`).",
        "- Leave what you learn for the next agent: `create_llm_context` "
        f"(`pm context add --project {key} ...`).",
        "",
    ]


def _context_lines(row: LlmContext, key: str) -> list[str]:
    scope = key if row.project_id is not None else "tenant"
    return [
        f"### {_one_line(row.title)}",
        f"_{row.context_type}, {scope}, priority {row.priority}, id {row.id}_",
        "",
        row.content.strip(),
        "",
    ]


def _context_omissions(
    omitted: Sequence[LlmContext], sql_rows: Sequence[LlmContext], key: str
) -> list[str]:
    lines = []
    if omitted:
        named = ", ".join(
            f"{_one_line(row.title, 60)!r} ({row.id}, {count_tokens(row.content)} tokens)"
            for row in omitted[:MAX_NAMED_OMISSIONS]
        )
        more = len(omitted) - MAX_NAMED_OMISSIONS
        lines.append(
            f"- {len(omitted)} llm_context rows: {named}"
            + (f" and {more} more" if more > 0 else "")
            + f"; read them with `list_llm_context` (`pm context list --project {key}`, "
            "`pm context show ID`)."
        )
    if sql_rows:
        lines.append(
            f"- {len(sql_rows)} tenant-wide llm_context rows of schema docs and query patterns: "
            "they document the database's SQL, which agents cannot run; the commands above read "
            "the same data."
        )
    return lines


def _sprint_lines(data: PackInput) -> list[str]:
    sprint = data.active_sprint
    if sprint is None:
        return ["## Active sprint", "", "No sprint is active.", ""]
    dates = " to ".join(d.date().isoformat() for d in (sprint.starts_at, sprint.ends_at) if d)
    in_sprint = sum(1 for item in data.open_items if item.sprint_id == sprint.id)
    lines = [f"## Active sprint: {_one_line(sprint.name)}", ""]
    if sprint.goal.strip():
        lines.append(f"Goal: {_one_line(sprint.goal, 500)}")
    if dates:
        lines.append(f"Dates: {dates}")
    lines += [f"Open items in it: {in_sprint} (marked `sprint` below).", ""]
    return lines


def _item_line(item: WorkItem, data: PackInput) -> str:
    key = data.project.key
    marks = []
    if data.active_sprint is not None and item.sprint_id == data.active_sprint.id:
        marks.append("sprint")
    blockers = data.blockers.get(item.id)
    if blockers:
        marks.append("blocked by " + ", ".join(format_display_key(key, n) for n in blockers))
    if item.assignee_id is not None:
        marks.append("assigned to you" if item.assignee_id == data.caller_id else item.assignee_id)
    if item.story_points is not None:
        marks.append(f"{item.story_points} pts")
    marks.append(f"changed {item.updated_at.date().isoformat()}")
    return (
        f"- {format_display_key(key, item.item_number)} {item.type} {item.status} "
        f"{item.priority}: {_one_line(item.title, 200)} ({'; '.join(marks)})"
    )
