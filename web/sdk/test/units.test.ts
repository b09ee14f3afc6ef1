// The SDK's pure parts, without a server: backoff, pacing, positions, token expiry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Backoff } from "../backoff.js";
import { expiryOf } from "../client.js";
import { SubscribeReplySchema } from "../gen/pm_proto/v1/commands_pb.js";
import { EventSchema } from "../gen/pm_proto/v1/events_pb.js";
import { Pacer } from "../pacing.js";
import { Positions } from "../positions.js";

test("backoff grows to its cap and does not reset on connections that die at once", () => {
  const backoff = new Backoff({ firstMs: 100, maxMs: 1600, stableMs: 10_000, random: () => 0.999999 });
  const delays = [1, 2, 3, 4, 5, 6].map(() => Math.round(backoff.next()));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 1600]);
  // Each connection is accepted, then dropped a moment later: the delay stays at the cap.
  for (let i = 0; i < 3; i++) {
    backoff.connected(1_000_000 + i);
    backoff.dropped(1_000_000 + i + 50);
    assert.equal(Math.round(backoff.next()), 1600);
  }
});

test("backoff starts over after a connection that lasted", () => {
  const backoff = new Backoff({ firstMs: 100, maxMs: 1600, stableMs: 10_000, random: () => 0.999999 });
  for (let i = 0; i < 5; i++) backoff.next();
  backoff.connected(0);
  backoff.dropped(10_000);
  assert.equal(Math.round(backoff.next()), 100);
});

test("backoff jitter keeps each delay between half and all of the step", () => {
  const low = new Backoff({ firstMs: 100, random: () => 0 });
  assert.equal(low.next(), 50);
  assert.equal(low.next(), 100);
});

function event(projectId: string, seq: bigint) {
  return create(EventSchema, { projectId, seq });
}

test("positions drop repeated seqs and hold events that overtake a subscribe reply", () => {
  const positions = new Positions();
  positions.begin(["p"]);
  assert.equal(positions.accept(event("p", 11n)), false); // held until the reply
  const due = positions.end(["p"], create(SubscribeReplySchema, { epoch: "e1", seq: 10n, projectIds: ["p"] }));
  assert.deepEqual(due.map((e) => e.seq), [11n]);
  assert.equal(positions.accept(event("p", 11n)), false); // a duplicate
  assert.equal(positions.accept(event("p", 12n)), true);
  assert.equal(positions.accept(event("p", 0n)), true); // presence has no seq
  assert.deepEqual(positions.groups(), [{ projectIds: ["p"], seq: 12n }]);
  assert.equal(positions.lastSeq, 12n);
});

test("positions keep seqs past 2^53 exact", () => {
  const positions = new Positions();
  const big = 2n ** 53n + 1n;
  positions.begin(["p"]);
  positions.end(["p"], create(SubscribeReplySchema, { epoch: "e", seq: big, projectIds: ["p"] }));
  assert.equal(positions.accept(event("p", big)), false);
  assert.equal(positions.accept(event("p", big + 1n)), true);
  assert.equal(positions.lastSeq, 2n ** 53n + 2n);
});

test("expiryOf reads a JWT's exp and ignores what is not one", () => {
  const payload = Buffer.from(JSON.stringify({ exp: 1_900_000_000 })).toString("base64url");
  assert.equal(expiryOf(`h.${payload}.s`), 1_900_000_000_000);
  assert.equal(expiryOf("not-a-jwt"), undefined);
});

test("the pacer sends freely until refused, then waits the retry time and spaces sends under the stated rate", () => {
  const pacer = new Pacer();
  assert.deepEqual([0, 1, 2].map(() => pacer.delay(1000)), [0, 0, 0]);
  pacer.refused(1000, 200, 100); // retry in 200 ms; the limit is 100/s
  const waits = [0, 1, 2, 3].map(() => pacer.delay(1000));
  const step = 1000 / (100 * 0.95);
  assert.equal(waits[0], 200);
  for (let i = 1; i < waits.length; i++) assert.ok(Math.abs(waits[i]! - waits[i - 1]! - step) < 1e-9);
  // Idle for a while: the next send goes at once, the one after it a step later.
  assert.equal(pacer.delay(10_000), 0);
  assert.ok(Math.abs(pacer.delay(10_000) - step) < 1e-9);
});

test("a refusal without a stated rate only holds sends until its retry time", () => {
  const pacer = new Pacer();
  pacer.refused(0, 300, 0);
  assert.equal(pacer.delay(100), 200);
  assert.equal(pacer.delay(100), 200);
  assert.equal(pacer.delay(400), 0);
});
