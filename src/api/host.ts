import { fromBase64Url, toBase64Url } from '../crypto/index.js';
import { ApprovalQueue, type Approver, type Decision, type Prompt } from './approval-queue.js';
import { BackendError, type PeerRequest, type VaultBackend } from './backend.js';
import { PageApiDispatcher } from './dispatcher.js';
import { ProviderRpcError } from './errors.js';
import { parseRequestText } from './json-guard.js';
import { contentToHost, PAGE_PORT, UI_PORT, uiToHost, type HostToContent, type HostToUi, type UiCommand, type UiEvent } from './messages.js';
import { apiOrigin, OriginPermissions, type PermissionPersistence } from './permissions.js';
import { RateLimiter } from './rate-limit.js';
import { senderOrigin, type HostRuntime, type RuntimePort } from './runtime.js';

/** Options of {@link startEngineHost}. */
export interface EngineHostInit {
  readonly runtime: HostRuntime;
  /** The engine; a promise so the host can listen before the engine has opened its database. */
  readonly backend: Promise<VaultBackend>;
  readonly permissions: PermissionPersistence;
  /** Brings the approval window up (the service worker on Chromium; directly on Firefox). */
  readonly openApprovalWindow: () => void;
  /** Shows the number of waiting prompts on the toolbar icon. */
  readonly setBadge: (count: number) => void;
  /** The host's own settings (the relay), kept by the caller. */
  readonly settings: HostSettingsStore;
  /** ms since epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * Test builds only: sets how far the engine's clock runs ahead of the real one (the e2e test of
   * emergency access moves past a 48-hour wait). Absent in every other build: the command is refused.
   */
  readonly testClock?: (offsetMs: number) => void;
  /** @default crypto.randomUUID */
  readonly newId?: () => string;
}

/** Settings of the host that are not in the vault (needed before it is unlocked). */
export interface HostSettings {
  /** The relay this device is reachable through. */
  readonly relay: string | null;
}

/** Where {@link HostSettings} live. */
export interface HostSettingsStore {
  get(): HostSettings;
  set(next: HostSettings): Promise<void>;
}

/** A running engine host. */
export interface EngineHost {
  /** Resolves once the engine and the saved permissions are loaded. */
  readonly ready: Promise<void>;
  /** The dispatcher, for tests that drive the page API without a page. */
  readonly dispatcher: Promise<PageApiDispatcher>;
}

/**
 * Shows prompts in the extension's approval window: it keeps the prompts the queue is asking and
 * resolves each with the user's answer, which arrives as a `decide` command from an extension page.
 */
class PromptBoard implements Approver {
  readonly #open = new Map<string, { prompt: Prompt; resolve: (d: Decision) => void }>();
  readonly #changed: () => void;
  readonly #opened: () => void;

  constructor(changed: () => void, opened: () => void) {
    this.#changed = changed;
    this.#opened = opened;
  }

