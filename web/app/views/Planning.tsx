// Backlog and sprint planning: drag items from the backlog into a sprint (and back), create,
// start and complete sprints.
import { useState } from "preact/hooks";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ServerError } from "../../sdk/errors.js";
import { SprintStatus, type Sprint, type WorkItem } from "../../sdk/gen/pm_proto/v1/entities_pb.js";
import type { Board } from "../store.js";

const DAY = 24 * 60 * 60 * 1000;

function Row({ board, item }: { board: Board; item: WorkItem }) {
  return (
    <li
      class="row"
      draggable
      data-item={item.id}
      tabIndex={0}
      onDragStart={(e) => e.dataTransfer?.setData("text/plain", item.id)}
      onClick={() => (board.selected.value = item.id)}
    >
      <span class="key">{item.displayKey}</span> <span class="title">{item.title}</span>
      {item.storyPoints !== undefined && <span class="points">{item.storyPoints} pt</span>}
    </li>
  );
}

function Bucket({ board, sprint, items }: { board: Board; sprint: Sprint | undefined; items: WorkItem[] }) {
  const points = items.reduce((sum, item) => sum + (item.storyPoints ?? 0), 0);
  const fail = (e: unknown) => board.notify(e instanceof ServerError ? e.error.message : String(e));
  const transition = (status: SprintStatus) => {
    if (sprint === undefined) return;
    void board.pm.call("transitionSprint", { sprintId: sprint.id, expectedVersion: sprint.version, status }).catch(fail);
  };
  return (
    <section
      class="bucket"
      aria-label={sprint?.name ?? "Backlog"}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        const id = e.dataTransfer?.getData("text/plain") ?? "";
        if (id !== "") void board.change(id, { sprintId: sprint?.id ?? "" }).catch(() => undefined);
      }}
    >
      <header>
        <h2>{sprint?.name ?? "Backlog"}</h2>
        <span class="muted">
          {items.length} items · {points} pt{sprint !== undefined ? ` · ${SprintStatus[sprint.status].toLowerCase()}` : ""}
        </span>
        <span class="spacer" />
        {sprint?.status === SprintStatus.PLANNED && <button onClick={() => transition(SprintStatus.ACTIVE)}>Start sprint</button>}
        {sprint?.status === SprintStatus.ACTIVE && <button onClick={() => transition(SprintStatus.COMPLETED)}>Complete sprint</button>}
      </header>
      <ol class="rows">
        {items.map((item) => (
          <Row key={item.id} board={board} item={item} />
        ))}
      </ol>
    </section>
  );
}

export function Planning({ board }: { board: Board }) {
  const [name, setName] = useState("");
  const items = [...board.items.value.values()].sort((a, b) => a.position - b.position);
  const open = board.sprints.value.filter((s) => s.status === SprintStatus.PLANNED || s.status === SprintStatus.ACTIVE);
  const create = (event: SubmitEvent) => {
    event.preventDefault();
    const projectId = board.projectId.value;
    if (projectId === undefined) return;
    const now = Date.now();
    void board.pm
      .call("createSprint", {
        projectId,
        name: name.trim(),
        startsAt: timestampFromDate(new Date(now)),
        endsAt: timestampFromDate(new Date(now + 14 * DAY)),
      })
      .then(
        () => setName(""),
        (e: unknown) => board.notify(e instanceof ServerError ? e.error.message : String(e)),
      );
  };
  return (
    <div class="planning">
      {open.map((sprint) => (
        <Bucket key={sprint.id} board={board} sprint={sprint} items={items.filter((i) => i.sprintId === sprint.id)} />
      ))}
      <form class="inline newsprint" onSubmit={create} aria-label="New sprint">
        <input placeholder="Sprint name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <button type="submit">Create sprint</button>
      </form>
      <Bucket board={board} sprint={undefined} items={items.filter((i) => i.sprintId === undefined)} />
    </div>
  );
}
