// The board's pure parts: where a card lands, and the burndown.
import assert from "node:assert/strict";
import { test } from "node:test";
import { burndown, statusAt, type StatusChange } from "../burndown.js";
import { MIN_GAP, STEP, between, renumbered, tooClose } from "../ordering.js";

test("a card lands between its neighbours, or a step past the end it was dropped at", () => {
  assert.equal(between(undefined, undefined), STEP);
  assert.equal(between(1024, 2048), 1536);
  assert.equal(between(undefined, 1024), 0);
  assert.equal(between(2048, undefined), 3072);
});

test("a gap too thin to halve asks for the column to be renumbered", () => {
  let low = 1024;
  const high = 2048;
  let moves = 0;
  while (!tooClose(low, high)) {
    low = between(low, high);
    moves += 1;
  }
  assert.equal(moves, 30); // 1024 halved 30 times is under MIN_GAP
  assert.ok(high - low < MIN_GAP);
  assert.deepEqual(renumbered(3), [1024, 2048, 3072]);
});

const DAY = 24 * 60 * 60 * 1000;
const done = JSON.stringify("done");
const todo = JSON.stringify("todo");

test("an item's status at a time is its last change up to then, or the first change's old value", () => {
  const item = { id: "a", points: 3, status: done };
  const changes: StatusChange[] = [
    { at: 10, from: todo, to: JSON.stringify("in_progress") },
    { at: 20, from: JSON.stringify("in_progress"), to: done },
  ];
  assert.equal(statusAt(item, changes, 5), todo);
  assert.equal(statusAt(item, changes, 15), JSON.stringify("in_progress"));
  assert.equal(statusAt(item, changes, 25), done);
  assert.equal(statusAt(item, [], 25), done);
});

test("the burndown counts the points not done at each day's end, against the ideal line", () => {
  const start = 0;
  const items = [
    { id: "a", points: 5, status: done },
    { id: "b", points: 3, status: todo },
  ];
  const changes = new Map([["a", [{ at: 1.5 * DAY, from: todo, to: done }]]]);
  const days = burndown(items, changes, start, 4 * DAY, 2.5 * DAY);
  assert.deepEqual(
    days.map((d) => d.remaining),
    [8, 8, 3, 3],
  );
  assert.equal(days[0]?.ideal, 8);
  assert.equal(days[2]?.ideal, 4);
});
