// The board's state: what the server confirmed, with the user's unconfirmed changes laid over
// it. An optimistic change shows at once; its reply makes it the confirmed state; an error or a
// CONFLICT drops it (the confirmed row, or the row the CONFLICT carries, shows again) with a
// notice saying what was rolled back. Events from the server replace confirmed rows whose
// version they beat, so an edit by someone else always wins over a stale copy.
import { batch, computed, signal } from "@preact/signals";
import type { ClientStatus, PmClient } from "../sdk/client.js";
import { ServerError } from "../sdk/errors.js";
import { ErrorCode } from "../sdk/gen/pm_proto/v1/envelope_pb.js";
import {
  WorkItemStatus,
  WorkItemType,
  type Project,
  type Sprint,
  type SwimLane,
  type User,
  type WorkItem,
} from "../sdk/gen/pm_proto/v1/entities_pb.js";
import type { Event } from "../sdk/gen/pm_proto/v1/events_pb.js";
import type { BoardCache, Snapshot } from "./cache.js";
import { between, renumbered, tooClose } from "./ordering.js";

export interface Notice {
  id: number;
  text: string;
}

type Patch = Partial<Pick<WorkItem, "title" | "description" | "status" | "position" | "priority" | "storyPoints" | "assigneeId" | "sprintId" | "type">>;

let noticeIds = 0;

export class Board {
  readonly status = signal<ClientStatus>("idle");
  readonly projects = signal<Project[]>([]);
  readonly projectId = signal<string | undefined>(undefined);
  readonly lanes = signal<SwimLane[]>([]);
  readonly sprints = signal<Sprint[]>([]);
  /** The item open in the drawer. */
  readonly selected = signal<string | undefined>(undefined);
  /** The card being dragged, and its version when it was picked up. */
  dragging: { id: string; version: bigint } | undefined;
  readonly users = signal<Map<string, User>>(new Map());
  readonly present = signal<Set<string>>(new Set());
  readonly notices = signal<Notice[]>([]);
  /** Cards changed by someone else a moment ago. */
  readonly flashed = signal<Set<string>>(new Set());
  /** Where the board first came from this time: the IndexedDB cache or the server. */
  readonly painted = signal<"cache" | "server" | undefined>(undefined);
  private readonly confirmed = signal<Map<string, WorkItem>>(new Map());
  /** Items deleted by an event, with their version then: a listing from before is stale. */
  private readonly tombstones = new Map<string, bigint>();
  /** Items an event brought since the project was opened. */
  private readonly seenByEvent = new Set<string>();
  private ready = false;
  /** Counts open() calls: an open whose number is no longer this one was superseded. */
  private generation = 0;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly overlay = signal<Map<string, Patch>>(new Map());

  /** Every card as the user sees it (confirmed rows with pending changes laid over). */
  readonly items = computed(() => {
    const shown = new Map<string, WorkItem>();
    for (const [id, item] of this.confirmed.value) {
      const patch = this.overlay.value.get(id);
      shown.set(id, patch === undefined ? item : { ...item, ...patch });
    }
    return shown;
  });

  /** The cards of each lane's status, in position order. */
  readonly columns = computed(() => {
    const byStatus = new Map<WorkItemStatus, WorkItem[]>();
    for (const lane of this.lanes.value) byStatus.set(lane.status, []);
    for (const item of this.items.value.values()) byStatus.get(item.status)?.push(item);
    for (const cards of byStatus.values()) cards.sort((a, b) => a.position - b.position);
    return byStatus;
  });

  constructor(
    readonly pm: PmClient,
    readonly cache?: BoardCache,
  ) {
    this.status.value = pm.status;
    pm.on("status", (status) => (this.status.value = status));
    pm.on("event", (event) => {
      this.apply(event);
      this.scheduleSave();
    });
    // After a reconnect whose resume the server could not honour (a restored tenant): reload.
    pm.on("mustRefetch", () => {
      const projectId = this.projectId.value;
      if (projectId === undefined) return;
      this.notify("The board was reloaded: the server's data changed under it (restored).");
      // Its position already stands at the new head: no save until the rows do too.
      const generation = this.generation;
      this.ready = false;
      void this.reload(projectId).then(() => {
        if (generation !== this.generation) return;
        this.ready = true;
        this.scheduleSave();
      });
    });
  }

