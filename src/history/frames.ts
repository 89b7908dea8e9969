/**
 * The extra top-level fields history adds to Pusher frames (docs/history.md).
 * Frames are built by the protocol module as finished JSON objects; the
 * fields are spliced in before the closing brace so that the Pusher part of
 * the frame stays byte for byte what it would be without history.
 */

/** An epoch: one unbroken stream of offsets. */
const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isEpoch(value: unknown): value is string {
  return typeof value === 'string' && EPOCH_PATTERN.test(value);
}

/** `json` (an object's JSON) with `offset` and `epoch` added as its last fields. */
export function withPosition(json: string, offset: number, epoch: string): string {
  return `${json.slice(0, -1)},"offset":${offset},"epoch":"${epoch}"}`;
}

/** A subscription_succeeded frame with the stream's position at the seam and, when asked, whether recovery succeeded. */
export function succeededWithPosition(json: string, position: { offset: number; epoch: string } | null, recovered: boolean | undefined): string {
  let out = position === null ? json : withPosition(json, position.offset, position.epoch);
  if (recovered !== undefined) out = `${out.slice(0, -1)},"recovered":${recovered}}`;
  return out;
}
