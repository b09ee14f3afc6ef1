// Where a card lands: a position between its new neighbours (positions are doubles, so there
// is always room in between until the gap gets too thin; then the column is renumbered).

/** The gap between two neighbours when a column is renumbered, and after the last card. */
export const STEP = 1024;
/** Below this gap a midpoint is no longer safely distinct from its neighbours. */
export const MIN_GAP = 1e-6;

/** The position between `before` and `after` (either may be missing: an end of the column). */
export function between(before: number | undefined, after: number | undefined): number {
  if (before === undefined && after === undefined) return STEP;
  if (before === undefined) return (after as number) - STEP;
  if (after === undefined) return before + STEP;
  return before + (after - before) / 2;
}

/** Whether the two neighbours are too close to put a card between them. */
export function tooClose(before: number | undefined, after: number | undefined): boolean {
  return before !== undefined && after !== undefined && after - before < MIN_GAP;
}

/** Fresh positions for a whole column, in its order: STEP, 2*STEP, ... */
export function renumbered(count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i + 1) * STEP);
}
