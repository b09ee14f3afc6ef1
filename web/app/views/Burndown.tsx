// The active sprint's burndown, computed here from the activity of its items (burndown.ts).
import { useEffect, useState } from "preact/hooks";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { EntityType, SprintStatus } from "../../sdk/gen/pm_proto/v1/entities_pb.js";
import { burndown, type Day, type StatusChange } from "../burndown.js";
import type { Board } from "../store.js";

const STATUS_JSON: Record<number, string> = { 1: '"backlog"', 2: '"todo"', 3: '"in_progress"', 4: '"in_review"', 5: '"done"' };

export function Burndown({ board }: { board: Board }) {
  const sprint = board.sprints.value.find((s) => s.status === SprintStatus.ACTIVE);
  const items = [...board.items.value.values()].filter((i) => sprint !== undefined && i.sprintId === sprint.id);
  const [days, setDays] = useState<Day[]>([]);
  const key = items.map((i) => `${i.id}:${String(i.version)}`).join(",");

  useEffect(() => {
    if (sprint?.startsAt === undefined || sprint.endsAt === undefined) return;
    const start = timestampDate(sprint.startsAt).getTime();
    const end = timestampDate(sprint.endsAt).getTime();
    void Promise.all(
      items.map(async (item) => {
        const activity = await board.pm.call("listActivity", {
          scope: { case: "entity", value: { type: EntityType.WORK_ITEM, id: item.id } },
          limit: 200,
        });
        const changes: StatusChange[] = activity.entries
          .flatMap((a) =>
            a.field === "status" && a.createdAt !== undefined
              ? [{ at: timestampDate(a.createdAt).getTime(), from: a.oldJson, to: a.newJson }]
              : [],
          )
          .sort((a, b) => a.at - b.at);
        return [item.id, changes] as const;
      }),
    ).then((pairs) => {
      const sprintItems = items.map((i) => ({ id: i.id, points: i.storyPoints ?? 0, status: STATUS_JSON[i.status] ?? "" }));
      setDays(burndown(sprintItems, new Map(pairs), start, end, Date.now()));
    });
  }, [sprint?.id, key]);

  if (sprint === undefined) return <p class="empty">No active sprint: start one under Planning.</p>;
  const width = 640;
  const height = 280;
  const pad = 36;
  const total = Math.max(1, ...days.map((d) => Math.max(d.remaining, d.ideal)));
  const span = days.length > 1 ? (days.at(-1)?.at ?? 0) - (days[0]?.at ?? 0) : 1;
  const first = days[0]?.at ?? 0;
  const end = sprint.endsAt === undefined ? first + span : timestampDate(sprint.endsAt).getTime();
  const x = (at: number) => pad + ((at - first) / Math.max(1, end - first)) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / total) * (height - 2 * pad);
  const line = (pick: (d: Day) => number) => days.map((d) => `${x(d.at).toFixed(1)},${y(pick(d)).toFixed(1)}`).join(" ");
  return (
    <section class="burndown" aria-label="Burndown">
      <h2>
        {sprint.name}: burndown <span class="muted">(points not done, per day; computed from activity)</span>
      </h2>
      <svg width={width} height={height} role="img" aria-label="Burndown chart">
        <line x1={pad} y1={height - pad} x2={width - pad} y2={height - pad} class="axis" />
        <line x1={pad} y1={pad} x2={pad} y2={height - pad} class="axis" />
        <text x={pad - 6} y={y(total) + 4} class="label" text-anchor="end">{total}</text>
        <text x={pad - 6} y={height - pad + 4} class="label" text-anchor="end">0</text>
        <polyline points={[x(first), y(total), x(end), y(0)].map((v) => v.toFixed(1)).join(" ")} class="ideal" />
        <polyline points={line((d) => d.remaining)} class="actual" />
        {days.map((d) => (
          <circle key={d.at} cx={x(d.at)} cy={y(d.remaining)} r={3} class="dot" />
        ))}
      </svg>
      <p class="muted">
        {items.length} items, {items.reduce((s, i) => s + (i.storyPoints ?? 0), 0)} points; {days.at(-1)?.remaining ?? 0} remaining.
      </p>
    </section>
  );
}
