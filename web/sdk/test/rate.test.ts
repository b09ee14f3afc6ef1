// The SDK against a pm server with a low rate limit: a burst far above it is paced by the
// server's RATE_LIMITED advice (retry_after_ms, rate_per_second), completes, and the connection
// is never closed for flooding.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PmClient } from "../client.js";
import { PmServer } from "./server.js";

// 100 commands/s after a burst of 10; the 5th refusal within 10 s closes the connection (1008).
const server = new PmServer({
  PM_RATE_LIMIT_CONNECTION_PER_SECOND: "100",
  PM_RATE_LIMIT_CONNECTION_BURST: "10",
  PM_RATE_LIMIT_FLOOD_REFUSALS: "5",
  PM_RATE_LIMIT_FLOOD_WINDOW_SECONDS: "10",
});
let pm: PmClient | undefined;

before(async () => {
  await server.start();
});

after(async () => {
  pm?.close();
  await server.stop();
});

/** A counter of the server's /metrics (0 when absent), summed over its labels matching `label`. */
async function metric(name: string, label: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${String(server.port)}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(label)) total += Number(line.split(" ").at(-1));
  }
  return total;
}

test("a burst of 300 pings, 32 at a time, is paced by RATE_LIMITED and all answered, never closed", async () => {
  const token = server.token("acme", "burst");
  const closes: number[] = [];
  const client = new PmClient({
    url: server.wsUrl,
    token: () => token,
    requestTimeoutMs: 60_000,
    webSocket: (url, protocols) => {
      const ws = new WebSocket(url, protocols);
      ws.addEventListener("close", (event) => closes.push(event.code));
      return ws;
    },
  });
  pm = client;
  const errors: unknown[] = [];
  client.on("error", (error) => errors.push(error));
  await client.connect();

  const nonces = [...Array(300).keys()].map((n) => BigInt(n));
  const queue = [...nonces];
  const answered: bigint[] = [];
  await Promise.all(
    [...Array(32).keys()].map(async () => {
      for (let nonce = queue.shift(); nonce !== undefined; nonce = queue.shift()) {
        answered.push((await client.call("ping", { nonce })).nonce);
      }
    }),
  );

  assert.deepEqual([...answered].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), nonces);
  assert.deepEqual(closes, []); // no 1008, no 4xxx: the one socket stayed open
  assert.deepEqual(errors, []);
  assert.equal(client.status, "online");
  assert.equal(client.reconnects, 0);
  const refused = await metric("pm_rate_limited_total", 'scope="connection"');
  // 32 at once is over the burst of 10: refused for sure. Paced from then on: a client that
  // only retried as told would be refused about once per request past the burst (~290).
  assert.ok(refused >= 1, "the burst was never refused: the limit did not apply");
  assert.ok(refused < 300 / 4, `refused ${String(refused)} times: not paced`);
  assert.equal(await metric("pm_limit_closes_total", "flood"), 0);
});
