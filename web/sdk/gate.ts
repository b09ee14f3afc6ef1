// A flag that async code can wait for (the SDK's asyncio.Event).
export class Gate {
  private open = false;
  private waiters: (() => void)[] = [];

  get isSet(): boolean {
    return this.open;
  }

  set(): void {
    this.open = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  clear(): void {
    this.open = false;
  }

  wait(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
