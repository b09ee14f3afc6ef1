// The frame around the board: project switcher, new project, who is here, connection state.
import { useState } from "preact/hooks";
import type { Board } from "../store.js";
import { Avatar } from "./Avatar.js";
import { BoardView } from "./BoardView.js";
import { Burndown } from "./Burndown.js";
import { Drawer } from "./Drawer.js";
import { Planning } from "./Planning.js";

const VIEWS = { board: "Board", planning: "Planning", burndown: "Burndown" } as const;
type View = keyof typeof VIEWS;

export function Shell({ board, onSignOut }: { board: Board; onSignOut: () => void }) {
  const [creating, setCreating] = useState(false);
  const [view, setView] = useState<View>("board");
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const me = board.pm.welcome?.user;
  const selectedId = board.selected.value;
  const selected = selectedId === undefined ? undefined : board.items.value.get(selectedId);
  const offline = board.status.value === "offline";

  const create = (event: SubmitEvent) => {
    event.preventDefault();
    board.createProject(key.trim().toUpperCase(), name.trim()).then(
      () => {
        setCreating(false);
        setKey("");
        setName("");
        setError(undefined);
      },
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  };

  return (
    <div class="shell">
      <header class="topbar">
        <span class="brand">pm</span>
        <label class="switcher">
          Project
          <select
            aria-label="Project"
            value={board.projectId.value ?? ""}
            onChange={(e) => void board.open(e.currentTarget.value)}
          >
            {board.projectId.value === undefined && <option value="">(none yet)</option>}
            {board.projects.value.map((p) => (
              <option key={p.id} value={p.id}>
                {p.key} · {p.name}
              </option>
            ))}
          </select>
        </label>
        <button class="secondary" onClick={() => setCreating(!creating)}>
          New project
        </button>
        <span class="spacer" />
        <span class="presence" aria-label="Here now">
          {[...board.present.value].map((id) => (
            <Avatar key={id} userId={id} name={board.users.value.get(id)?.displayName ?? id} />
          ))}
        </span>
        <span class="me">{me?.displayName}</span>
        <button class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {offline && (
        <div class="banner offline" role="status">
          Offline: reconnecting… Changes made meanwhile will appear when the connection is back.
        </div>
      )}
      {creating && (
        <form class="newproject" onSubmit={create} aria-label="New project">
          <input placeholder="KEY" value={key} onInput={(e) => setKey(e.currentTarget.value)} required maxLength={10} />
          <input placeholder="Name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          <button type="submit">Create</button>
          {error !== undefined && <span class="error">{error}</span>}
        </form>
      )}
      <div class="notices" aria-live="polite">
        {board.notices.value.map((n) => (
          <div key={n.id} class="notice" role="alert">
            {n.text}
          </div>
        ))}
      </div>
      {board.projectId.value === undefined ? (
        <p class="empty">No project yet: create one with “New project”.</p>
      ) : (
        <>
          <nav class="tabs" role="tablist">
            {(Object.keys(VIEWS) as View[]).map((name) => (
              <button key={name} role="tab" aria-selected={view === name} onClick={() => setView(name)}>
                {VIEWS[name]}
              </button>
            ))}
          </nav>
          <div class="workspace">
            {/* keyed by project: a newly opened board paints its first cards first again */}
            {view === "board" && <BoardView key={board.projectId.value} board={board} />}
            {view === "planning" && <Planning board={board} />}
            {view === "burndown" && <Burndown board={board} />}
            {selected !== undefined && <Drawer board={board} item={selected} />}
          </div>
        </>
      )}
    </div>
  );
}
