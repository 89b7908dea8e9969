import { constants, deflateRawSync } from 'node:zlib';
import { allocateFrame } from './frame.js';

/**
 * permessage-deflate (RFC 7692) frames built by us, once per broadcast. `ws`
 * compresses per send (one zlib pass per subscriber); with
 * server_no_context_takeover negotiated every message is compressed from an
 * empty window, so one compressed frame is valid for every socket that
 * negotiated the same server window size.
 */
const FIN_RSV1_TEXT = 0x80 | 0x40 | 0x1;
/** A sync flush ends with an empty stored block, 00 00 ff ff; RFC 7692 §7.2.1 says to drop it. */
const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** zlib cannot produce raw deflate for an 8-bit window (it silently uses 9), so such sockets get plain frames. */
export const MIN_WINDOW_BITS = 9;

/** Compress one UTF-8 payload into one ready-to-write frame with RSV1 set. */
export function frameCompressed(payload: Buffer, windowBits: number, level: number): Buffer {
  const deflated = deflateRawSync(payload, { windowBits, level, finishFlush: constants.Z_SYNC_FLUSH });
  let length = deflated.length;
  if (length >= 4 && deflated.subarray(length - 4).equals(SYNC_TAIL)) length -= 4;
  const frame = allocateFrame(FIN_RSV1_TEXT, length);
  deflated.copy(frame, frame.length - length, 0, length);
  return frame;
}

/** The payload of a plain frame built by frameText (after its 2, 4 or 10 byte header). */
export function payloadOf(frame: Buffer): Buffer {
  const len7 = frame[1]! & 0x7f;
  return frame.subarray(len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
}
