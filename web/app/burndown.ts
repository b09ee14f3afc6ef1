// The burndown of a sprint, computed on the client from the items' activity (the server has no
// report command yet): the points of the sprint's items not done at the end of each day.
// The sprint's items are those in it now; an item's status on a day is the last status change
// recorded up to then (or, before its first change, that change's old value).

export interface StatusChange {
  at: number; // ms since the epoch
  from: string; // the JSON text of the old status, e.g. "\"todo\""
  to: string;
}

export interface SprintItem {
  id: string;
  points: number;
  status: string; // the current status, as JSON text
}

export interface Day {
  at: number;
  remaining: number;
  ideal: number;
}

const DONE = JSON.stringify("done");
const DAY = 24 * 60 * 60 * 1000;

/** The status of an item at time `t`, from its changes sorted by time. */
export function statusAt(item: SprintItem, changes: readonly StatusChange[], t: number): string {
  let status: string | undefined;
  for (const change of changes) {
    if (change.at <= t) status = change.to;
    else return status ?? change.from;
  }
  return status ?? item.status;
}

/** One point a day from `start` to `end` (or to `now`, if sooner), with the ideal line. */
export function burndown(
  items: readonly SprintItem[],
  changes: ReadonlyMap<string, readonly StatusChange[]>,
  start: number,
  end: number,
  now: number,
): Day[] {
  const total = items.reduce((sum, item) => sum + item.points, 0);
  const span = Math.max(DAY, end - start);
  const days: Day[] = [];
  for (let at = start; at <= end + 1; at += DAY) {
    const t = Math.min(at, now);
    const remaining = items.reduce((sum, item) => {
      const done = statusAt(item, changes.get(item.id) ?? [], t) === DONE;
      return done ? sum : sum + item.points;
    }, 0);
    days.push({ at, remaining, ideal: Math.max(0, total * (1 - (at - start) / span)) });
    if (at >= now) break;
  }
  return days;
}
