// @medplum/core reads `WebSocket.CLOSING` and `WebSocket.CLOSED` when its module is evaluated (its
// subscription client), and Node 20 has no global WebSocket without --experimental-websocket. The
// records layer never opens a socket through medplum; it only needs the module to load. Where no
// WebSocket exists, define one that carries the four standard constants and refuses to be
// constructed, so any accidental use fails loudly instead of silently.
// This file must be imported before '@medplum/core' (see medplum.ts): ES modules evaluate their
// imports in order.
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
  class WebSocketUnavailable {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    constructor() {
      throw new Error('WebSocket is not available in this runtime');
    }
  }
  Object.defineProperty(globalThis, 'WebSocket', { value: WebSocketUnavailable, configurable: true, writable: true });
}
export {};
