import { fromUtf8, utf8 } from '../crypto/index.js';
import { StoreError, Vault, type KdfCost, type Storage } from '../store/index.js';
import { BackendError, type BackendEvent, type VaultBackend, type VaultStatus } from './backend.js';
import { listenerSet } from './listeners.js';

/** Options of {@link createStoreBackend}. */
export interface StoreBackendInit {
  /** The vault's storage (IndexedDB in the extension, memory in tests). */
  readonly storage: Storage;
  /** Argon2id cost of new vaults. @default the store's default */
  readonly kdfCost?: KdfCost;
  /** Tests only: accept a weak KDF. */
  readonly allowWeakKdf?: boolean;
  /** ms since epoch. @default Date.now */
  readonly now?: () => number;
  /** How often the idle check runs, ms; 0 disables the timer (tests call {@link StoreBackend.checkIdle}). @default 5000 */
  readonly idleCheckMs?: number;
}

/** A {@link VaultBackend} over src/store alone, with its idle check exposed for tests. */
export interface StoreBackend extends VaultBackend {
  /** Locks if idle past the auto-lock time; true if it locked. */
  checkIdle(): boolean;
  /** The unlocked vault, for parts (records) that build on it; undefined when locked or absent. */
  unlockedVault(): Vault | undefined;
  /** Stops the idle timer. */
  close(): void;
}

/** Sealed record (inside the vault) holding the extension's profile: display name. */
const PROFILE_KEY = 'extension/profile';
const MAX_PROFILE_BYTES = 4096;

/**
 * The vault host that exists before the full engine (src/node): create, unlock, lock, auto-lock
 * and encrypted backup over the real {@link Vault} of src/store. Parts that need records or
 * sharing are added by composing this with those layers.
 */
export async function createStoreBackend(init: StoreBackendInit): Promise<StoreBackend> {
  const now = init.now ?? (() => Date.now());
  const clock = { now };
  const options = {
    clock,
    ...(init.allowWeakKdf !== undefined && { allowWeakKdf: init.allowWeakKdf }),
    ...(init.kdfCost !== undefined && { kdfCost: init.kdfCost }),
  };
  const { emit, subscribe } = listenerSet<BackendEvent>();

  let vault: Vault | undefined = (await isEmpty(init.storage)) ? undefined : await store(() => Vault.open(init.storage, options));
  let displayName: string | undefined;

  const requireVault = (): Vault => {
    if (!vault) throw new BackendError('NO_VAULT', 'No vault on this device yet: create one first');
    return vault;
  };
  const requireUnlocked = (): Vault => {
    const v = requireVault();
    if (v.isLocked()) throw new BackendError('LOCKED', 'The vault is locked');
    return v;
  };
  const loadProfile = async (v: Vault) => {
    const bytes = await store(() => v.getSealed(PROFILE_KEY));
    displayName = undefined;
    if (bytes === undefined) return;
    try {
      const parsed = JSON.parse(fromUtf8(bytes)) as { displayName?: unknown };
      if (typeof parsed.displayName === 'string') displayName = parsed.displayName;
    } catch {
      // A profile we cannot read is treated as absent; the vault itself is unaffected.
    }
  };
  const saveProfile = async (v: Vault) => {
    const bytes = utf8(JSON.stringify(displayName === undefined ? {} : { displayName }));
    if (bytes.length > MAX_PROFILE_BYTES) throw new BackendError('INVALID_INPUT', 'The display name is too long');
    await store(() => v.putSealed(PROFILE_KEY, bytes));
  };

  const checkIdle = (): boolean => {
    if (vault?.checkIdle()) {
      displayName = undefined;
      emit({ type: 'lock', locked: true });
      return true;
    }
    return false;
  };
  const idleMs = init.idleCheckMs ?? 5000;
  const timer = idleMs > 0 ? setInterval(checkIdle, idleMs) : undefined;

  return {
    status(): Promise<VaultStatus> {
      checkIdle();
      const state = !vault ? 'none' : vault.isLocked() ? 'locked' : 'unlocked';
      const autoLockMs = vault?.autoLockMs;
      return Promise.resolve({
        state,
        autoLockMinutes: autoLockMs === null || autoLockMs === undefined ? 0 : Math.round(autoLockMs / 60_000),
        capabilities: [],
        ...(state === 'unlocked' && displayName !== undefined && { displayName }),
      });
    },
    async create({ passphrase, displayName: name }) {
      if (vault) throw new BackendError('VAULT_EXISTS', 'A vault already exists on this device');
      const v = await store(() => Vault.create(init.storage, passphrase, options));
      vault = v;
      displayName = name;
      await saveProfile(v);
      emit({ type: 'lock', locked: false });
    },
    async unlock(passphrase) {
      const v = requireVault();
      if (!v.isLocked()) return;
      await store(() => v.unlock(passphrase));
      await loadProfile(v);
      emit({ type: 'lock', locked: false });
    },
    lock() {
      if (vault && !vault.isLocked()) {
        vault.lock();
        displayName = undefined;
        emit({ type: 'lock', locked: true });
      }
      return Promise.resolve();
    },
    touch() {
      vault?.touch();
    },
    async setAutoLock(minutes) {
      if (!Number.isInteger(minutes) || minutes < 0 || minutes > 24 * 60) throw new BackendError('INVALID_INPUT', 'Auto-lock must be 0 (never) to 1440 minutes');
      const v = requireUnlocked();
      await store(() => v.setAutoLockMs(minutes === 0 ? null : minutes * 60_000));
    },
    exportBackup() {
      const v = requireUnlocked();
      return store(() => v.exportBackup());
    },
    async restoreBackup(backup, passphrase) {
      if (vault) throw new BackendError('VAULT_EXISTS', 'A vault already exists on this device: restore onto a fresh profile');
      const v = await store(() => Vault.restoreBackup(init.storage, backup, passphrase, options));
      vault = v;
      await loadProfile(v);
      emit({ type: 'lock', locked: false });
    },
    subscribe,
    checkIdle,
    unlockedVault: () => (vault && !vault.isLocked() ? vault : undefined),
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}

async function isEmpty(storage: Storage): Promise<boolean> {
  for await (const _ of storage.range('', { limit: 1 })) return false;
  return true;
}

/** Runs a store call, turning its errors into backend codes (messages are the store's: no secrets). */
async function store<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    switch (e.code) {
      case 'WRONG_PASSPHRASE':
        throw new BackendError('WRONG_PASSPHRASE', 'That passphrase does not open this vault', { cause: e });
      case 'LOCKED':
        throw new BackendError('LOCKED', 'The vault is locked', { cause: e });
      case 'VAULT_EXISTS':
        throw new BackendError('VAULT_EXISTS', 'A vault already exists on this device', { cause: e });
      case 'INVALID_INPUT':
      case 'BAD_BACKUP':
        throw new BackendError('INVALID_INPUT', e.message, { cause: e, reason: e.code });
      default:
        throw new BackendError('FAILED', e.message, { cause: e, reason: e.code });
    }
  }
}
