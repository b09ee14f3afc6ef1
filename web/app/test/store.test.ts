// The board's store against a scripted client (no server): what reaches the IndexedDB cache
// while the user switches projects. A snapshot is read back as a board that resumes from its
// position, so one whose rows are not the rows at that position hides cards for good.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { create } from "@bufbuild/protobuf";
import { PmClient, type ClientEvents } from "../../sdk/client.js";
import type { CommandInput, CommandName, CommandResult } from "../../sdk/commands.js";
import {
  SprintListSchema,
  SwimLaneListSchema,
  WorkItemListSchema,
  SubscribeReplySchema,
  type SubscribeReply,
} from "../../sdk/gen/pm_proto/v1/commands_pb.js";
import { WorkItemSchema, WorkItemStatus, type WorkItem } from "../../sdk/gen/pm_proto/v1/entities_pb.js";
import { EventSchema } from "../../sdk/gen/pm_proto/v1/events_pb.js";
import { BoardCache, type Snapshot } from "../cache.js";
import { Board } from "../store.js";

const EPOCH = "epoch-1";

function item(id: string, projectId: string, version = 1n): WorkItem {
  return create(WorkItemSchema, { id, projectId, title: id, status: WorkItemStatus.TODO, version });
}

/** The server's side, scripted: each project's rows, subscriptions, and listings held back on demand. */
class ScriptedClient extends PmClient {
  head = 10n;
  readonly subscribed = new Map<string, bigint>();
  private readonly holding = new Set<string>();
  private held: (() => void)[] = [];
  private readonly handlers = new Map<string, ((value: never) => void)[]>();

  constructor(readonly rows: Map<string, WorkItem[]>) {
    super({ url: "ws://scripted.invalid", token: () => "scripted" });
    this.status = "online";
  }

  override on<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): () => void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), listener]);
    return () => undefined;
  }

  fire<K extends keyof ClientEvents>(type: K, value: ClientEvents[K]): void {
    for (const listener of this.handlers.get(type) ?? []) (listener as (v: ClientEvents[K]) => void)(value);
  }

  override positionOf(projectId: string): { epoch: string; seq: bigint } | undefined {
    const seq = this.subscribed.get(projectId);
    return seq === undefined ? undefined : { epoch: EPOCH, seq };
  }

  /** `projectId`'s next listings wait for release(). */
  hold(projectId: string): void {
    this.holding.add(projectId);
  }

  release(): void {
    this.holding.clear();
    for (const go of this.held.splice(0)) go();
  }

  override call<C extends CommandName>(command: C, input: CommandInput<C>): Promise<CommandResult<C>> {
    return this.answer(command, input) as Promise<CommandResult<C>>;
  }

  private async answer(command: CommandName, input: Record<string, unknown>): Promise<unknown> {
    await turn();
    const projectId = typeof input["projectId"] === "string" ? input["projectId"] : "";
    switch (command) {
      case "subscribe":
        return this.subscribe_(input["projectIds"] as string[], input["resume"] as { seq: bigint } | undefined);
      case "unsubscribe":
        for (const id of input["projectIds"] as string[]) this.subscribed.delete(id);
        return {};
      case "listSwimLanes":
        return create(SwimLaneListSchema, {
          lanes: [{ id: `lane-${projectId}`, projectId, name: "To do", status: WorkItemStatus.TODO }],
        });
      case "listSprints":
        return create(SprintListSchema, {});
      case "listWorkItems":
        if (this.holding.has(projectId)) await new Promise<void>((go) => this.held.push(go));
        return create(WorkItemListSchema, { items: this.rows.get(projectId) ?? [] });
      case "joinPresence":
        return { userIds: [] };
      default:
        return {};
    }
  }

  private subscribe_(projectIds: string[], resume: { seq: bigint } | undefined): SubscribeReply {
    const seq = resume?.seq ?? this.head;
    for (const id of projectIds) this.subscribed.set(id, seq);
    return create(SubscribeReplySchema, { epoch: EPOCH, seq, projectIds });
  }
}

/** An in-memory cache that keeps every save, in order. */
class MemoryCache extends BoardCache {
  readonly saves: { projectId: string; seq: bigint; ids: string[] }[] = [];
  private readonly stored = new Map<string, Snapshot>();

