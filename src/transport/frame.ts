/**
 * Server-to-client WebSocket framing (RFC 6455 §5.2), done once per event so
 * that every subscriber receives the very same Buffer. Server frames are never
 * masked; an uncompressed frame is a 2, 4 or 10 byte header
 * followed by the UTF-8 payload, in one allocation.
 */
const OPCODE_TEXT = 0x1;
const FIN = 0x80;

/** Frame a text message (a JSON string) into one ready-to-write Buffer. */
export function frameText(payload: string): Buffer {
  const length = Buffer.byteLength(payload, 'utf8');
  const frame = allocateFrame(FIN | OPCODE_TEXT, length);
  frame.write(payload, frame.length - length, length, 'utf8');
  return frame;
}

/** One Buffer for a frame of `length` payload bytes, its header (first byte, then the length) written; the payload goes at its end. */
export function allocateFrame(firstByte: number, length: number): Buffer {
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = firstByte;
  if (headerLength === 2) {
    frame[1] = length;
  } else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  return frame;
}
