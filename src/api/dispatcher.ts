import type { ApprovalQueue, Decision } from './approval-queue.js';
import { BackendError, type ApprovedShare, type GrantView, type ImportSummary, type RecordView, type VaultBackend } from './backend.js';
import { MAX_IN_FLIGHT_PER_ORIGIN } from './constants.js';
import { ProviderRpcError, RpcErrorCode, rpcErrors, type RpcErrorShape } from './errors.js';
import { assertSafeJson } from './json-guard.js';
import { apiOrigin, type OriginPermissions } from './permissions.js';
import type { RateLimiter } from './rate-limit.js';
import { isMethodName, parseEnvelope, parseParams, type GetRecordsParams, type ImportParams, type MethodName, type RedeemParams, type ShareParams } from './schemas.js';

/** Events a page may listen to with `patientVault.on(name, fn)`. */
export type PageEvent =
  | { readonly event: 'lockChanged'; readonly data: { readonly locked: boolean } }
  | { readonly event: 'shareChanged'; readonly data: { readonly grantId?: string; readonly status?: GrantView['status'] } };

/** Result of vault_connect. */
export interface ConnectResult {
  readonly connected: true;
  readonly origin: string;
}
/** Result of vault_status. `hasVault` false means the user has not set Patient Vault up yet. */
export interface StatusResult {
  readonly connected: true;
  readonly hasVault: boolean;
  readonly locked: boolean;
}
/** Result of vault_requestShare: the grant as the user approved it (possibly edited). */
export interface ShareResult {
  /**
   * A one-time `pvault:` invitation for the provider: it redeems it (vault_redeemInvitation on
   * its own page, or in its Patient Vault) and receives exactly what the user approved. The grant
   * is written then; this page hears `shareChanged` with its id.
   */
  readonly invitation: string;
  /** The patient's did:key, so the clinic's own pages can match the share on its side. */
  readonly patient: string;
  readonly scopes: GrantView['scopes'];
  readonly purpose: GrantView['purpose'];
  readonly expiresInDays: number;
}
/** Result of vault_redeemInvitation. */
export interface RedeemResult {
  readonly patient: string;
  readonly scopes: GrantView['scopes'];
}
/** A record as a provider page receives it: the FHIR resource and where it sits. */
export interface PageRecord {
  readonly id: string;
  readonly resourceType: string;
  readonly scope: RecordView['scope'];
  readonly resource: RecordView['resource'];
}

/** Options of {@link PageApiDispatcher}. */
export interface DispatcherInit {
  readonly backend: VaultBackend;
  readonly permissions: OriginPermissions;
  readonly approvals: ApprovalQueue;
  readonly rateLimiter: RateLimiter;
  /** ms since epoch. */
  readonly now: () => number;
  /** @default MAX_IN_FLIGHT_PER_ORIGIN */
  readonly maxInFlightPerOrigin?: number;
}

/** The outcome of a call, as it crosses a message boundary. */
export type PageResponse = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: RpcErrorShape };

/**
 * The page API: every `window.patientVault.request` ends here, with the origin the browser
 * reported for the calling frame. Order of checks: origin → rate → envelope → method → connected →
 * params → vault unlocked → user approval → engine. Pure apart from what is injected.
 */
export class PageApiDispatcher {
  readonly #init: DispatcherInit;
  readonly #inFlight = new Map<string, number>();
  readonly #subscribers = new Map<string, Set<(e: PageEvent) => void>>();

  constructor(init: DispatcherInit) {
    this.#init = init;
    init.backend.subscribe((event) => {
      void this.#fanOut(event).catch(() => undefined);
    });
  }

  /** Handles one call and never throws: the page gets a result or a coded error. */
  async respond(origin: string, request: unknown): Promise<PageResponse> {
    try {
      return { ok: true, result: await this.handle(origin, request) };
    } catch (e) {
      return { ok: false, error: toRpcError(e).toJSON() };
    }
  }

