import { z } from 'zod';
import { rpcErrors } from './errors.js';

/** What one origin may do. */
export interface OriginRecord {
  /** e.g. `https://portal.example-hospital.org`. */
  readonly origin: string;
  /** ms since epoch. */
  readonly connectedAt: number;
  /** May read what patients shared with this device (provider pages: vault_listShared, vault_getRecords). */
  readonly providerRead: boolean;
  /** Grants created through this origin's vault_requestShare; it hears shareChanged for these only. */
  readonly grantIds: readonly string[];
}

/** Where the records are kept between sessions. */
export interface PermissionPersistence {
  load(): Promise<unknown>;
  save(records: readonly OriginRecord[]): Promise<void>;
}

/** Most origins remembered; connecting one more than this is refused. */
export const MAX_CONNECTED_ORIGINS = 1000;
const MAX_GRANTS_PER_ORIGIN = 1000;

const stored = z.array(
  z.strictObject({
    origin: z.string().max(300),
    connectedAt: z.number().finite(),
    providerRead: z.boolean(),
    grantIds: z.array(z.string().max(200)).max(MAX_GRANTS_PER_ORIGIN),
  }),
).max(MAX_CONNECTED_ORIGINS);

/**
 * The canonical origin of a page the API serves, or undefined if it may not use the API at all:
 * https origins, and http only on loopback (local development, the demo sites). Opaque origins
 * (`null`: sandboxed frames, data: URLs), file:, and extension pages are refused.
 */
export function apiOrigin(origin: string): string | undefined {
  if (origin.length > 300) return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.origin !== origin) return undefined; // a path, credentials, or non-canonical spelling
  if (url.protocol === 'https:') return url.origin;
  if (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) return url.origin;
  return undefined;
}

/**
 * Per-origin permissions: which origins the user connected, and what each may do. Held in a Map
 * keyed by the browser-reported origin; every change is saved before it takes effect for callers.
 */
export class OriginPermissions {
  readonly #records = new Map<string, OriginRecord>();
  readonly #persistence: PermissionPersistence;
  readonly #listeners = new Set<() => void>();
  #saving: Promise<unknown> = Promise.resolve();

  private constructor(persistence: PermissionPersistence) {
    this.#persistence = persistence;
  }

  /** Loads saved permissions; a corrupt or foreign saved value is ignored (nothing is connected). */
  static async open(persistence: PermissionPersistence): Promise<OriginPermissions> {
    const perms = new OriginPermissions(persistence);
    const parsed = stored.safeParse(await persistence.load());
    if (parsed.success) {
      for (const r of parsed.data) if (apiOrigin(r.origin) === r.origin) perms.#records.set(r.origin, r);
    }
    return perms;
  }

  /** The record of `origin`, if connected. */
  get(origin: string): OriginRecord | undefined {
    return this.#records.get(origin);
  }

  isConnected(origin: string): boolean {
    return this.#records.has(origin);
  }

  /** Every connected origin, most recent first. */
  list(): OriginRecord[] {
    return [...this.#records.values()].sort((a, b) => b.connectedAt - a.connectedAt);
  }

  /** Records that the user connected `origin`. */
  async connect(origin: string, now: number): Promise<OriginRecord> {
    if (!this.#records.has(origin) && this.#records.size >= MAX_CONNECTED_ORIGINS) {
      throw rpcErrors.rateLimited(0, 'Too many connected origins: disconnect some in settings');
    }
    await this.#update(origin, (r) => r ?? { origin, connectedAt: now, providerRead: false, grantIds: [] });
    return this.#records.get(origin)!;
  }

  /** Disconnects `origin` and forgets everything it was allowed. */
  async revoke(origin: string): Promise<void> {
    await this.#update(origin, () => undefined);
  }

  /** Lets a connected `origin` read what was shared with this device. */
  async allowProviderRead(origin: string): Promise<void> {
    if (!this.#records.has(origin)) throw rpcErrors.unauthorized();
    await this.#update(origin, (r) => (r && !r.providerRead ? { ...r, providerRead: true } : r));
  }

  /** Remembers that `grantId` was created through `origin`. */
  async addGrant(origin: string, grantId: string): Promise<void> {
    await this.#update(origin, (r) =>
      r && !r.grantIds.includes(grantId) ? { ...r, grantIds: [...r.grantIds, grantId].slice(-MAX_GRANTS_PER_ORIGIN) } : r,
    );
  }

  /** Calls `fn` after each change; returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Applies `change` to the current record of `origin`, saves, then makes it visible. Updates run
   * one after another, each on the state the previous one left, so concurrent calls lose nothing.
   */
  #update(origin: string, change: (current: OriginRecord | undefined) => OriginRecord | undefined): Promise<void> {
    const run = this.#saving.then(async () => {
      const current = this.#records.get(origin);
      const record = change(current);
      if (record === current) return;
      const next = new Map(this.#records);
      if (record) next.set(origin, record);
      else next.delete(origin);
      await this.#persistence.save([...next.values()]);
      if (record) this.#records.set(origin, record);
      else this.#records.delete(origin);
      for (const fn of this.#listeners) {
        try {
          fn();
        } catch {
          // A listener's failure must not undo a saved change.
        }
      }
    });
    this.#saving = run.catch(() => undefined);
    return run;
  }
}

/** Keeps permissions in memory only (tests; a browser without storage). */
export function memoryPermissionPersistence(): PermissionPersistence & { saved: readonly OriginRecord[] } {
  let saved: readonly OriginRecord[] = [];
  return {
    get saved() {
      return saved;
    },
    load: () => Promise.resolve(structuredClone(saved)),
    save: (records) => {
      saved = structuredClone(records);
      return Promise.resolve();
    },
  };
}
