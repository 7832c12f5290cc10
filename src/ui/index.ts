/**
 * UI layer: Preact views. Holds no crypto and no storage; talks to the engine by messages.
 * @packageDocumentation
 */
export { mountPopup } from './popup.js';
export { startBackground } from './background-main.js';
