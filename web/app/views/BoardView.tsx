// Lanes as columns, cards in position order. Drag a card between or within columns, or focus it
// and move it with Alt+arrow keys (left/right: the neighbouring column; up/down: one place).
//
// A board of a thousand cards stays quick: each card is a memoised component, so a change
// re-renders the cards it changed and not the others; and a column first shows its first
// FIRST_CARDS cards (about what a screen holds), the rest following MORE_CARDS a frame, so the
// first paint does not wait for cards below the fold.
import { memo } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import { Priority, WorkItemType, type WorkItem } from "../../sdk/gen/pm_proto/v1/entities_pb.js";
import type { Board } from "../store.js";
import { Avatar } from "./Avatar.js";

const TYPE_NAMES: Record<number, string> = {
  [WorkItemType.EPIC]: "Epic",
  [WorkItemType.STORY]: "Story",
  [WorkItemType.TASK]: "Task",
};
const PRIORITY_NAMES: Record<number, string> = {
  [Priority.LOW]: "Low",
  [Priority.MEDIUM]: "Medium",
  [Priority.HIGH]: "High",
  [Priority.CRITICAL]: "Critical",
};

/** Cards of each column in the first paint of a board, then how many more each frame. */
const FIRST_CARDS = 12;
const MORE_CARDS = 100;

/** Where among a column's cards a drop at `y` lands (the cards' midpoints split it). */
function dropIndex(column: HTMLElement, y: number, dragged: string): number {
  const cards = [...column.querySelectorAll<HTMLElement>("[data-card]")].filter((c) => c.dataset.card !== dragged);
  const index = cards.findIndex((card) => {
    const box = card.getBoundingClientRect();
    return y < box.top + box.height / 2;
  });
  return index === -1 ? cards.length : index;
}

/** Move a card one column (dx) or one place (dy) on, as the board stands now. */
function moveBy(board: Board, item: WorkItem, dx: number, dy: number): void {
  const lanes = board.lanes.value;
  const columns = board.columns.value;
  const laneIndex = lanes.findIndex((l) => l.status === item.status);
  const lane = lanes[laneIndex + dx];
  if (lane === undefined) return;
  const cards = (columns.get(lane.status) ?? []).filter((c) => c.id !== item.id);
  const current = (columns.get(item.status) ?? []).findIndex((c) => c.id === item.id);
  const index = dx !== 0 ? cards.length : Math.max(0, Math.min(cards.length, current + dy));
  void board.move(item.id, lane.status, index).catch(() => undefined);
  requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-card="${item.id}"]`)?.focus());
}

const MOVES: Record<string, [number, number]> = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

/** One card: rendered again only when its item (a new object per change) or flash changes. */
const Card = memo(function Card({ board, item, flashed }: { board: Board; item: WorkItem; flashed: boolean }) {
  return (
    <li
      class={flashed ? "card flash" : "card"}
      data-card={item.id}
      draggable
      tabIndex={0}
      aria-label={`${item.displayKey} ${item.title}`}
      onDragStart={(e) => {
        e.dataTransfer?.setData("text/plain", item.id);
        board.dragging = { id: item.id, version: item.version };
      }}
      onClick={() => (board.selected.value = item.id)}
      onKeyDown={(e) => {
        if (e.key === "Enter") board.selected.value = item.id;
        if (!e.altKey) return;
        const move = MOVES[e.key];
        if (move === undefined) return;
        e.preventDefault();
        moveBy(board, item, move[0], move[1]);
      }}
    >
      <div class="cardhead">
        <span class="key">{item.displayKey}</span>
        <span class={`type t${String(item.type)}`}>{TYPE_NAMES[item.type] ?? ""}</span>
      </div>
      <div class="title">{item.title}</div>
      <div class="cardfoot">
        <span class={`priority p${String(item.priority)}`}>{PRIORITY_NAMES[item.priority] ?? ""}</span>
        {item.storyPoints !== undefined && <span class="points">{item.storyPoints} pt</span>}
        <span class="spacer" />
        {item.assigneeId !== undefined && (
          <Avatar userId={item.assigneeId} name={board.users.value.get(item.assigneeId)?.displayName ?? item.assigneeId} />
        )}
      </div>
    </li>
  );
});

export function BoardView({ board }: { board: Board }) {
  const [adding, setAdding] = useState<number | undefined>(undefined);
  const [title, setTitle] = useState("");
  const [shown, setShown] = useState(FIRST_CARDS);
  const lanes = board.lanes.value;
  const columns = board.columns.value;
  const flashed = board.flashed.value;
  const longest = Math.max(0, ...[...columns.values()].map((cards) => cards.length));

  // After a paint, the next cards of every column, until all are shown.
  useEffect(() => {
    if (shown >= longest) return;
    const frame = requestAnimationFrame(() => setShown((n) => n + MORE_CARDS));
    return () => cancelAnimationFrame(frame);
  }, [shown, longest]);

  return (
    <section class="board" aria-label="Board">
      {lanes.map((lane) => {
        const cards = columns.get(lane.status) ?? [];
        const over = lane.wipLimit !== undefined && cards.length > lane.wipLimit;
        return (
          <div
            key={lane.id}
            class="column"
            data-status={lane.status}
            aria-label={lane.name}
            onDragOver={(e) => {
              e.preventDefault();
            }}
            onDrop={(e) => {
              e.preventDefault();
              const id = e.dataTransfer?.getData("text/plain") ?? "";
              if (id === "") return;
              const index = dropIndex(e.currentTarget, e.clientY, id);
              const seen = board.dragging?.id === id ? board.dragging.version : undefined;
              board.dragging = undefined;
              void board.move(id, lane.status, index, seen).catch(() => undefined);
            }}
          >
            <h2>
              {lane.name} <span class={over ? "count over" : "count"}>{cards.length}{lane.wipLimit !== undefined ? `/${String(lane.wipLimit)}` : ""}</span>
            </h2>
            <ol class="cards">
              {cards.slice(0, shown).map((item) => (
                <Card key={item.id} board={board} item={item} flashed={flashed.has(item.id)} />
              ))}
            </ol>
            {adding === lane.status ? (
              <form
                class="additem"
                onSubmit={(e) => {
                  e.preventDefault();
                  void board.createItem(title.trim(), lane.status).then(() => {
                    setTitle("");
                    setAdding(undefined);
                  });
                }}
              >
                <input aria-label="Title" value={title} onInput={(e) => setTitle(e.currentTarget.value)} required autoFocus />
                <button type="submit">Add</button>
              </form>
            ) : (
              <button class="ghost" onClick={() => setAdding(lane.status)}>
                + Add item
              </button>
            )}
          </div>
        );
      })}
    </section>
  );
}
