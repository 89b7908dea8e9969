/**
 * A sleep that can be cut short. A ring that comes while nobody waits is
 * kept, so the next wait returns at once: an enqueue landing between a
 * consumer's empty read and its wait is never slept through.
 */
export class Wakeup {
  private waiter: (() => void) | null = null;
  private rung = false;

  /** Resolves after `ms`, or at the first ring. */
  wait(ms: number): Promise<void> {
    if (this.rung) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.waiter === done) self.waiter = null;
        resolve();
      }
      this.waiter = done;
    });
  }

  ring(): void {
    const waiter = this.waiter;
    if (waiter === null) {
      this.rung = true;
      return;
    }
    this.waiter = null;
    waiter();
  }
}