  ask(prompt: Prompt, signal: AbortSignal): Promise<Decision> {
    return new Promise((resolve) => {
      this.#open.set(prompt.id, { prompt, resolve });
      signal.addEventListener('abort', () => {
        if (this.#open.delete(prompt.id)) this.#changed();
      });
      this.#changed();
      this.#opened();
    });
  }

  list(): Prompt[] {
    return [...this.#open.values()].map((p) => p.prompt).sort((a, b) => a.createdAt - b.createdAt);
  }

  decide(id: string, decision: Decision): void {
    const open = this.#open.get(id);
    if (!open) throw new BackendError('NOT_FOUND', 'That request is no longer waiting');
    this.#open.delete(id);
    open.resolve(decision);
    this.#changed();
  }
}

/**
 * The engine host: the one place that holds the engine, in the offscreen document (Chromium) or
 * the background page (Firefox). Content scripts and extension pages reach it only by runtime
 * ports; every message is parsed on arrival; a page's origin is taken from the browser's sender.
 */
export function startEngineHost(init: EngineHostInit): EngineHost {
  const now = init.now ?? (() => Date.now());
  const newId = init.newId ?? (() => crypto.randomUUID());
  const uiPorts = new Set<RuntimePort>();
  const pagePorts = new Map<string, Set<RuntimePort>>();

  const toUi = (event: UiEvent) => {
    const message: HostToUi = { kind: 'event', event };
    for (const p of uiPorts) safePost(p, message);
  };
  const board = new PromptBoard(
    () => {
      const count = board.list().length;
      init.setBadge(count);
      toUi({ type: 'prompts', count });
    },
    () => init.openApprovalWindow(),
  );

  const setup = (async () => {
    const backend = await init.backend;
    const permissions = await OriginPermissions.open(init.permissions);
    const approvals = new ApprovalQueue({ approver: board, now, newId });
    const dispatcher = new PageApiDispatcher({ backend, permissions, approvals, now, rateLimiter: new RateLimiter({ now }) });
    backend.subscribe((e) => {
      if (e.type === 'lock') toUi({ type: 'status' });
      else if (e.type === 'records') toUi({ type: 'records' });
      else if (e.type === 'inbox') toUi({ type: 'inbox' });
      else if (e.type === 'family') toUi({ type: 'family' });
      else toUi({ type: 'grants' });
      if (e.type === 'peer-request') void askPeer(backend, approvals, e.request);
    });
    permissions.onChange(() => toUi({ type: 'origins' }));
    return { backend, permissions, dispatcher };
  })();
  // Listeners are attached at once (below) and wait for `setup`; a failed setup answers errors.
  setup.catch(() => undefined);

  const handleUi = async (command: UiCommand, port: RuntimePort): Promise<unknown> => {
    const { backend, permissions, dispatcher } = await setup;
    // Anything done in the extension's own pages is the user at work: it keeps auto-lock away.
    backend.touch();
    switch (command.type) {
      case 'status':
        return backend.status();
      case 'create':
        return backend.create(command.displayName === undefined ? { passphrase: command.passphrase } : { passphrase: command.passphrase, displayName: command.displayName });
      case 'unlock':
        return backend.unlock(command.passphrase);
      case 'lock':
        return backend.lock();
      case 'touch':
        backend.touch();
        return null;
      case 'setAutoLock':
        return backend.setAutoLock(command.minutes);
      case 'exportBackup':
        return toBase64Url(await backend.exportBackup());
      case 'restoreBackup':
        return backend.restoreBackup(fromBase64Url(command.backup), command.passphrase);
      case 'prompts':
        return board.list();
      case 'decide':
        board.decide(command.promptId, toDecision(command.decision));
        return null;
      case 'origins':
        return permissions.list();
      case 'disconnectOrigin':
        return dispatcher.disconnect(command.origin);
      case 'previewImport':
        return need(backend.records, 'records').preview(command.input);
      case 'importRecords': {
        const progressId = command.progressId;
        const onProgress =
          progressId === undefined ? undefined : (done: number, total: number) => safePost(port, { kind: 'event', event: { type: 'progress', progressId, done, total } } satisfies HostToUi);
        return need(backend.records, 'records').import(command.input, onProgress, command.vault);
      }
      case 'timeline':
        return need(backend.records, 'records').timeline({
          ...(command.vault !== undefined && { vault: command.vault }),
          ...(command.scope !== undefined && { scope: command.scope }),
          ...(command.resourceType !== undefined && { resourceType: command.resourceType }),
          ...(command.limit !== undefined && { limit: command.limit }),
        });
      case 'labCodes':
        return need(backend.records, 'records').labCodes();
      case 'labSeries':
        return need(backend.records, 'records').labSeries(command.loinc);
      case 'readAttachment': {
        const part = {
          key: command.key,
          index: command.index,
          ...(command.offset !== undefined && { offset: command.offset }),
          ...(command.length !== undefined && { length: command.length }),
        };
        if (command.patient !== undefined) {
          if (command.vault !== undefined) throw new BackendError('INVALID_INPUT', 'Name a vault or a patient, not both');
          return need(backend.provider, 'provider views').readAttachment({ ...part, patient: command.patient });
        }
        return need(backend.records, 'records').readAttachment({ ...part, ...(command.vault !== undefined && { vault: command.vault }) });
      }
      case 'grants':
        return need(backend.sharing, 'sharing').grants(command.vault);
      case 'revokeGrant':
        return need(backend.sharing, 'sharing').revoke(command.grantId);
      case 'createInvitation':
        return need(backend.sharing, 'sharing').createInvitation(command);
      case 'accessTrail':
        return need(backend.sharing, 'sharing').accessTrail();
      case 'inbox':
        return need(backend.sharing, 'sharing').inbox();
      case 'acceptResult':
        return need(backend.sharing, 'sharing').acceptResult(command.from, command.id, command.scope);
      case 'rejectResult':
        return need(backend.sharing, 'sharing').rejectResult(command.from, command.id);
      case 'providerSendResult':
        return need(backend.provider, 'provider views').sendResult(command.patient, command.resource);
      case 'providerShared':
        return need(backend.provider, 'provider views').shared({ includeEnded: command.includeEnded });
      case 'redeemInvitation':
        return need(backend.provider, 'provider views').redeem(command.invitation, command);
      case 'providerRefresh':
        return need(backend.provider, 'provider views').refresh();
      case 'settings':
        return init.settings.get();
      case 'setRelay':
        await init.settings.set({ ...init.settings.get(), relay: command.relay });
        await backend.restartNetwork?.();
        return null;
      case 'vaults':
        return need(backend.family, 'family views').vaults();
      case 'familyAlerts':
        return need(backend.family, 'family views').alerts();
      case 'createDependent':
        return need(backend.family, 'family views').createDependent(command.guardianUntil === undefined ? { label: command.label } : { label: command.label, guardianUntil: command.guardianUntil });
      case 'familyOverview':
        return need(backend.family, 'family views').overview(command.vault);
      case 'addGuardian':
        return need(backend.family, 'family views').addGuardian(command.vault, command.did, command.name);
      case 'addEmergencyContact':
        return need(backend.family, 'family views').addEmergencyContact(command.vault, command.did, {
          scopes: command.scopes,
          waitHours: command.waitHours,
          ...(command.name !== undefined && { name: command.name }),
        });
      case 'removeDelegate':
        return need(backend.family, 'family views').removeDelegate(command.vault, command.did);
      case 'protectScopes':
        return need(backend.family, 'family views').protect(command.vault, command.scopes);
      case 'handover':
        return need(backend.family, 'family views').handover(command.vault, command.subject, command.guardians);
      case 'useFamilyLink':
        return need(backend.family, 'family views').useLink(command.link);
      case 'requestEmergency':
        return need(backend.family, 'family views').requestEmergency(command.vault, command.reason);
      case 'denyEmergency':
        return need(backend.family, 'family views').denyEmergency(command.request);
      case 'refreshVault':
        return need(backend.family, 'family views').refresh(command.vault);
      case 'setTestClock':
        if (!init.testClock) throw new BackendError('NOT_AVAILABLE', 'The clock can be set in test builds only');
        init.testClock(command.offsetMs);
        toUi({ type: 'family' });
        return null;
      case 'providerRecords':
        return need(backend.provider, 'provider views').records({
          patient: command.patient,
          limit: command.limit,
          ...(command.scope !== undefined && { scope: command.scope }),
        });
    }
  };

  const onUiPort = (port: RuntimePort) => {
    uiPorts.add(port);
    port.onDisconnect.addListener(() => uiPorts.delete(port));
    port.onMessage.addListener((message) => {
      const parsed = uiToHost.safeParse(message);
      if (!parsed.success) {
        const id = (message as { id?: unknown } | null)?.id;
        if (typeof id === 'number' && Number.isInteger(id) && id >= 1 && id < 2 ** 31) {
          safePost(port, { kind: 'result', id, ok: false, error: { code: 'INVALID_MESSAGE', message: 'The extension page sent a malformed command' } } satisfies HostToUi);
        }
        return;
      }
      const { id, command } = parsed.data;
      handleUi(command, port).then(
        (value) => safePost(port, { kind: 'result', id, ok: true, value: value ?? null } satisfies HostToUi),
        (e: unknown) => safePost(port, { kind: 'result', id, ok: false, error: toUiError(e) } satisfies HostToUi),
      );
    });
  };

  const onPagePort = (port: RuntimePort) => {
    const origin = senderOrigin(port.sender);
    // Only our own content scripts can open ports (no externally_connectable), in top frames only.
    if (origin === undefined || apiOrigin(origin) !== origin || port.sender?.id !== init.runtime.id || (port.sender.frameId ?? 0) !== 0) {
      port.disconnect();
      return;
    }
    let ports = pagePorts.get(origin);
    if (!ports) pagePorts.set(origin, (ports = new Set()));
    ports.add(port);
    const unsubscribers: (() => void)[] = [];
    port.onDisconnect.addListener(() => {
      for (const u of unsubscribers) u();
      const set = pagePorts.get(origin);
      set?.delete(port);
      if (set?.size === 0) {
        pagePorts.delete(origin);
        // The origin's last page is gone: nobody is left to receive an answer.
        void setup.then(({ dispatcher }) => dispatcher.withdrawPrompts(origin)).catch(() => undefined);
      }
    });
    port.onMessage.addListener((message) => {
      const parsed = contentToHost.safeParse(message);
      // The content script's stamp must agree with the browser's: if not, something is forged.
      if (!parsed.success || parsed.data.origin !== origin) return;
      const m = parsed.data;
      if (m.kind === 'subscribe') {
        void setup.then(({ dispatcher }) => {
          unsubscribers.push(dispatcher.subscribe(origin, (event) => safePost(port, { kind: 'event', event } satisfies HostToContent)));
        });
        return;
      }
      void (async () => {
        let response;
        try {
          const { dispatcher } = await setup;
          response = await dispatcher.respond(origin, parseRequestText(m.body));
        } catch (e) {
          response = { ok: false as const, error: (e instanceof ProviderRpcError ? e : new ProviderRpcError(-32603, 'Patient Vault is not available')).toJSON() };
        }
        safePost(port, { kind: 'response', id: m.id, response } satisfies HostToContent);
      })();
    });
  };

  init.runtime.onConnect.addListener((port) => {
    if (port.name === UI_PORT && port.sender?.id === init.runtime.id && typeof port.sender.url === 'string' && port.sender.url.startsWith(init.runtime.extensionUrl)) {
      onUiPort(port);
    } else if (port.name === PAGE_PORT) {
      onPagePort(port);
    } else {
      port.disconnect();
    }
  });

  return { ready: setup.then(() => undefined), dispatcher: setup.then((s) => s.dispatcher) };
}

/**
 * A provider redeemed an invitation: the user answers in the same approval window as for pages,
 * one prompt per provider at a time; a withdrawn or timed-out prompt denies.
 */
async function askPeer(backend: VaultBackend, approvals: ApprovalQueue, request: PeerRequest): Promise<void> {
  const sharing = backend.sharing;
  if (!sharing) return;
  let decision: Decision;
  try {
    decision = await approvals.request(`peer:${request.from}`, { kind: 'peer-request', request }, request.id);
  } catch {
    decision = { approved: false, reason: 'denied' };
  }
  await sharing
    .answer(request.id, decision.approved ? (decision.edits ? { approved: true, edits: decision.edits } : { approved: true }) : { approved: false })
    .catch(() => undefined);
}

function toDecision(d: Extract<UiCommand, { type: 'decide' }>['decision']): Decision {
  if (!d.approved) return d;
  if (d.edits === undefined) return { approved: true };
  const { allowResults, ...edits } = d.edits;
  return { approved: true, edits: allowResults === undefined ? edits : { ...edits, allowResults } };
}

function need<T>(part: T | undefined, what: string): T {
  if (part === undefined) throw new BackendError('NOT_AVAILABLE', `${what} are not available in this version of the engine`);
  return part;
}

function safePost(port: RuntimePort, message: unknown): void {
  try {
    port.postMessage(message);
  } catch {
    // The other side went away; its onDisconnect cleans up.
  }
}

/** What an extension page may be told about a failure: a code and a message without data. */
function toUiError(e: unknown): { code: string; message: string } {
  if (e instanceof BackendError) return { code: e.code, message: e.message.slice(0, 1000) };
  if (e instanceof ProviderRpcError) return { code: `RPC_${e.code}`, message: e.message.slice(0, 1000) };
  return { code: 'FAILED', message: 'The vault engine failed to do that' };
}