  notify(text: string): void {
    const notice = { id: ++noticeIds, text };
    this.notices.value = [...this.notices.value, notice].slice(-4);
    setTimeout(() => (this.notices.value = this.notices.value.filter((n) => n !== notice)), 8000);
  }

  async loadProjects(): Promise<void> {
    const [projects, users] = await Promise.all([this.pm.call("listProjects", {}), this.pm.call("listUsers", {})]);
    this.projects.value = projects.projects;
    this.users.value = new Map(users.users.flatMap((u) => (u.user === undefined ? [] : [[u.user.id, u.user] as const])));
  }

  async createProject(key: string, name: string): Promise<void> {
    const { project } = await this.pm.call("createProject", { key, name });
    if (project === undefined) return;
    this.projects.value = [...this.projects.value, project];
    await this.open(project.id);
  }

  /**
   * Show one project. From the IndexedDB cache at once when it holds the project, resuming its
   * events from the cached (epoch, seq): the server replays what was missed and nothing is
   * listed again. Without a cache (or when the server answers must_refetch): subscribe first,
   * then list, so no change falls between the two; rows are merged by version either way.
   *
   * Each call supersedes the one before: an open still waiting on the network when the user
   * picks another project stops at its next step (it neither paints, lists, marks the board
   * ready to save, nor joins presence), and gives back the subscription it took meanwhile.
   */
  async open(projectId: string, snapshot?: Snapshot): Promise<void> {
    this.saveNow(); // the project left, as it stands: its last changes are not lost
    const generation = ++this.generation;
    const superseded = () => generation !== this.generation;
    const previous = this.projectId.value;
    this.ready = false;
    batch(() => {
      this.projectId.value = projectId;
      this.selected.value = undefined;
      this.present.value = new Set();
    });
    this.remember(projectId);
    if (previous !== undefined && previous !== projectId && this.pm.positionOf(previous) !== undefined) {
      await this.pm.call("unsubscribe", { projectIds: [previous] });
      await this.pm.call("leavePresence", { projectId: previous }).catch(() => undefined);
    }
    const cached = snapshot ?? (await this.cache?.load(projectId));
    if (superseded()) return;
    let reload = true;
    if (cached !== undefined) {
      if (snapshot === undefined) this.paint(cached);
      const reply = await this.pm.subscribe([projectId], { epoch: cached.epoch, seq: cached.seq });
      reload = reply.mustRefetch;
    } else {
      batch(() => {
        this.confirmed.value = new Map();
        this.overlay.value = new Map();
        this.tombstones.clear();
      });
      await this.pm.subscribe([projectId]);
    }
    if (superseded()) {
      this.release(projectId);
      return;
    }
    if (reload) await this.reload(projectId);
    if (superseded()) return;
    this.ready = true;
    this.painted.value ??= "server";
    this.scheduleSave();
    const presence = await this.pm.call("joinPresence", { projectId });
    if (superseded()) {
      this.release(projectId);
      return;
    }
    this.present.value = new Set([...presence.userIds, ...this.present.value]);
  }

  /**
   * Give back what an open superseded by another took (its subscription, its presence), unless
   * the project shown now is that one again.
   */
  private release(projectId: string): void {
    if (this.projectId.value === projectId) return;
    void this.pm.call("unsubscribe", { projectIds: [projectId] }).catch(() => undefined);
    void this.pm.call("leavePresence", { projectId }).catch(() => undefined);
  }

  /**
   * The page's start: paint the last project from the cache before the network has answered
   * anything, then connect, list the projects and open that project (or the first).
   */
  async start(): Promise<void> {
    const last = this.lastProject();
    const snapshot = last === undefined ? undefined : await this.cache?.load(last);
    if (last !== undefined && snapshot !== undefined) {
      this.projectId.value = last;
      this.paint(snapshot);
    }
    // Until the first connection opens the page shows what the cache had, marked offline.
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.pm.connect();
        break;
      } catch {
        this.status.value = "offline";
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    await this.loadProjects();
    const projects = this.projects.value;
    const chosen = projects.find((p) => p.id === last) ?? projects[0];
    if (chosen !== undefined) await this.open(chosen.id, chosen.id === last ? snapshot : undefined);
  }

