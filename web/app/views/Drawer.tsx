// One item in full: every field, its comments (live), time entries and the timer, its
// dependencies, and who changed what (agents marked). An edit that meets CONFLICT shows the
// values it met and keeps the unsaved text, to apply again over them.
import { useEffect, useState } from "preact/hooks";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ServerError } from "../../sdk/errors.js";
import {
  EntityType,
  Priority,
  UserKind,
  WorkItemStatus,
  WorkItemType,
  type ActivityEntry,
  type Comment,
  type Dependency,
  type TimeEntry,
  type WorkItem,
} from "../../sdk/gen/pm_proto/v1/entities_pb.js";
import { ErrorCode } from "../../sdk/gen/pm_proto/v1/envelope_pb.js";
import { STATUS_NAMES, type Board } from "../store.js";

interface Details {
  comments: Comment[];
  activity: ActivityEntry[];
  outgoing: Dependency[];
  incoming: Dependency[];
  entries: TimeEntry[];
}

const STATUSES = [
  WorkItemStatus.BACKLOG,
  WorkItemStatus.TODO,
  WorkItemStatus.IN_PROGRESS,
  WorkItemStatus.IN_REVIEW,
  WorkItemStatus.DONE,
] as const;
const TYPES = [WorkItemType.EPIC, WorkItemType.STORY, WorkItemType.TASK] as const;
const PRIORITIES = [Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.CRITICAL] as const;

/** The value among `values` that a <select> gave back as text. */
function pick<T extends number>(values: readonly T[], raw: string): T | undefined {
  return values.find((value) => String(value) === raw);
}

const EMPTY: Details = { comments: [], activity: [], outgoing: [], incoming: [], entries: [] };

function when(entry: { createdAt?: Parameters<typeof timestampDate>[0] }): string {
  return entry.createdAt === undefined ? "" : timestampDate(entry.createdAt).toLocaleString();
}

function minutes(entry: TimeEntry): string {
  if (entry.startedAt === undefined) return "";
  const end = entry.endedAt === undefined ? Date.now() : timestampDate(entry.endedAt).getTime();
  const mins = Math.round((end - timestampDate(entry.startedAt).getTime()) / 60000);
  return entry.endedAt === undefined ? `running (${String(mins)} min)` : `${String(mins)} min`;
}

