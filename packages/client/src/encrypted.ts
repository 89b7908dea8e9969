import type { ChannelAuthorizationCallback } from './auth.js';
import { PrivateChannel } from './channels.js';
import type { EventMetadata } from './emitter.js';
import { host } from './host.js';

function base64(text: string): Uint8Array | null {
  try {
    if (typeof host.atob === 'function') return Uint8Array.from(host.atob(text), (c) => c.charCodeAt(0));
    if (host.Buffer !== undefined) return new Uint8Array(host.Buffer.from(text, 'base64'));
  } catch {
    // fall through
  }
  return null;
}

/**
 * `private-encrypted-` channels (end-to-end encrypted; the server relays ciphertext). They need
 * tweetnacl passed as `options.nacl`, as in pusher-js; without it the subscription fails with a
 * clear error instead of delivering ciphertext.
 */
export class EncryptedChannel extends PrivateChannel {
  private key: Uint8Array | null = null;

  override authorize(socketId: string, callback: ChannelAuthorizationCallback): void {
    if (this.host.nacl === undefined) {
      callback(new Error(`${this.name}: encrypted channels need options.nacl (tweetnacl)`), null);
      return;
    }
    super.authorize(socketId, (error, data) => {
      if (error !== null || data === null) {
        callback(error, data);
        return;
      }
      const key = typeof data.shared_secret === 'string' ? base64(data.shared_secret) : null;
      if (key === null || key.length !== 32) {
        callback(new Error(`${this.name}: the auth answer has no valid shared_secret`), null);
        return;
      }
      this.key = key;
      callback(null, data);
    });
  }

  override trigger(): boolean {
    throw new Error('client events are not supported on encrypted channels');
  }

  protected override deliver(event: string, data: unknown, metadata: EventMetadata): void {
    if (event.startsWith('pusher:') || event.startsWith('client-')) {
      this.emit(event, data, metadata);
      return;
    }
    const sealed = data as { ciphertext?: unknown; nonce?: unknown } | null;
    const box = typeof sealed?.ciphertext === 'string' ? base64(sealed.ciphertext) : null;
    const nonce = typeof sealed?.nonce === 'string' ? base64(sealed.nonce) : null;
    const nacl = this.host.nacl;
    const opened = box !== null && nonce !== null && this.key !== null && nacl !== undefined ? nacl.secretbox.open(box, nonce, this.key) : null;
    if (opened === null || host.TextDecoder === undefined) {
      this.emit('pusher:decryption_error', { event, error: 'could not decrypt the event' });
      return;
    }
    const text = new host.TextDecoder().decode(opened);
    let payload: unknown = text;
    try {
      payload = JSON.parse(text);
    } catch {
      // a plain string payload
    }
    this.emit(event, payload, metadata);
  }
}