  private paint(snapshot: Snapshot): void {
    batch(() => {
      this.lanes.value = sortLanes(snapshot.lanes);
      this.sprints.value = snapshot.sprints;
      this.confirmed.value = new Map(snapshot.items.map((item) => [item.id, item]));
      this.overlay.value = new Map();
      this.tombstones.clear();
      this.painted.value = "cache";
    });
  }

  private lastProject(): string | undefined {
    if (this.cache === undefined) return undefined;
    return localStorage.getItem(`${this.cache.name}:last`) ?? undefined;
  }

  private remember(projectId: string): void {
    if (this.cache !== undefined) localStorage.setItem(`${this.cache.name}:last`, projectId);
  }

  /** List the project's lanes, sprints and items and merge them in by version. */
  async reload(projectId: string): Promise<void> {
    // What events say from here on is newer than (or as new as) the listing below.
    this.seenByEvent.clear();
    this.tombstones.clear();
    const [lanes, sprints] = await Promise.all([
      this.pm.call("listSwimLanes", { projectId }),
      this.pm.call("listSprints", { projectId }),
    ]);
    const items: WorkItem[] = [];
    let after = "";
    do {
      const page = await this.pm.call("listWorkItems", { projectId, after, limit: 500 });
      items.push(...page.items);
      after = page.nextAfter;
    } while (after !== "");
    if (this.projectId.value !== projectId) return;
    const listed = new Set(items.map((item) => item.id));
    const confirmed = new Map<string, WorkItem>();
    for (const [id, item] of this.confirmed.value) {
      if (listed.has(id) || !this.seenByEvent.has(id)) continue;
      confirmed.set(id, item); // created after the listing's snapshot: its event brought it
    }
    for (const item of items) {
      const known = this.confirmed.value.get(item.id);
      const gone = this.tombstones.get(item.id);
      if (gone !== undefined && gone >= item.version) continue;
      confirmed.set(item.id, known !== undefined && known.version > item.version ? known : item);
    }
    batch(() => {
      this.lanes.value = sortLanes(lanes.lanes);
      this.sprints.value = sprints.sprints;
      this.confirmed.value = confirmed;
    });
  }

  /**
   * Save the board to the cache a moment from now (changes come in bursts). What is saved is
   * the board as it stands when the timer fires, and only while it is loaded: `ready` is false
   * from the start of an open (or a must_refetch reload) until its rows and position match.
   */
  private scheduleSave(): void {
    if (!this.ready || this.cache === undefined || this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 300);
  }

  /** A save still waiting for its timer, now (the board is about to show another project). */
  private saveNow(): void {
    if (this.saveTimer === undefined) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.save();
  }

  private save(): void {
    const projectId = this.projectId.value;
    if (!this.ready || projectId === undefined) return;
    const position = this.pm.positionOf(projectId);
    if (position === undefined) return;
    void this.cache?.save(projectId, {
      ...position,
      items: [...this.confirmed.value.values()],
      lanes: this.lanes.value,
      sprints: this.sprints.value,
    });
  }

  /** An event from the server (others' changes, and the echo of ours). */
  apply(event: Event): void {
    if (event.projectId !== this.projectId.value) return;
    const entity = event.entity;
    if (entity.case === "presence") {
      const present = new Set(this.present.value);
      if (entity.value.present) present.add(entity.value.userId);
      else present.delete(entity.value.userId);
      this.present.value = present;
      return;
    }
    if (entity.case === "swimLane") {
      const lanes = this.lanes.value.filter((l) => l.id !== entity.value.id);
      if (entity.value.deletedAt === undefined) lanes.push(entity.value);
      this.lanes.value = sortLanes(lanes);
      return;
    }
    if (entity.case === "sprint") {
      const sprints = this.sprints.value.filter((s) => s.id !== entity.value.id);
      if (entity.value.deletedAt === undefined) sprints.push(entity.value);
      this.sprints.value = sprints;
      return;
    }
    if (entity.case !== "workItem") return;
    const item = entity.value;
    this.seenByEvent.add(item.id);
    const known = this.confirmed.value.get(item.id);
    if (known !== undefined && known.version >= item.version) return; // our own reply was first
    const confirmed = new Map(this.confirmed.value);
    if (item.deletedAt === undefined) confirmed.set(item.id, item);
    else {
      confirmed.delete(item.id);
      this.tombstones.set(item.id, item.version);
    }
    this.confirmed.value = confirmed;
    if (event.actorId !== this.pm.welcome?.user?.id) this.flash(item.id);
  }

