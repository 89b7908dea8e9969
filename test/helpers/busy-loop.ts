/** Keep this process's event loop (shared with in-process nodes) busy for `ms`. */
export function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: this is the load
  }
}

/** Block the event loop `busyMs` out of every `busyMs + idleMs`, starting now; call the result to stop. */
export function busyRhythm(busyMs: number, idleMs: number): () => void {
  let on = true;
  const step = (): void => {
    if (!on) return;
    blockFor(busyMs);
    setTimeout(step, idleMs);
  };
  step();
  return () => {
    on = false;
  };
}
