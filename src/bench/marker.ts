/**
 * The payload every benchmark message carries:
 * `~T<scheduled µs>~F<phase>~P<publisher>~C<connection>~S<seq>~`, optionally followed by padding.
 * `seq` counts per publisher connection, the one order a sender controls (see sequence-tracker.ts). It needs no JSON escaping, so it appears byte for byte inside
 * every protocol's envelope (including Pusher's JSON-in-JSON `data`), and a receiver reads it by
 * scanning the frame instead of parsing JSON for every delivery.
 */
export interface Marker {
  scheduledMicros: number;
  phase: number;
  publisher: number;
  /** Which of the publisher's connections sent it (0 for a client's own WebSocket). */
  connection: number;
  seq: number;
}

/** Build the marker text for one message, padded to at least `minBytes` when asked. */
export function encodeMarker(m: Marker, minBytes = 0): string {
  const text = `~T${m.scheduledMicros}~F${m.phase}~P${m.publisher}~C${m.connection}~S${m.seq}~`;
  return text.length >= minBytes ? text : text + 'x'.repeat(minBytes - text.length);
}

const TILDE = 0x7e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const FIELD_LETTERS = [0x54 /* T */, 0x46 /* F */, 0x50 /* P */, 0x43 /* C */, 0x53 /* S */] as const;

function codeAt(frame: Buffer | string, index: number): number {
  return typeof frame === 'string' ? frame.charCodeAt(index) : (frame[index] ?? -1);
}

/**
 * Read a marker out of a received frame (bytes or text) into `out`; false when the frame holds none
 * (a control message) or the marker is malformed. `out` is reused by the caller to avoid allocation.
 */
export function readMarker(frame: Buffer | string, out: Marker): boolean {
  let i = frame.indexOf('~T');
  if (i < 0) return false;
  const length = frame.length;
  for (let field = 0; field < FIELD_LETTERS.length; field++) {
    if (i + 1 >= length || codeAt(frame, i) !== TILDE || codeAt(frame, i + 1) !== FIELD_LETTERS[field]) return false;
    i += 2;
    let value = 0;
    const first = i;
    for (; i < length; i++) {
      const c = codeAt(frame, i);
      if (c < DIGIT_0 || c > DIGIT_9) break;
      value = value * 10 + (c - DIGIT_0);
    }
    if (i === first || i - first > 16) return false;
    if (field === 0) out.scheduledMicros = value;
    else if (field === 1) out.phase = value;
    else if (field === 2) out.publisher = value;
    else if (field === 3) out.connection = value;
    else out.seq = value;
  }
  return i < length && codeAt(frame, i) === TILDE;
}