  private flash(id: string): void {
    this.flashed.value = new Set([...this.flashed.value, id]);
    setTimeout(() => {
      const rest = new Set(this.flashed.value);
      rest.delete(id);
      this.flashed.value = rest;
    }, 1500);
  }

  async createItem(title: string, status: WorkItemStatus): Promise<void> {
    const projectId = this.projectId.value;
    if (projectId === undefined) return;
    const column = this.columns.value.get(status) ?? [];
    const position = between(column.at(-1)?.position, undefined);
    const { item } = await this.pm.call("createWorkItem", { projectId, type: WorkItemType.TASK, title, status, position });
    if (item !== undefined) this.confirm(item);
  }

  /**
   * Move a card to `status`, at `index` among that column's other cards. `seenVersion` is the
   * version the user picked the card up at: if someone else moved it meanwhile, the move meets
   * CONFLICT and the card goes where they put it, with a notice.
   */
  async move(id: string, status: WorkItemStatus, index: number, seenVersion?: bigint): Promise<void> {
    const others = (this.columns.value.get(status) ?? []).filter((card) => card.id !== id);
    const before = others[index - 1]?.position;
    const after = others[index]?.position;
    if (tooClose(before, after)) {
      await this.renumber(status, others);
      return this.move(id, status, index, seenVersion);
    }
    await this.change(id, { status, position: between(before, after) }, seenVersion);
  }

  /** Renumber a column whose neighbours got too close (one update per card, in order). */
  private async renumber(status: WorkItemStatus, cards: WorkItem[]): Promise<void> {
    const positions = renumbered(cards.length);
    await Promise.all(cards.map((card, i) => this.change(card.id, { status, position: positions[i] ?? 0 })));
  }

  /**
   * Apply `patch` at once; confirm it with the server or roll it back with a notice. The
   * server checks `expectedVersion` (default: the confirmed row's): the version the user saw.
   */
  async change(id: string, patch: Patch, expectedVersion?: bigint): Promise<WorkItem | undefined> {
    const base = this.confirmed.value.get(id);
    if (base === undefined) return undefined;
    const overlay = new Map(this.overlay.value);
    overlay.set(id, { ...overlay.get(id), ...patch });
    this.overlay.value = overlay;
    try {
      const { item } = await this.pm.call("updateWorkItem", {
        itemId: id,
        expectedVersion: expectedVersion ?? base.version,
        ...patch,
      });
      if (item !== undefined) this.confirm(item);
      return item;
    } catch (error) {
      this.rollBack(base, error);
      throw error;
    } finally {
      const rest = new Map(this.overlay.value);
      rest.delete(id);
      this.overlay.value = rest;
    }
  }

  private confirm(item: WorkItem): void {
    // A reply to a change made on the project shown before (answered after the switch).
    if (item.projectId !== this.projectId.value) return;
    const known = this.confirmed.value.get(item.id);
    if (known !== undefined && known.version > item.version) return;
    this.confirmed.value = new Map(this.confirmed.value).set(item.id, item);
    this.scheduleSave();
  }

  private rollBack(base: WorkItem, error: unknown): void {
    const key = base.displayKey;
    if (error instanceof ServerError && error.code === ErrorCode.CONFLICT) {
      const current = error.error.current;
      if (current.case === "workItem") this.confirm(current.value);
      this.notify(`${key} was changed by someone else meanwhile: it shows their version now.`);
      return;
    }
    const reason = error instanceof ServerError ? error.error.message : String(error);
    this.notify(`Your change to ${key} was rolled back: ${reason}`);
  }
}

function sortLanes(lanes: SwimLane[]): SwimLane[] {
  return [...lanes].sort((a, b) => a.position - b.position);
}

export const STATUS_NAMES: Record<number, string> = {
  [WorkItemStatus.BACKLOG]: "Backlog",
  [WorkItemStatus.TODO]: "To do",
  [WorkItemStatus.IN_PROGRESS]: "In progress",
  [WorkItemStatus.IN_REVIEW]: "In review",
  [WorkItemStatus.DONE]: "Done",
};