  /** Handles one call; throws a {@link ProviderRpcError}. */
  async handle(origin: string, request: unknown): Promise<unknown> {
    if (apiOrigin(origin) !== origin) throw rpcErrors.unauthorized('This page may not use Patient Vault (only https and localhost pages may)');
    const rate = this.#init.rateLimiter.take(origin);
    if (!rate.ok) throw rpcErrors.rateLimited(rate.retryAfterMs);
    const inFlight = this.#inFlight.get(origin) ?? 0;
    if (inFlight >= (this.#init.maxInFlightPerOrigin ?? MAX_IN_FLIGHT_PER_ORIGIN)) {
      throw rpcErrors.rateLimited(1000, 'Too many requests from this origin are in progress');
    }
    this.#inFlight.set(origin, inFlight + 1);
    try {
      return await this.#handle(origin, request);
    } finally {
      const n = (this.#inFlight.get(origin) ?? 1) - 1;
      if (n <= 0) this.#inFlight.delete(origin);
      else this.#inFlight.set(origin, n);
    }
  }

  /**
   * Subscribes a page of `origin` to events; it receives them only while the origin is
   * connected, and shareChanged only for its own grants (or, with provider access, shares
   * with this device).
   */
  subscribe(origin: string, fn: (event: PageEvent) => void): () => void {
    let set = this.#subscribers.get(origin);
    if (!set) {
      set = new Set();
      this.#subscribers.set(origin, set);
    }
    set.add(fn);
    return () => {
      const s = this.#subscribers.get(origin);
      s?.delete(fn);
      if (s?.size === 0) this.#subscribers.delete(origin);
    };
  }

  /** The origin's pages are all gone: its waiting prompts are withdrawn (they answer 4001). */
  withdrawPrompts(origin: string): void {
    this.#init.approvals.withdraw(origin);
  }

  /** The user disconnected `origin` in settings: its prompts are withdrawn, its permission dropped. */
  async disconnect(origin: string): Promise<void> {
    this.#init.approvals.withdraw(origin);
    await this.#init.permissions.revoke(origin);
  }

  async #handle(origin: string, request: unknown): Promise<unknown> {
    assertSafeJson(request);
    const { method, params } = parseEnvelope(request);
    if (!isMethodName(method)) throw rpcErrors.unsupported(method);
    if (method === 'vault_connect') {
      parseParams(method, params);
      return this.#connect(origin);
    }
    // Connected first: a page that has not connected gets 4100 for any call, whatever its params
    // (issue 7, "calls before connect"), and learns nothing about what the params should be.
    if (!this.#init.permissions.isConnected(origin)) throw rpcErrors.unauthorized();
    return this.#dispatch(origin, method, parseParams(method, params));
  }

  async #dispatch(origin: string, method: Exclude<MethodName, 'vault_connect'>, params: unknown): Promise<unknown> {
    switch (method) {
      case 'vault_status':
        return this.#status();
      case 'vault_importRecords':
        return this.#import(origin, params as ImportParams);
      case 'vault_requestShare':
        return this.#share(origin, params as ShareParams);
      case 'vault_listShared':
        return this.#listShared(origin, params as { includeEnded?: boolean } | undefined | null | []);
      case 'vault_getRecords':
        return this.#getRecords(origin, params as GetRecordsParams);
      case 'vault_redeemInvitation':
        return this.#redeem(origin, params as RedeemParams);
    }
  }

  async #connect(origin: string): Promise<ConnectResult> {
    if (!this.#init.permissions.isConnected(origin)) {
      const decision = await this.#init.approvals.request(origin, { kind: 'connect' }, 'connect');
      if (!decision.approved) throw rejected(decision);
      await this.#init.permissions.connect(origin, this.#init.now());
    }
    return { connected: true, origin };
  }

