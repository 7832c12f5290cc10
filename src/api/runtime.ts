/**
 * The slice of the WebExtension runtime API the bridge and host use, as interfaces, so the same
 * code runs against `browser.runtime` in the extension and against an in-process port pair in
 * Node tests. Shapes follow `runtime.Port` and `runtime.MessageSender`.
 */

/** Who opened a port or sent a message, as the browser reports it (never as the message claims). */
export interface PortSender {
  /** Extension id of the sender. */
  readonly id?: string;
  /** URL of the sending frame. */
  readonly url?: string;
  /** Origin of the sending frame (Chromium only). */
  readonly origin?: string;
  /** 0 for a top-level frame. */
  readonly frameId?: number;
  readonly tab?: { readonly id?: number };
}

/** An event with listeners. */
export interface RuntimeEvent<F extends (...args: never[]) => unknown> {
  addListener(fn: F): void;
  removeListener(fn: F): void;
}

/** A long-lived connection, `runtime.Port`. */
export interface RuntimePort {
  readonly name: string;
  readonly sender?: PortSender;
  postMessage(message: unknown): void;
  disconnect(): void;
  readonly onMessage: RuntimeEvent<(message: unknown, port: RuntimePort) => void>;
  readonly onDisconnect: RuntimeEvent<(port: RuntimePort) => void>;
}

/** What the engine host needs: incoming ports, and its own extension's id and URL. */
export interface HostRuntime {
  readonly id: string;
  /** `runtime.getURL('')`, e.g. `chrome-extension://<id>/`. */
  readonly extensionUrl: string;
  readonly onConnect: RuntimeEvent<(port: RuntimePort) => void>;
}

/**
 * The origin of the frame behind `sender`: Chromium's `sender.origin`, else derived from
 * `sender.url` (Firefox). Undefined if neither is there.
 */
export function senderOrigin(sender: PortSender | undefined): string | undefined {
  if (!sender) return undefined;
  if (typeof sender.origin === 'string') return sender.origin;
  if (typeof sender.url !== 'string') return undefined;
  try {
    return new URL(sender.url).origin;
  } catch {
    return undefined;
  }
}