export function Drawer({ board, item }: { board: Board; item: WorkItem }) {
  const [details, setDetails] = useState<Details>(EMPTY);
  const [title, setTitle] = useState(item.title);
  const [description, setDescription] = useState(item.description);
  const [conflict, setConflict] = useState<WorkItem | undefined>(undefined);
  // The version the text in the fields was written against: a save checks it, so an edit
  // made over someone else's newer one meets CONFLICT instead of silently replacing it.
  const [editing, setEditing] = useState<bigint>(item.version);
  const [dirty, setDirty] = useState(false);
  const [comment, setComment] = useState("");
  const [dependsOn, setDependsOn] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const pm = board.pm;
  const me = pm.welcome?.user?.id;
  const name = (id: string | undefined) => (id === undefined ? "?" : (board.users.value.get(id)?.displayName ?? id));
  const keyOf = (id: string) => board.items.value.get(id)?.displayKey ?? id.slice(0, 8);

  const load = async () => {
    const [comments, activity, deps, entries] = await Promise.all([
      pm.call("listComments", { workItemId: item.id }),
      pm.call("listActivity", { scope: { case: "entity", value: { type: EntityType.WORK_ITEM, id: item.id } }, limit: 50 }),
      pm.call("listDependencies", { itemId: item.id }),
      pm.call("listTimeEntries", { workItemId: item.id }),
    ]);
    setDetails({
      comments: comments.comments,
      activity: activity.entries,
      outgoing: deps.outgoing,
      incoming: deps.incoming,
      entries: entries.entries,
    });
  };

  useEffect(() => {
    setTitle(item.title);
    setDescription(item.description);
    setConflict(undefined);
    setEditing(item.version);
    setDirty(false);
    void load();
    // Comments, timers and dependencies of this item change live: reload what they touch.
    return pm.on("event", (event) => {
      const entity = event.entity;
      const touches =
        (entity.case === "comment" && entity.value.workItemId === item.id) ||
        (entity.case === "timeEntry" && entity.value.workItemId === item.id) ||
        (entity.case === "dependency" && (entity.value.fromItemId === item.id || entity.value.toItemId === item.id)) ||
        (entity.case === "workItem" && entity.value.id === item.id);
      if (touches) void load();
    });
  }, [item.id]);

  // Fields nobody is typing in follow the item as others change it.
  useEffect(() => {
    if (dirty) return;
    setTitle(item.title);
    setDescription(item.description);
    setEditing(item.version);
  }, [item.version]);

  const fail = (e: unknown) => setError(e instanceof ServerError ? e.error.message : String(e));

  const save = () => {
    setError(undefined);
    board.change(item.id, { title, description }, editing).then(
      (saved) => {
        setConflict(undefined);
        setDirty(false);
        if (saved !== undefined) setEditing(saved.version);
      },
      (e: unknown) => {
        if (e instanceof ServerError && e.code === ErrorCode.CONFLICT && e.error.current.case === "workItem") {
          // The text typed stays in the fields; saving again applies it over their version.
          setConflict(e.error.current.value);
          setEditing(e.error.current.value.version);
        } else fail(e);
      },
    );
  };
  const set = (patch: Parameters<Board["change"]>[1]) => void board.change(item.id, patch).catch(fail);
  const running = details.entries.find((e) => e.endedAt === undefined && e.userId === me);

  return (
    <aside class="drawer" aria-label={`Item ${item.displayKey}`}>
      <header>
        <span class="key">{item.displayKey}</span>
        <button class="ghost close" aria-label="Close" onClick={() => (board.selected.value = undefined)}>
          ✕
        </button>
      </header>
      {conflict !== undefined && (
        <div class="conflict" role="alert">
          <strong>Someone else changed this item while you were editing.</strong>
          <div>Their title: “{conflict.title}”</div>
          <div>Their description: “{conflict.description}”</div>
          <div>Your text is kept below; save again to apply it over theirs.</div>
        </div>
      )}
      <label>
        Title <input
          name="title"
          value={title}
          onInput={(e) => {
            setTitle(e.currentTarget.value);
            setDirty(true);
          }}
        />
      </label>
      <label>
        Description
        <textarea
          name="description"
          rows={5}
          value={description}
          onInput={(e) => {
            setDescription(e.currentTarget.value);
            setDirty(true);
          }}
        />
      </label>
      <button onClick={save}>Save</button>
      {error !== undefined && <p class="error">{error}</p>}
      <div class="fields">
        <label>
          Status
          <select
            value={item.status}
            onChange={(e) => {
              const status = pick(STATUSES, e.currentTarget.value);
              if (status !== undefined) set({ status });
            }}
          >
            {Object.entries(STATUS_NAMES).map(([value, label]) => (
              <option key={value} value={value}>{label}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select
            value={item.type}
            onChange={(e) => {
              const type = pick(TYPES, e.currentTarget.value);
              if (type !== undefined) set({ type });
            }}
          >
            <option value={WorkItemType.EPIC}>Epic</option>
            <option value={WorkItemType.STORY}>Story</option>
            <option value={WorkItemType.TASK}>Task</option>
          </select>
        </label>
        <label>
          Priority
          <select
            value={item.priority}
            onChange={(e) => {
              const priority = pick(PRIORITIES, e.currentTarget.value);
              if (priority !== undefined) set({ priority });
            }}
          >
            <option value={Priority.LOW}>Low</option>
            <option value={Priority.MEDIUM}>Medium</option>
            <option value={Priority.HIGH}>High</option>
            <option value={Priority.CRITICAL}>Critical</option>
          </select>
        </label>
        <label>
          Points
          <input
            type="number"
            min={0}
            value={item.storyPoints ?? ""}
            onChange={(e) => {
              const value = e.currentTarget.value;
              if (value !== "") set({ storyPoints: Number(value) });
            }}
          />
        </label>
        <label>
          Assignee
          <select value={item.assigneeId ?? ""} onChange={(e) => set({ assigneeId: e.currentTarget.value })}>
            <option value="">Unassigned</option>
            {[...board.users.value.values()].map((u) => (
              <option key={u.id} value={u.id}>{u.displayName}</option>
            ))}
          </select>
        </label>
        <label>
          Sprint
          <select value={item.sprintId ?? ""} onChange={(e) => set({ sprintId: e.currentTarget.value })}>
            <option value="">Backlog</option>
            {board.sprints.value.map((s) => (
              <option key={s.id} value={s.id}>{s.name}</option>
            ))}
          </select>
        </label>
      </div>

      <h3>Time</h3>
      {running === undefined ? (
        <button class="secondary-dark" onClick={() => void pm.call("startTimer", { workItemId: item.id }).catch(fail)}>
          Start timer
        </button>
      ) : (
        <button class="secondary-dark" onClick={() => void pm.call("stopTimer", {}).catch(fail)}>
          Stop timer
        </button>
      )}
      <ul class="entries">
        {details.entries.map((e) => (
          <li key={e.id}>
            {name(e.userId)}: {minutes(e)} {e.note}
          </li>
        ))}
      </ul>

      <h3>Dependencies</h3>
      <ul class="deps">
        {details.outgoing.map((d) => (
          <li key={d.id}>blocks {keyOf(d.toItemId)}</li>
        ))}
        {details.incoming.map((d) => (
          <li key={d.id}>blocked by {keyOf(d.fromItemId)}</li>
        ))}
      </ul>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          const target = [...board.items.value.values()].find((i) => i.displayKey === dependsOn.trim().toUpperCase());
          if (target === undefined) {
            setError(`no item ${dependsOn} on this board`);
            return;
          }
          void pm.call("createDependency", { fromItemId: item.id, toItemId: target.id }).then(() => setDependsOn(""), fail);
        }}
      >
        <input placeholder="Blocks… (e.g. PM-2)" value={dependsOn} onInput={(e) => setDependsOn(e.currentTarget.value)} />
        <button type="submit">Add</button>
      </form>

      <h3>Comments</h3>
      <ul class="comments" aria-label="Comments">
        {details.comments.map((c) => (
          <li key={c.id}>
            <strong>{name(c.authorId)}</strong> <span class="muted">{when(c)}</span>
            <p>{c.body}</p>
          </li>
        ))}
      </ul>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void pm.call("createComment", { workItemId: item.id, body: comment }).then(() => setComment(""), fail);
        }}
      >
        <textarea aria-label="New comment" rows={2} value={comment} onInput={(e) => setComment(e.currentTarget.value)} required />
        <button type="submit">Comment</button>
      </form>

      <h3>Activity</h3>
      <ul class="activity" aria-label="Activity">
        {details.activity.map((a) => (
          <li key={a.id}>
            <strong>{name(a.actorId)}</strong>
            {a.actorKind === UserKind.AGENT && <span class="agent">agent</span>} {a.field !== undefined ? `changed ${a.field} from ${a.oldJson} to ${a.newJson}` : "created this item"}{" "}
            <span class="muted">{when(a)}</span>
          </li>
        ))}
      </ul>
    </aside>
  );
}
