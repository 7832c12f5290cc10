import { browser } from 'wxt/browser';
import {
  hostToUi,
  UI_PORT,
  type AccessReceipt,
  type AttachmentContent,
  type GrantView,
  type ImportPreview,
  type ImportSummary,
  type InboxItemView,
  type FamilyOverview,
  type VaultRef,
  type LabCode,
  type LabSeries,
  type OriginRecord,
  type Prompt,
  type RecordView,
  type RuntimePort,
  type HostSettings,
  type Scope,
  type UiCommand,
  type UiEvent,
  type VaultStatus,
} from '../api/index.js';

/** What each command answers. */
export interface UiResults {
  status: VaultStatus;
  create: null;
  unlock: null;
  lock: null;
  touch: null;
  setAutoLock: null;
  exportBackup: string;
  restoreBackup: null;
  prompts: Prompt[];
  decide: null;
  origins: OriginRecord[];
  disconnectOrigin: null;
  previewImport: ImportPreview;
  importRecords: ImportSummary;
  timeline: RecordView[];
  labCodes: LabCode[];
  labSeries: LabSeries;
  readAttachment: AttachmentContent;
  grants: GrantView[];
  revokeGrant: null;
  createInvitation: { link: string };
  accessTrail: AccessReceipt[];
  inbox: InboxItemView[];
  acceptResult: null;
  rejectResult: null;
  providerSendResult: { id: string };
  providerShared: GrantView[];
  providerRecords: { records: RecordView[]; cursor?: string };
  redeemInvitation: { patient: string; scopes: Scope[] };
  providerRefresh: null;
  settings: HostSettings;
  setRelay: null;
  vaults: VaultRef[];
  familyAlerts: { waitingEmergencies: number };
  createDependent: { vault: string };
  familyOverview: FamilyOverview;
  addGuardian: { link: string };
  addEmergencyContact: { link: string };
  removeDelegate: null;
  protectScopes: null;
  handover: { link: string };
  useFamilyLink: { vault: string; kind: 'guardian' | 'emergency' | 'handover' };
  requestEmergency: { opensAt: string; delivered: boolean };
  denyEmergency: null;
  refreshVault: null;
  setTestClock: null;
}

/** A failed command: `code` is the engine's stable code (e.g. WRONG_PASSPHRASE). */
export class HostError extends Error {
  override readonly name = 'HostError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The UI's only way to the engine: typed commands over a runtime port, and pushed events. */
export interface HostClient {
  call<C extends UiCommand>(command: C): Promise<UiResults[C['type']]>;
  /** Calls `fn` for each event from the host; returns an unsubscribe function. */
  onEvent(fn: (event: UiEvent) => void): () => void;
}

/** Opens the client: wakes the host, connects, reconnects when the host restarts. */
export function createHostClient(): HostClient {
  let port: RuntimePort | undefined;
  let connecting: Promise<RuntimePort> | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(event: UiEvent) => void>();

  const connect = (): Promise<RuntimePort> => {
    if (port) return Promise.resolve(port);
    connecting ??= (async () => {
      await browser.runtime.sendMessage({ type: 'patientVault/wake' });
      const p = browser.runtime.connect({ name: UI_PORT }) as unknown as RuntimePort;
      p.onMessage.addListener((message) => {
        const parsed = hostToUi.safeParse(message);
        if (!parsed.success) return;
        const m = parsed.data;
        if (m.kind === 'event') {
          for (const fn of listeners) fn(m.event);
          return;
        }
        const waiter = pending.get(m.id);
        if (!waiter) return;
        pending.delete(m.id);
        if (m.ok) waiter.resolve(m.value);
        else waiter.reject(new HostError(m.error.code, m.error.message));
      });
      p.onDisconnect.addListener(() => {
        if (port === p) port = undefined;
        for (const w of pending.values()) w.reject(new HostError('DISCONNECTED', 'The vault engine restarted; try again'));
        pending.clear();
        for (const fn of listeners) fn({ type: 'status' });
      });
      port = p;
      return p;
    })().finally(() => (connecting = undefined));
    return connecting;
  };

  return {
    async call<C extends UiCommand>(command: C): Promise<UiResults[C['type']]> {
      const p = await connect();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        p.postMessage({ kind: 'call', id, command });
      });
    },
    onEvent(fn) {
      listeners.add(fn);
      void connect().catch(() => undefined);
      return () => listeners.delete(fn);
    },
  };
}
