/**
 * pusher-js's own frame codec (`Protocol` in its TypeScript source), so tests check our frames
 * against the client's real decoding. pusher-js does not export it from its builds; vitest can
 * load the source file. The path is a variable so that tsc does not type-check pusher-js itself.
 */
interface PusherJsEvent {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

interface PusherJsProtocolApi {
  decodeMessage(messageEvent: { data: string }): PusherJsEvent;
  encodeMessage(event: PusherJsEvent): string;
}

const sourcePath = 'pusher-js/src/core/connection/protocol/protocol.ts';
const loaded = (await import(/* @vite-ignore */ sourcePath)) as { default: PusherJsProtocolApi };

export const pusherJsProtocol: PusherJsProtocolApi = loaded.default;
