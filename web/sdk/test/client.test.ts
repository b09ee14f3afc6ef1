// The SDK against a real pm server: int64 round trip, an idempotent retry after a dropped
// socket, resume without gap or duplicate after a drop and after a server restart.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PmClient } from "../client.js";
import type { Event } from "../gen/pm_proto/v1/events_pb.js";
import { Action, EntityType, WorkItemType } from "../gen/pm_proto/v1/entities_pb.js";
import { PmServer, Sockets, until } from "./server.js";

const server = new PmServer();
const clients: PmClient[] = [];

before(async () => {
  await server.start();
});

after(async () => {
  for (const client of clients) client.close();
  await server.stop();
});

function client(user: string, sockets?: Sockets): PmClient {
  const token = server.token("acme", user);
  const pm = new PmClient({
    url: server.wsUrl,
    token: () => token,
    // Generous: the suite runs on loaded machines, and a restart is part of some tests.
    requestTimeoutMs: 60_000,
    backoff: { firstMs: 20, maxMs: 500 },
    ...(sockets === undefined ? {} : { webSocket: sockets.factory }),
  });
  clients.push(pm);
  return pm;
}

/** The work-item creations `pm` receives, in the order it hands them out. */
function created(pm: PmClient): Event[] {
  const events: Event[] = [];
  pm.on("event", (event) => {
    if (event.entityType === EntityType.WORK_ITEM && event.action === Action.CREATED) events.push(event);
  });
  return events;
}

function assertOnceInOrder(events: Event[], ids: string[]): void {
  const seqs = events.map((e) => e.seq);
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i - 1]! < seqs[i]!, `seq ${String(seqs[i])} after ${String(seqs[i - 1])}`);
  assert.deepEqual(events.map((e) => e.entityId), ids);
}

async function project(pm: PmClient, key: string): Promise<string> {
  const reply = await pm.call("createProject", { key, name: key });
  assert.ok(reply.project);
  return reply.project.id;
}

async function item(pm: PmClient, projectId: string, title: string): Promise<string> {
  const reply = await pm.call("createWorkItem", { projectId, type: WorkItemType.TASK, title });
  assert.ok(reply.item);
  return reply.item.id;
}

test("int64 values cross the wire and back without losing a digit", async () => {
  const pm = client("int64");
  await pm.connect();
  for (const nonce of [2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)]) {
    const pong = await pm.call("ping", { nonce });
    assert.equal(pong.nonce, nonce);
  }
  const projectId = await project(pm, "BIG");
  const reply = await pm.subscribe([projectId]);
  assert.equal(typeof reply.seq, "bigint");
});

test("a mutation whose reply was lost with its socket is retried with its id and applied once", async () => {
  const sockets = new Sockets();
  const writer = client("retry", sockets);
  const observer = client("retry");
  await writer.connect();
  await observer.connect();
  const projectId = await project(writer, "RETRY");
  const seen = created(observer);
  await observer.subscribe([projectId]);

  sockets.deaf = true; // the server commits and replies; the reply never arrives
  const pending = writer.call("createWorkItem", { projectId, type: WorkItemType.TASK, title: "once" });
  await until(() => seen.length === 1, "the creation's event");
  sockets.deaf = false;
  sockets.last?.close(); // the socket drops with the request unanswered

  const reply = await pending;
  assert.equal(reply.item?.id, seen[0]?.entityId);
  assert.ok(writer.reconnects >= 1);
  const list = await writer.call("listWorkItems", { projectId });
  assert.deepEqual(list.items.map((i) => i.title), ["once"]);
});

test("a client that was offline gets every event it missed, once, in order", async () => {
  const sockets = new Sockets();
  const reader = client("resume", sockets);
  const writer = client("resume");
  await reader.connect();
  await writer.connect();
  const projectId = await project(writer, "RESUME");
  const seen = created(reader);
  await reader.subscribe([projectId]);

  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await item(writer, projectId, `before ${String(i)}`));
  await until(() => seen.length === 5, "the live events");

  sockets.refuse = true;
  sockets.last?.close();
  await until(() => reader.status === "offline", "the reader to notice the drop");
  for (let i = 0; i < 20; i++) ids.push(await item(writer, projectId, `while offline ${String(i)}`));
  sockets.refuse = false;

  await until(() => reader.status === "online" && seen.length >= 25, "the missed events");
  for (let i = 0; i < 3; i++) ids.push(await item(writer, projectId, `after ${String(i)}`));
  await until(() => seen.length >= 28, "the live events after the resume");
  await writer.call("ping", {}); // anything still in flight to the reader has arrived by then
  assertOnceInOrder(seen, ids);
});

test("after a server restart both clients carry on: queued writes land, events resume", async () => {
  const reader = client("restart");
  const writer = client("restart");
  await reader.connect();
  await writer.connect();
  const projectId = await project(writer, "RESTART");
  const seen = created(reader);
  await reader.subscribe([projectId]);
  const ids = [await item(writer, projectId, "before the restart")];
  await until(() => seen.length === 1, "the first event");

  await server.stop();
  await until(() => reader.status === "offline" && writer.status === "offline", "both to go offline");
  const queued = item(writer, projectId, "sent while the server was down");
  await server.start();
  ids.push(await queued);
  ids.push(await item(writer, projectId, "after the restart"));

  await until(() => seen.length >= 3, "the events after the restart");
  assertOnceInOrder(seen, ids);
  assert.ok(reader.reconnects >= 1 && writer.reconnects >= 1);
});
