// A real pm server for the SDK's tests: `python -m pm_server serve` on a port the system picks
// (PM_PORT=0; the "serving on" line names it), restarted on that same port after a stop.
// PM_PYTHON names the interpreter that has pm installed (tests/web/test_sdk_functional.py
// passes its own); PM_WEB_TMP the directory for data dirs.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SERVING = /serving on http:\/\/[^\s:]+:(\d+) /;
const PYTHON = process.env.PM_PYTHON ?? "python3";

export class PmServer {
  port = 0;
  readonly dataDir: string;
  /** Everything the server wrote to stderr, for a failing test's message. */
  log = "";
  private proc: ChildProcess | undefined;

  constructor(private readonly env: Record<string, string> = {}) {
    this.dataDir = mkdtempSync(join(process.env.PM_WEB_TMP ?? tmpdir(), "pm-sdk-"));
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${String(this.port)}/v1/ws`;
  }

  async start(): Promise<void> {
    const proc = spawn(PYTHON, ["-m", "pm_server", "serve"], {
      env: {
        ...process.env,
        PM_LOG_LEVEL: "INFO",
        ...this.env,
        PM_HOST: "127.0.0.1",
        PM_PORT: String(this.port),
        PM_DATA_DIR: this.dataDir,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.proc = proc;
    const offset = this.log.length;
    this.port = await new Promise<number>((resolve, reject) => {
      proc.stderr.on("data", (chunk: Buffer) => {
        this.log += chunk.toString();
        const found = SERVING.exec(this.log.slice(offset));
        if (found?.[1] !== undefined) resolve(Number(found[1]));
      });
      proc.on("exit", (code: number | null) => {
        reject(new Error(`pm serve exited with ${String(code)}:\n${this.log}`));
      });
    });
  }

  /** SIGTERM (a graceful drain: connections close with 1001) and wait for the exit. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    await exited;
  }

  /** A development token of `user` in `tenant`, from `pm token` on this data dir. */
  token(tenant: string, user: string): string {
    const out = execFileSync(
      PYTHON,
      ["-m", "pm_server", "token", "--tenant", tenant, "--user", user, "--name", user],
      { env: { ...process.env, PM_DATA_DIR: this.dataDir } },
    );
    return out.toString().trim();
  }
}

/** Resolves once `check()` holds; rejects after `ms` (a guard against a hang, not a timing). */
export async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sockets the test can drop, refuse and deafen, for the client under test. */
export class Sockets {
  last: WebSocket | undefined;
  /** New connections fail at once (as a server that is not there). */
  refuse = false;
  /** Frames from the server are dropped unread (as if lost with the connection). */
  deaf = false;

  readonly factory = (url: string, protocols: string[]): WebSocket => {
    if (this.refuse) throw new Error("refused by the test");
    const ws = new WebSocket(url, protocols);
    // The client sets onmessage; pass its frames through unless the test made this deaf.
    Object.defineProperty(ws, "onmessage", {
      set: (handler: (event: MessageEvent) => void) => {
        ws.addEventListener("message", (event) => {
          if (!this.deaf) handler(event);
        });
      },
    });
    this.last = ws;
    return ws;
  };
}
