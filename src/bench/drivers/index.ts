import { createPusherDriver } from './pusher.js';
import { createSocketIoDriver } from './socketio.js';
import type { Driver, DriverName, TargetSpec } from './types.js';
import { createWsRawDriver } from './ws-raw.js';

export * from './types.js';

/** The driver for a protocol name. */
export function createDriver(name: DriverName, target: TargetSpec, options: { maxSockets?: number } = {}): Driver {
  switch (name) {
    case 'pusher':
      return createPusherDriver(target, options);
    case 'socketio':
      return createSocketIoDriver(target);
    case 'ws-raw':
      return createWsRawDriver(target);
  }
}
