// Where the client stands in its event streams (the twin of pm_client/events.py).
//
// Each successful subscribe starts a group: the projects it named and the seq of the last event
// of those projects received (at first the reply's seq). Within a group the server delivers
// events in seq order, so that one number is an exact resume position: after a reconnect the
// client subscribes each group again with resume = (epoch, seq) and gets every later event
// once. An event at or below its group's position is a duplicate and is dropped.
//
// While a subscribe is in flight, events of its projects are held back and released after the
// reply, so a live event that overtakes the reply is neither lost nor counted before the
// group's position is known. Seqs are bigint: an int64 keeps every digit.
import type { SubscribeReply } from "./gen/pm_proto/v1/commands_pb.js";
import type { Event } from "./gen/pm_proto/v1/events_pb.js";

interface Group {
  projectIds: string[];
  seq: bigint;
}

export class Positions {
  /** The tenant's epoch of the last subscribe reply ("" before any). */
  epoch = "";
  /** The highest seq received or subscribed from, in `epoch`. */
  lastSeq = 0n;
  private readonly byProject = new Map<string, Group>();
  private readonly subscribing = new Map<string, number>();
  private held: Event[] = [];

  /** Each subscription as its project ids and last seq, in subscription order. */
  groups(): { projectIds: string[]; seq: bigint }[] {
    const seen = new Set<Group>();
    for (const group of this.byProject.values()) seen.add(group);
    return [...seen].map((g) => ({ projectIds: [...g.projectIds], seq: g.seq }));
  }

  /** The resume position of `projectId`'s subscription (its group's seq), if subscribed. */
  seqOf(projectId: string): bigint | undefined {
    return this.byProject.get(projectId)?.seq;
  }

  /** Whether to hand `event` out now (held and duplicate events are not). */
  accept(event: Event): boolean {
    if (event.seq === 0n) return true; // presence: not stored, not ordered, never replayed
    if ((this.subscribing.get(event.projectId) ?? 0) > 0) {
      this.held.push(event);
      return false;
    }
    const group = this.byProject.get(event.projectId);
    if (group !== undefined) {
      if (event.seq <= group.seq) return false;
      group.seq = event.seq;
    }
    if (event.seq > this.lastSeq) this.lastSeq = event.seq;
    return true;
  }

  /** A subscribe for `projectIds` is about to be sent. */
  begin(projectIds: readonly string[]): void {
    for (const id of projectIds) this.subscribing.set(id, (this.subscribing.get(id) ?? 0) + 1);
  }

  /** The subscribe ended (`reply` undefined: it failed); returns the held events now due. */
  end(projectIds: readonly string[], reply: SubscribeReply | undefined): Event[] {
    for (const id of projectIds) {
      const left = (this.subscribing.get(id) ?? 0) - 1;
      if (left > 0) this.subscribing.set(id, left);
      else this.subscribing.delete(id);
    }
    if (reply !== undefined) this.startGroup(reply);
    const held = this.held;
    this.held = [];
    return held.filter((event) => this.accept(event));
  }

  unsubscribed(projectIds: readonly string[]): void {
    this.remove(projectIds);
  }

  private startGroup(reply: SubscribeReply): void {
    if (reply.epoch !== this.epoch) {
      this.epoch = reply.epoch;
      this.lastSeq = reply.seq;
    } else if (reply.seq > this.lastSeq) {
      this.lastSeq = reply.seq;
    }
    this.remove(reply.projectIds);
    const group: Group = { projectIds: [...reply.projectIds], seq: reply.seq };
    for (const id of group.projectIds) this.byProject.set(id, group);
  }

  private remove(projectIds: readonly string[]): void {
    for (const id of projectIds) {
      const group = this.byProject.get(id);
      if (group === undefined) continue;
      this.byProject.delete(id);
      group.projectIds = group.projectIds.filter((p) => p !== id);
    }
  }
}
