// The pm client for browsers (and Node 20+ with its WebSocket): the twin of pm_client.
//
//   const pm = new PmClient({ url: "ws://127.0.0.1:8700/v1/ws", token: () => token });
//   await pm.connect();
//   const { project } = await pm.call("createProject", { key: "PM", name: "Board" });
//   pm.on("event", (event) => render(event));
//   await pm.subscribe([project!.id]);
//
// One socket. Replies and errors resolve the request that carries their request id; events go
// through Positions (resume positions, duplicates) to the "event" listeners, in order.
//
// When the socket drops (not after close()), the client reconnects with backoff (Backoff: the
// delay grows while connections keep dying at once), subscribes every subscription again from
// the last seq it processed ("mustRefetch" when the server cannot honour it: reload), rejoins
// presence, and only then lets requests through again. Reads and mutations in flight at the
// drop are sent again with the same request id, so a mutation is applied once (the server
// answers a repeated id with the reply it stored). Commands whose effect belongs to the
// connection (subscribe, unsubscribe, presence) reject with ConnectionLost instead. Retryable
// errors are retried with the same id after a pause while the request's time allows; after
// RATE_LIMITED no frame at all is sent before retry_after_ms has passed, and from then on the
// client paces its sends under the rate the server stated (Pacer), so following the server's
// advice never gets the connection closed for flooding (1008).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Backoff, type BackoffOptions } from "./backoff.js";
import {
  SESSION_COMMANDS,
  isCommand,
  type CommandInput,
  type CommandName,
  type CommandResult,
  ANSWERED_BY,
} from "./commands.js";
import { ClientError, ConnectionLost, RequestTimeout, ServerError } from "./errors.js";
import { Gate, sleep } from "./gate.js";
import type { SubscribeReply } from "./gen/pm_proto/v1/commands_pb.js";
import {
  ClientMessageSchema,
  ErrorCode,
  ServerMessageSchema,
  type Error as PbError,
  type ServerMessage,
  type Welcome,
} from "./gen/pm_proto/v1/envelope_pb.js";
import type { Event } from "./gen/pm_proto/v1/events_pb.js";
import { Pacer } from "./pacing.js";
import { Positions } from "./positions.js";

export const PROTOCOL_VERSION = 1;
/** Close codes after which reconnecting cannot help: flooding after RATE_LIMITED; revoked key. */
const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([1008, 4003]);

export type WebSocketFactory = (url: string, protocols: string[]) => WebSocket;

export interface PmClientOptions {
  /** ws://host:port/v1/ws (http:// and https:// work too). */
  url: string;
  /** The access token; called on every connect and before the token expires, so it may refresh. */
  token: () => string | Promise<string>;
  /** The longest a request waits in all, reconnects and retries included (default 10 s). */
  requestTimeoutMs?: number;
  /** The longest an upgrade waits for the server's welcome (default 10 s). */
  connectTimeoutMs?: number;
  /** Send `reauthenticate` this long before the token's `exp` (default 60 s). */
  reauthenticateAheadMs?: number;
  backoff?: BackoffOptions;
  /** How sockets are made (default: the global WebSocket). */
  webSocket?: WebSocketFactory;
}

export type ClientStatus = "idle" | "connecting" | "online" | "offline" | "closed";

export interface ClientEvents {
  /** An event of a subscribed project, in seq order, each once; presence events have seq 0. */
  event: Event;
  /** A resume position was not honoured (e.g. the tenant was restored): reload, then go on. */
  mustRefetch: { epoch: string; seq: bigint };
  status: ClientStatus;
  /** A subscription could not be restored after a reconnect, or the client gave up. */
  error: ClientError;
}

type Listener<K extends keyof ClientEvents> = (value: ClientEvents[K]) => void;

interface Pending {
  resolve: (message: ServerMessage) => void;
  reject: (error: unknown) => void;
}

/** Internal: the socket a request was sent on is gone. */
class Dropped extends Error {}
/** Internal: the request's time ran out. */
class Deadline extends Error {}

