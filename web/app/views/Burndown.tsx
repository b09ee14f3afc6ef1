// The active sprint's burndown, from the server's sprint report (get_sprint_report): per UTC
// day, the points of the sprint's items not done at the day's end, rebuilt by the server from
// the activity log, against the ideal line from the sprint's scope now (its last day's) at its
// start to zero at its end. Asked again whenever an item of the sprint changes.
import { useEffect, useState } from "preact/hooks";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { SprintReportDay } from "../../sdk/gen/pm_proto/v1/commands_pb.js";
import { SprintStatus } from "../../sdk/gen/pm_proto/v1/entities_pb.js";
import type { Board } from "../store.js";

const DAY = 24 * 60 * 60 * 1000;

/** A report day's date (YYYY-MM-DD, UTC) as ms since the epoch, at the day's end. */
function dayEnd(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) + DAY;
}

export function Burndown({ board }: { board: Board }) {
  const sprint = board.sprints.value.find((s) => s.status === SprintStatus.ACTIVE);
  const items = [...board.items.value.values()].filter((i) => sprint !== undefined && i.sprintId === sprint.id);
  const [days, setDays] = useState<SprintReportDay[]>([]);
  const key = items.map((i) => `${i.id}:${String(i.version)}`).join(",");

  useEffect(() => {
    if (sprint === undefined) return;
    let current = true;
    void board.pm.call("getSprintReport", { sprintId: sprint.id }).then(
      (report) => {
        if (current) setDays(report.days);
      },
      () => undefined, // the sprint is gone meanwhile: its event changes the page anyway
    );
    return () => {
      current = false;
    };
  }, [sprint?.id, key]);

  if (sprint === undefined) return <p class="empty">No active sprint: start one under Planning.</p>;
  const width = 640;
  const height = 280;
  const pad = 36;
  const points = days.map((d) => ({ at: dayEnd(d.date), remaining: Number(d.remainingPoints) }));
  const scope = Number(days.at(-1)?.scopePoints ?? 0n);
  const total = Math.max(1, scope, ...points.map((d) => d.remaining));
  const first = sprint.startsAt === undefined ? (points[0]?.at ?? 0) - DAY : timestampDate(sprint.startsAt).getTime();
  const end = sprint.endsAt === undefined ? (points.at(-1)?.at ?? first + DAY) : timestampDate(sprint.endsAt).getTime();
  const x = (at: number) => pad + ((Math.min(at, end) - first) / Math.max(1, end - first)) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / total) * (height - 2 * pad);
  const line = points.map((d) => `${x(d.at).toFixed(1)},${y(d.remaining).toFixed(1)}`).join(" ");
  const last = days.at(-1);
  return (
    <section class="burndown" aria-label="Burndown">
      <h2>
        {sprint.name}: burndown <span class="muted">(points not done at each day's end; the server's sprint report)</span>
      </h2>
      <svg width={width} height={height} role="img" aria-label="Burndown chart">
        <line x1={pad} y1={height - pad} x2={width - pad} y2={height - pad} class="axis" />
        <line x1={pad} y1={pad} x2={pad} y2={height - pad} class="axis" />
        <text x={pad - 6} y={y(total) + 4} class="label" text-anchor="end">{total}</text>
        <text x={pad - 6} y={height - pad + 4} class="label" text-anchor="end">0</text>
        <polyline points={[x(first), y(scope), x(end), y(0)].map((v) => v.toFixed(1)).join(" ")} class="ideal" />
        {points.length > 0 && <polyline points={line} class="actual" />}
        {points.map((d) => (
          <circle key={d.at} cx={x(d.at)} cy={y(d.remaining)} r={3} class="dot" />
        ))}
      </svg>
      <p class="muted">
        {last === undefined
          ? "No report yet."
          : `${String(last.scopeItems)} items, ${String(last.scopePoints)} points; ${String(last.remainingPoints)} remaining (${String(last.doneItems)} items done).`}
      </p>
    </section>
  );
}
