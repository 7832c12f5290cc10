/**
 * UI layer: the extension's Preact views and the thin mains of its contexts. Views hold no crypto
 * and no storage: they talk to the engine host by typed messages ({@link createHostClient}).
 * @packageDocumentation
 */
/** Mounts the toolbar popup, the vault tab and the approval window. */
export { mountPopup, mountVault, mountApprove } from './mount.js';
/** The background's main: the router on Chromium, the engine host on Firefox. */
export { startBackground } from './background-main.js';
/** The offscreen document's (or Firefox background page's) main. */
export { startHostMain } from './host-main.js';
/** The content script's main. */
export { startContentScript } from './content-main.js';
/** The UI's client of the engine host. */
export { createHostClient, HostError, type HostClient, type UiResults } from './client.js';
/** Readable FHIR rendering and IPS grouping. */
export { describeResource, ipsSections, type ResourceText } from './fhir-text.js';
/** Import-box input classification. */
export { detectImport, ImportDetectError, type ImportInput } from './import-detect.js';
