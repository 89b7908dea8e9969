import { SwitchboardClient } from './client.js';

/** The browser script build of the core: `<script src="switchboard.min.js">` defines `window.SwitchboardClient`. */
(globalThis as unknown as { SwitchboardClient?: unknown }).SwitchboardClient = SwitchboardClient;
