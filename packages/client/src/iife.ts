import { SwitchboardClient } from './client.js';
import { SwitchboardConnector } from './echo.js';

/** The browser script build: `<script src="switchboard.min.js">` defines `window.SwitchboardClient` (like pusher-js's `window.Pusher`). */
const target = globalThis as unknown as { SwitchboardClient?: unknown; SwitchboardConnector?: unknown };
target.SwitchboardClient = SwitchboardClient;
target.SwitchboardConnector = SwitchboardConnector;
