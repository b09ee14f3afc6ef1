// The board's pure parts: where a card lands.
import assert from "node:assert/strict";
import { test } from "node:test";
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
