/**
 * A coarse clock in whole seconds, advanced by the keep-alive sweep, so the
 * per-message path stamps activity without a syscall.
 */
let nowSeconds = Math.floor(Date.now() / 1000);

export function coarseNow(): number {
  return nowSeconds;
}

export function tickCoarseClock(): number {
  nowSeconds = Math.floor(Date.now() / 1000);
  return nowSeconds;
}