export class PmClient {
  readonly url: string;
  /** The server's welcome on the current (or last) connection. */
  welcome: Welcome | undefined;
  /** How many times the connection was re-established. */
  reconnects = 0;
  status: ClientStatus = "idle";

  private readonly options: PmClientOptions;
  private readonly backoff: Backoff;
  private readonly positions = new Positions();
  private readonly presentIn = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private readonly usable = new Gate();
  private readonly listeners = new Map<keyof ClientEvents, Set<(value: never) => void>>();
  private ws: WebSocket | undefined;
  private started = false;
  private closed = false;
  private reconnecting = false;
  private failure: ClientError | undefined;
  private readonly pacer = new Pacer();
  private reauthTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: PmClientOptions) {
    this.options = options;
    this.url = options.url.replace(/^http/, "ws");
    this.backoff = new Backoff(options.backoff);
  }

  // -- state ---------------------------------------------------------------------

  /** The tenant's epoch, from the last subscribe reply ("" before any). */
  get epoch(): string {
    return this.positions.epoch;
  }

  /** The highest seq received or subscribed from, in `epoch`. */
  get lastSeq(): bigint {
    return this.positions.lastSeq;
  }

  /** Where `projectId`'s events stand: what to resume from after a reload (undefined: not subscribed). */
  positionOf(projectId: string): { epoch: string; seq: bigint } | undefined {
    const seq = this.positions.seqOf(projectId);
    return seq === undefined ? undefined : { epoch: this.positions.epoch, seq };
  }

  get connected(): boolean {
    return this.ws !== undefined && this.usable.isSet;
  }

  on<K extends keyof ClientEvents>(type: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(type, set);
    }
    const added = listener as (value: never) => void;
    set.add(added);
    return () => set.delete(added);
  }

  private emit<K extends keyof ClientEvents>(type: K, value: ClientEvents[K]): void {
    for (const listener of this.listeners.get(type) ?? []) {
      (listener as Listener<K>)(value);
    }
  }

  private setStatus(status: ClientStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.emit("status", status);
  }

  // -- connecting ----------------------------------------------------------------

  /** Open the first connection; rejects if it cannot be opened (later drops reconnect). */
  async connect(): Promise<Welcome> {
    if (this.started) throw new ClientError("connect() was called already");
    this.started = true;
    this.setStatus("connecting");
    try {
      await this.open();
    } catch (error) {
      this.started = false;
      this.setStatus("offline");
      throw error;
    }
    this.usable.set();
    this.setStatus("online");
    if (this.welcome === undefined) throw new ClientError("connected without a welcome");
    return this.welcome;
  }

  /** Close for good: pending requests reject with ConnectionLost. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reauthTimer);
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000);
    this.rejectPending(new ConnectionLost("the client is closed"));
    this.usable.set();
    this.setStatus("closed");
  }

  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      void (async () => {
        const token = await this.options.token();
        const make = this.options.webSocket ?? ((url, protocols) => new WebSocket(url, protocols));
        // Browsers cannot set headers on an upgrade: the token rides as a subprotocol.
        const ws = make(this.url, ["pm.v1", `bearer.${token}`]);
        ws.binaryType = "arraybuffer";
        let welcomed = false;
        const timer = setTimeout(() => {
          ws.close();
          reject(new ClientError("no welcome from the server in time"));
        }, this.options.connectTimeoutMs ?? 10_000);
        ws.onmessage = (frame: MessageEvent) => {
          const message = decode(frame.data);
          if (message === undefined) return;
          if (!welcomed) {
            clearTimeout(timer);
            if (message.kind.case !== "welcome") {
              ws.close();
              reject(new ClientError("the server's first frame was not a welcome"));
              return;
            }
            welcomed = true;
            this.ws = ws;
            this.welcome = message.kind.value;
            this.backoff.connected(Date.now());
            this.scheduleReauthentication(token);
            resolve();
            return;
          }
          if (ws === this.ws) this.onFrame(message);
        };
        ws.onclose = (close: CloseEvent) => {
          clearTimeout(timer);
          // A refused upgrade reads as a close with 1006 in a browser: no status, no body.
          if (!welcomed) reject(new ClientError(`connection refused (close code ${String(close.code)})`));
          else this.onDrop(ws, close.code);
        };
      })().catch(reject);
    });
  }

  // -- requests --------------------------------------------------------------------

  /** Send one command; resolves with the reply's result, rejects with ServerError and co. */
  async call<C extends CommandName>(
    command: C,
    input: CommandInput<C>,
    options: { requestId?: string; timeoutMs?: number } = {},
  ): Promise<CommandResult<C>> {
    if (!isCommand(command)) throw new ClientError(`unknown command ${String(command)}`);
    const requestId = options.requestId ?? crypto.randomUUID();
    if (this.pending.has(requestId)) throw new ClientError(`request ${requestId} is in flight`);
    const frame = encode(requestId, command, input);
    const limit = this.welcome?.maxFrameBytes ?? 0;
    if (limit > 0 && frame.length > limit) {
      throw new ClientError(`${command} is ${String(frame.length)} bytes; the server takes ${String(limit)}`);
    }
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 10_000;
    let answer: ServerMessage;
    try {
      answer = await this.exchange(command, projectsOf(command, input), requestId, frame, Date.now() + timeoutMs);
    } catch (error) {
      if (error instanceof Deadline) throw new RequestTimeout(command, requestId, timeoutMs);
      throw error;
    }
    if (answer.kind.case === "error") throw new ServerError(answer.kind.value, command);
    if (answer.kind.case !== "reply") throw new ClientError(`${command} got a ${String(answer.kind.case)}`);
    const result = answer.kind.value.result;
    if (result.case !== ANSWERED_BY[command]) {
      throw new ClientError(`${command} was answered with ${String(result.case)}`);
    }
    return result.value as CommandResult<C>;
  }

  /** Receive the events of these projects, from `resume` or from now. */
  subscribe(projectIds: string[], resume?: { epoch: string; seq: bigint }): Promise<SubscribeReply> {
    return this.call("subscribe", resume === undefined ? { projectIds } : { projectIds, resume });
  }

  private async exchange(
    command: CommandName,
    projectIds: string[],
    requestId: string,
    frame: Uint8Array,
    deadline: number,
  ): Promise<ServerMessage> {
    let attempt = 0;
    for (;;) {
      const ws = await untilDeadline(this.ready(), deadline);
      const wait = this.pacer.delay(Date.now());
      if (wait > 0) {
        await untilDeadline(sleep(wait), deadline);
        if (ws !== this.ws) continue; // dropped while paused
      }
      if (command === "subscribe") this.positions.begin(projectIds);
      let answer: ServerMessage;
      try {
        answer = await this.roundtrip(ws, requestId, frame, deadline);
      } catch (error) {
        if (command === "subscribe") this.deliver(this.positions.end(projectIds, undefined));
        if (!(error instanceof Dropped)) throw error;
        if (SESSION_COMMANDS.has(command)) {
          throw new ConnectionLost(
            `the connection dropped before ${command} was answered; what was in place before is restored`,
          );
        }
        continue; // sent again, with the same id, once reconnected
      }
      if (answer.kind.case === "error") {
        if (command === "subscribe") this.deliver(this.positions.end(projectIds, undefined));
        const pause = this.retryPause(answer.kind.value, attempt);
        if (pause === undefined || Date.now() + pause >= deadline) return answer;
        attempt += 1;
        // After RATE_LIMITED the pacer holds the retry (with every other send) until its time.
        if (answer.kind.value.code !== ErrorCode.RATE_LIMITED) await sleep(pause);
        continue;
      }
      if (answer.kind.case === "reply") this.afterReply(command, projectIds, answer.kind.value.result);
      return answer;
    }
  }

  private retryPause(error: PbError, attempt: number): number | undefined {
    if (error.code === ErrorCode.RATE_LIMITED) {
      // Every frame is paced from now on, not only this request's: the bucket is the
      // connection's.
      this.pacer.refused(Date.now(), error.retryAfterMs, error.ratePerSecond);
    }
    if (!error.retryable) return undefined;
    if (error.retryAfterMs > 0) return error.retryAfterMs;
    return Math.min(5000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
  }

  private afterReply(command: CommandName, projectIds: string[], result: ServerReplyResult): void {
    if (command === "subscribe" && result.case === "subscribed") {
      this.deliver(this.positions.end(projectIds, result.value));
    } else if (command === "unsubscribe" && result.case === "unsubscribed") {
      this.positions.unsubscribed(result.value.projectIds);
    } else if (command === "joinPresence") {
      for (const id of projectIds) this.presentIn.add(id);
    } else if (command === "leavePresence") {
      for (const id of projectIds) this.presentIn.delete(id);
    }
  }

  private async ready(): Promise<WebSocket> {
    for (;;) {
      if (this.closed) throw new ConnectionLost("the client is closed");
      if (this.failure !== undefined) throw this.failure;
      if (!this.started) throw new ConnectionLost("not connected: call connect() first");
      if (this.ws !== undefined && this.usable.isSet) return this.ws;
      await this.usable.wait();
    }
  }

  private async roundtrip(
    ws: WebSocket,
    requestId: string,
    frame: Uint8Array,
    deadline: number,
  ): Promise<ServerMessage> {
    if (ws !== this.ws) throw new Dropped();
    const answered = new Promise<ServerMessage>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
    });
    try {
      try {
        ws.send(frame as Uint8Array<ArrayBuffer>); // toBinary never returns a shared buffer
      } catch {
        // a socket closing under us: its close event fails the request
      }
      return await untilDeadline(answered, deadline);
    } finally {
      this.pending.delete(requestId);
    }
  }

  /** A request on the current socket while it is being restored (the gate is shut). */
  private async callNow<C extends CommandName>(command: C, input: CommandInput<C>): Promise<CommandResult<C>> {
    const ws = this.ws;
    if (ws === undefined) throw new Dropped();
    const requestId = crypto.randomUUID();
    const deadline = Date.now() + (this.options.requestTimeoutMs ?? 10_000);
    const answer = await this.roundtrip(ws, requestId, encode(requestId, command, input), deadline);
    if (answer.kind.case === "error") throw new ServerError(answer.kind.value, command);
    if (answer.kind.case !== "reply") throw new ClientError(`${command} got a ${String(answer.kind.case)}`);
    return answer.kind.value.result.value as CommandResult<C>;
  }

  // -- frames -------------------------------------------------------------------

  private onFrame(message: ServerMessage): void {
    switch (message.kind.case) {
      case "reply":
        this.pending.get(message.kind.value.requestId)?.resolve(message);
        break;
      case "error":
        this.pending.get(message.kind.value.requestId)?.resolve(message);
        break;
      case "event":
        this.deliver([message.kind.value].filter((event) => this.positions.accept(event)));
        break;
      case "events":
        this.deliver(message.kind.value.events.filter((event) => this.positions.accept(event)));
        break;
      default:
        break;
    }
  }

  private deliver(events: Event[]): void {
    for (const event of events) this.emit("event", event);
  }

  private rejectPending(error: unknown): void {
    for (const pending of [...this.pending.values()]) pending.reject(error);
  }

  // -- drops and reconnects ---------------------------------------------------------

  private onDrop(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return; // closed by close(), or replaced already
    this.ws = undefined;
    this.usable.clear();
    this.backoff.dropped(Date.now());
    clearTimeout(this.reauthTimer);
    this.rejectPending(new Dropped());
    if (this.closed) return;
    if (FINAL_CLOSE_CODES.has(code)) {
      this.fail(new ConnectionLost(`the server closed the connection (code ${String(code)})`, code));
      return;
    }
    this.setStatus("offline");
    if (!this.reconnecting) void this.reconnect();
  }

  /** A method, not the field: TypeScript would keep a check of the field narrowed across awaits. */
  private isClosed(): boolean {
    return this.closed;
  }

  private fail(error: ClientError): void {
    this.failure = error;
    this.usable.set();
    this.setStatus("closed");
    this.emit("error", error);
  }

  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    try {
      while (!this.closed) {
        await sleep(this.backoff.next());
        if (this.isClosed()) return; // close() may have run during the sleep
        try {
          await this.open();
        } catch {
          continue; // refused, or the server is not there yet: wait longer
        }
        try {
          await this.restore();
        } catch (error) {
          if (!(error instanceof Dropped || error instanceof Deadline)) throw error;
          this.ws?.close();
          continue;
        }
        if (this.ws === undefined) continue; // dropped again after the restore's last reply
        this.reconnects += 1;
        this.usable.set();
        this.setStatus("online");
        return;
      }
    } catch (error) {
      // a bug must not leave requests waiting forever
      this.fail(new ConnectionLost(`reconnecting failed: ${String(error)}`));
    } finally {
      this.reconnecting = false;
    }
  }

  /** Subscribe again from where each subscription stood; rejoin presence. */
  private async restore(): Promise<void> {
    for (const { projectIds, seq } of this.positions.groups()) {
      this.positions.begin(projectIds);
      let reply: SubscribeReply;
      try {
        reply = await this.callNow("subscribe", { projectIds, resume: { epoch: this.positions.epoch, seq } });
      } catch (error) {
        this.deliver(this.positions.end(projectIds, undefined));
        if (!(error instanceof ServerError)) throw error;
        this.positions.unsubscribed(projectIds); // e.g. the project is gone
        this.emit("error", error);
        continue;
      }
      if (reply.mustRefetch) this.emit("mustRefetch", { epoch: reply.epoch, seq: reply.seq });
      this.deliver(this.positions.end(projectIds, reply));
    }
    for (const projectId of [...this.presentIn]) {
      try {
        await this.callNow("joinPresence", { projectId });
      } catch (error) {
        if (!(error instanceof ServerError)) throw error;
        this.presentIn.delete(projectId);
      }
    }
  }

  // -- staying signed in ---------------------------------------------------------------

  /** Present a fresh token `reauthenticateAheadMs` before this one's exp (4001 otherwise). */
  private scheduleReauthentication(token: string): void {
    clearTimeout(this.reauthTimer);
    const exp = expiryOf(token);
    if (exp === undefined) return;
    const ahead = this.options.reauthenticateAheadMs ?? 60_000;
    this.reauthTimer = setTimeout(() => {
      void this.reauthenticate();
    }, Math.max(0, exp - ahead - Date.now()));
  }

  private async reauthenticate(): Promise<void> {
    try {
      const token = await this.options.token();
      await this.call("reauthenticate", { accessToken: token });
      this.scheduleReauthentication(token);
    } catch (error) {
      // the connection closes with 4001 at exp; the reconnect asks for a token again
      if (error instanceof ClientError) this.emit("error", error);
    }
  }
}

