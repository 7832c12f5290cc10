import { startHostMain } from '../../src/ui/index.js';

// Chromium's offscreen document: the long-lived home of the vault engine.
startHostMain('offscreen');