  constructor() {
    super("pm-board:test:alice");
  }

  override load(projectId: string): Promise<Snapshot | undefined> {
    return Promise.resolve(this.stored.get(projectId));
  }

  override save(projectId: string, snapshot: Snapshot): Promise<void> {
    this.saves.push({ projectId, seq: snapshot.seq, ids: snapshot.items.map((i) => i.id).sort() });
    this.stored.set(projectId, snapshot);
    return Promise.resolve();
  }

  savesOf(projectId: string): { seq: bigint; ids: string[] }[] {
    return this.saves.filter((s) => s.projectId === projectId).map(({ seq, ids }) => ({ seq, ids }));
  }
}

/** Let every promise that can settle, settle (the scripted answers take a turn each). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await turn();
}

function memoryStorage(): Storage {
  const values = new Map<string, string>();
  return {
    get length() {
      return values.size;
    },
    clear: () => values.clear(),
    getItem: (key) => values.get(key) ?? null,
    key: (index) => [...values.keys()][index] ?? null,
    removeItem: (key) => void values.delete(key),
    setItem: (key, value) => void values.set(key, value),
  };
}

function setUp(t: TestContext): { pm: ScriptedClient; cache: MemoryCache; board: Board } {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  globalThis.localStorage = memoryStorage();
  const pm = new ScriptedClient(
    new Map([
      ["A", [item("home", "A")]],
      ["B", [item("away", "B")]],
    ]),
  );
  const cache = new MemoryCache();
  return { pm, cache, board: new Board(pm, cache) };
}

test("a save that falls due while another open is loading stores nothing half-loaded", async (t) => {
  const { pm, cache, board } = setUp(t);
  await board.open("A"); // loaded: its save waits for the timer
  pm.hold("B");
  const toB = board.open("B");
  await until(() => pm.subscribed.has("B"));
  pm.hold("A");
  const backToA = board.open("A");
  await until(() => pm.subscribed.has("A")); // A subscribed again: its listing, if any, is held
  await turn();
  t.mock.timers.tick(1000); // a save now of a board without A's rows would hide them for good
  await turn();
  pm.release();
  await Promise.all([toB, backToA]);
  t.mock.timers.tick(1000);
  await turn();
  assert.notEqual(cache.savesOf("A").length, 0);
  for (const saved of cache.savesOf("A")) assert.deepEqual(saved.ids, ["home"]);
  assert.deepEqual([...board.items.value.keys()], ["home"]);
});

test("switching projects saves the one left at once, with its last change", async (t) => {
  const { pm, cache, board } = setUp(t);
  await board.open("A");
  const late = item("late", "A");
  pm.subscribed.set("A", 11n);
  pm.fire("event", create(EventSchema, { seq: 11n, projectId: "A", entity: { case: "workItem", value: late } }));
  await board.open("B"); // before A's save timer fired
  assert.deepEqual(cache.savesOf("A").at(-1), { seq: 11n, ids: ["home", "late"] });
});

test("no save while a must_refetch reload is under way", async (t) => {
  const { pm, cache, board } = setUp(t);
  await board.open("A");
  t.mock.timers.tick(1000);
  await turn();
  const before = cache.savesOf("A").length;
  // The resubscribe after a reconnect was answered with must_refetch: the position is the new
  // head already, the rows are still the old ones until the listing is in.
  pm.rows.set("A", [item("home", "A", 2n), item("restored", "A")]);
  pm.subscribed.set("A", 20n);
  pm.hold("A");
  pm.fire("mustRefetch", { epoch: EPOCH, seq: 20n });
  pm.fire("event", create(EventSchema, { seq: 21n, projectId: "A", entity: { case: "workItem", value: item("new", "A") } }));
  t.mock.timers.tick(1000);
  await turn();
  assert.equal(cache.savesOf("A").length, before);
  pm.release();
  await until(() => board.items.value.has("restored"));
  t.mock.timers.tick(1000);
  await turn();
  assert.deepEqual(cache.savesOf("A").at(-1)?.ids, ["home", "new", "restored"]);
});