type ServerReplyResult = Extract<ServerMessage["kind"], { case: "reply" }>["value"]["result"];

function encode<C extends CommandName>(requestId: string, command: C, input: CommandInput<C>): Uint8Array {
  const message = create(ClientMessageSchema, {
    requestId,
    protocolVersion: PROTOCOL_VERSION,
    command: { case: command, value: input } as never,
  });
  return toBinary(ClientMessageSchema, message);
}

function decode(data: unknown): ServerMessage | undefined {
  if (!(data instanceof ArrayBuffer)) return undefined; // pm sends binary frames only
  try {
    return fromBinary(ServerMessageSchema, new Uint8Array(data));
  } catch {
    return undefined;
  }
}

/** The project ids a subscribe or presence command names. */
function projectsOf<C extends CommandName>(command: C, input: CommandInput<C>): string[] {
  const fields = input as { projectIds?: string[]; projectId?: string };
  if (command === "subscribe") return [...new Set(fields.projectIds ?? [])];
  if (command === "joinPresence" || command === "leavePresence") return [fields.projectId ?? ""];
  return [];
}

/** A JWT's exp in ms since the epoch; undefined when it has none or is not a JWT. */
export function expiryOf(token: string): number | undefined {
  const payload = token.split(".").at(1);
  if (payload === undefined) return undefined;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/")) ;
    const claims = JSON.parse(json) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function untilDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Deadline());
    }, Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