  async #status(): Promise<StatusResult> {
    const s = await this.#init.backend.status();
    return { connected: true, hasVault: s.state !== 'none', locked: s.state !== 'unlocked' };
  }

  async #import(origin: string, params: ImportParams): Promise<ImportSummary> {
    await this.#requireUnlocked();
    const records = this.#init.backend.records;
    if (!records) throw rpcErrors.unsupported('vault_importRecords (not available in this version)');
    const preview = await engine(() => records.preview(params));
    const details = params.label === undefined ? { kind: 'import' as const, preview } : { kind: 'import' as const, preview, label: params.label };
    const decision = await this.#init.approvals.request(origin, details, `import\n${JSON.stringify(params)}`);
    if (!decision.approved) throw rejected(decision);
    await this.#requireUnlocked();
    return engine(() => records.import(params));
  }

  async #share(origin: string, params: ShareParams): Promise<ShareResult> {
    await this.#requireUnlocked();
    const sharing = this.#init.backend.sharing;
    if (!sharing) throw rpcErrors.unsupported('vault_requestShare (not available in this version)');
    const decision = await this.#init.approvals.request(origin, { kind: 'share', request: params }, `share\n${JSON.stringify(params)}`);
    if (!decision.approved) throw rejected(decision);
    await this.#requireUnlocked();
    const request: ApprovedShare = decision.edits ? { ...params, ...decision.edits, scopes: [...decision.edits.scopes] } : params;
    const offer = await engine(() => sharing.offer(request, origin));
    return { invitation: offer.invitation, patient: offer.patient, scopes: request.scopes, purpose: request.purpose, expiresInDays: request.expiresInDays };
  }

  async #redeem(origin: string, params: RedeemParams): Promise<RedeemResult> {
    const provider = await this.#providerAccess(origin);
    return engine(() =>
      provider.redeem(params.invitation, {
        scopes: params.scopes ?? ['summary', 'labs'],
        purpose: params.purpose ?? 'treatment',
        expiresInDays: params.expiresInDays ?? 30,
      }),
    );
  }

  async #listShared(origin: string, params: { includeEnded?: boolean } | undefined | null | []): Promise<GrantView[]> {
    const provider = await this.#providerAccess(origin);
    const includeEnded = params !== null && params !== undefined && !Array.isArray(params) && params.includeEnded === true;
    return engine(() => provider.shared({ includeEnded }));
  }

  async #getRecords(origin: string, params: GetRecordsParams): Promise<{ records: PageRecord[]; cursor?: string }> {
    const provider = await this.#providerAccess(origin);
    const page = await engine(() =>
      provider.records({
        patient: params.patient,
        limit: params.limit ?? 100,
        ...(params.scope !== undefined && { scope: params.scope }),
        ...(params.resourceType !== undefined && { resourceType: params.resourceType }),
        ...(params.cursor !== undefined && { cursor: params.cursor }),
      }),
    );
    const records = page.records.map((r) => ({ id: r.id, resourceType: r.resourceType, scope: r.scope, resource: r.resource }));
    return page.cursor === undefined ? { records } : { records, cursor: page.cursor };
  }

  async #providerAccess(origin: string): Promise<NonNullable<VaultBackend['provider']>> {
    await this.#requireUnlocked();
    const provider = this.#init.backend.provider;
    if (!provider) throw rpcErrors.unsupported('provider methods (not available in this version)');
    if (!this.#init.permissions.get(origin)?.providerRead) {
      const decision = await this.#init.approvals.request(origin, { kind: 'provider-read' }, 'provider-read');
      if (!decision.approved) throw rejected(decision);
      await this.#init.permissions.allowProviderRead(origin);
    }
    return provider;
  }

  async #requireUnlocked() {
    const status = await this.#init.backend.status();
    if (status.state === 'none') throw rpcErrors.locked('Patient Vault is not set up on this device yet');
    if (status.state !== 'unlocked') throw rpcErrors.locked();
    return status;
  }

  async #fanOut(event: Parameters<Parameters<VaultBackend['subscribe']>[0]>[0]): Promise<void> {
    const perms = this.#init.permissions;
    if (event.type === 'lock') {
      this.#emit((origin) => perms.isConnected(origin), { event: 'lockChanged', data: { locked: event.locked } });
    } else if (event.type === 'grants' && event.grantId !== undefined) {
      const grantId = event.grantId;
      // A grant written for a share this origin asked for: from now on it hears about it.
      if (event.origin !== undefined && perms.isConnected(event.origin)) await perms.addGrant(event.origin, grantId);
      const interested = (origin: string) => perms.get(origin)?.grantIds.includes(grantId) === true;
      if (![...this.#subscribers.keys()].some(interested)) return;
      const grant = (await this.#init.backend.sharing?.grants())?.find((g) => g.id === grantId);
      const data = grant ? { grantId, status: grant.status } : { grantId };
      this.#emit(interested, { event: 'shareChanged', data });
    } else if (event.type === 'shared-with-me') {
      this.#emit((origin) => perms.get(origin)?.providerRead === true, { event: 'shareChanged', data: {} });
    }
  }

  #emit(to: (origin: string) => boolean, event: PageEvent): void {
    for (const [origin, fns] of this.#subscribers) {
      if (!to(origin)) continue;
      for (const fn of fns) {
        try {
          fn(event);
        } catch {
          // One page's broken listener must not stop the others.
        }
      }
    }
  }
}

function rejected(decision: Decision & { approved: false }): ProviderRpcError {
  switch (decision.reason) {
    case 'timeout':
      return rpcErrors.userRejected('The user did not answer in time');
    case 'withdrawn':
      return rpcErrors.userRejected('The request was withdrawn');
    default:
      return rpcErrors.userRejected();
  }
}

/** Calls the engine, turning its errors into codes a page can act on. */
async function engine<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toRpcError(e);
  }
}

/** Maps any failure to what a page may see: engine codes become RPC codes, anything else -32603. */
export function toRpcError(e: unknown): ProviderRpcError {
  if (e instanceof ProviderRpcError) return e;
  if (e instanceof BackendError) {
    switch (e.code) {
      case 'LOCKED':
      case 'NO_VAULT':
        return rpcErrors.locked();
      case 'INVALID_INPUT':
        return rpcErrors.invalidParams(e.message, undefined, e.reason);
      case 'NOT_FOUND':
        return rpcErrors.unauthorized('No live share from that patient with this device');
      case 'NOT_AVAILABLE':
        return new ProviderRpcError(RpcErrorCode.UNSUPPORTED_METHOD, e.message);
      case 'DENIED':
        return rpcErrors.userRejected('The patient declined the request');
      default:
        return rpcErrors.internal();
    }
  }
  return rpcErrors.internal();
}
