// The last board of each project, kept in IndexedDB so a reload paints at once and resumes
// from the stored (epoch, seq) instead of loading everything again. One database per tenant
// and user (`pm-board:<tenant>:<user>`), deleted on sign-out. Rows are stored as protobuf
// bytes, exactly as the server sent them.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  SprintSchema,
  SwimLaneSchema,
  WorkItemSchema,
  type Sprint,
  type SwimLane,
  type WorkItem,
} from "../sdk/gen/pm_proto/v1/entities_pb.js";

export interface Snapshot {
  epoch: string;
  seq: bigint;
  items: WorkItem[];
  lanes: SwimLane[];
  sprints: Sprint[];
}

interface Stored {
  projectId: string;
  epoch: string;
  seq: string; // bigint as its decimal text
  items: Uint8Array[];
  lanes: Uint8Array[];
  sprints: Uint8Array[];
}

const STORE = "projects";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

export class BoardCache {
  private db: Promise<IDBDatabase> | undefined;

  constructor(readonly name: string) {}

  static for(tenantId: string, userId: string): BoardCache {
    return new BoardCache(`pm-board:${tenantId}:${userId}`);
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(this.name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "projectId" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error("IndexedDB unavailable"));
    });
    return this.db;
  }

  async load(projectId: string): Promise<Snapshot | undefined> {
    try {
      const db = await this.open();
      const stored = (await request(db.transaction(STORE).objectStore(STORE).get(projectId))) as Stored | undefined;
      if (stored === undefined) return undefined;
      return {
        epoch: stored.epoch,
        seq: BigInt(stored.seq),
        items: stored.items.map((b) => fromBinary(WorkItemSchema, b)),
        lanes: stored.lanes.map((b) => fromBinary(SwimLaneSchema, b)),
        sprints: stored.sprints.map((b) => fromBinary(SprintSchema, b)),
      };
    } catch {
      return undefined; // a cache that cannot be read is no cache: load from the server
    }
  }

  async save(projectId: string, snapshot: Snapshot): Promise<void> {
    const stored: Stored = {
      projectId,
      epoch: snapshot.epoch,
      seq: snapshot.seq.toString(),
      items: snapshot.items.map((i) => toBinary(WorkItemSchema, i)),
      lanes: snapshot.lanes.map((l) => toBinary(SwimLaneSchema, l)),
      sprints: snapshot.sprints.map((s) => toBinary(SprintSchema, s)),
    };
    const db = await this.open();
    await request(db.transaction(STORE, "readwrite").objectStore(STORE).put(stored));
  }

  /** Forget everything (sign-out). */
  async clear(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (db !== undefined) (await db).close();
    await request(indexedDB.deleteDatabase(this.name));
  }
}
