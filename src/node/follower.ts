/**
 * Keeps a provider (or any grantee) receiving a shared vault as the patient changes it.
 *
 * `VaultNode.pull(vault, { live: true })` opens one live session per granted scope; a session ends
 * when its connection does (the patient's device goes offline, a relay restarts, a stream is reset
 * under load) or when the grant ends. Left alone, a provider that lost its sessions would see nothing
 * new until someone pulled by hand. The follower re-pulls with a growing pause (1 s doubling to a
 * minute, with jitter) for as long as a pull still yields scopes — a revoked or expired grant yields
 * none (the pull's log exchange brings the revocation first), and following stops there.
 *
 * Reads through a live session are accounted for too: changes received on a followed vault are
 * followed, after a quiet moment, by a plain pull, which signs an `access` receipt for the new heads
 * (subject to the engine's receipt limit and its rule of no receipt for nothing new).
 */
import { MAX_FOLLOWED_VAULTS } from './constants.js';
import { NodeError } from './errors.js';
import type { VaultNode } from './vault-node.js';
import type { VaultId } from '../grants/index.js';
import type { ReceivedEvent } from '../sync/index.js';

/** Timing of {@link SharedVaultFollower}; every field has a default fit for real use. */
export interface FollowerOptions {
  /** First pause before re-pulling after sessions end or a pull fails. @default 1000 */
  readonly minDelayMs?: number;
  /** Longest pause between attempts. @default 60000 */
  readonly maxDelayMs?: number;
  /** How long received changes must be quiet before the receipt pull. @default 1500 */
  readonly receiptQuietMs?: number;
  /** Most vaults followed at once; following one more stops the one followed longest ago. @default MAX_FOLLOWED_VAULTS */
  readonly maxFollowed?: number;
  /** Told when following one vault stops for good (no scopes left, or the vault is no longer shared). */
  readonly onStopped?: (vault: VaultId, why: StopReason) => void;
}

/** Why following a vault stopped by itself: its grants ended, it is not shared here, or the engine stopped. */
export type StopReason = 'no-access' | 'not-shared' | 'engine-stopped';

const DEFAULTS = { minDelayMs: 1000, maxDelayMs: 60_000, receiptQuietMs: 1500, maxFollowed: MAX_FOLLOWED_VAULTS } as const;

interface Following {
  stopped: boolean;
  /** Wakes the loop from its pause (a caller asked to follow again, e.g. after a re-grant). */
  wake: () => void;
  /** Ends the live sessions of the current round. */
  endRound: () => void;
  receiptTimer: ReturnType<typeof setTimeout> | undefined;
  /** A live pull of this round is running (its sessions are not handed out yet). */
  pulling: boolean;
  /** Changes arrived while `pulling`: the pull may have signed its receipts before they did. */
  receivedWhilePulling: boolean;
  done: Promise<void>;
}

/** Follows shared vaults of one engine; see the file comment. Close it before stopping the engine. */
export class SharedVaultFollower {
  readonly #node: VaultNode;
  readonly #options: Required<Omit<FollowerOptions, 'onStopped'>> & Pick<FollowerOptions, 'onStopped'>;
  readonly #following = new Map<VaultId, Following>();
  /** Loops of vaults that made room for others, still ending their sessions. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #onReceived: (event: Event) => void;
  #closed = false;

  constructor(node: VaultNode, options: FollowerOptions = {}) {
    this.#node = node;
    this.#options = { ...DEFAULTS, ...options };
    const { minDelayMs, maxDelayMs, receiptQuietMs, maxFollowed } = this.#options;
    if (!(minDelayMs > 0 && maxDelayMs >= minDelayMs && receiptQuietMs >= 0 && Number.isInteger(maxFollowed) && maxFollowed > 0)) {
      throw new NodeError('INVALID_INPUT', 'follower delays must be positive, with maxDelayMs ≥ minDelayMs, and maxFollowed a positive integer');
    }
    this.#onReceived = (event) => this.#received((event as CustomEvent<ReceivedEvent>).detail);
    node.addEventListener('received', this.#onReceived);
  }

  /** Follows every vault shared with this device (the most recently shared ones, up to `maxFollowed`). */
  followAll(): void {
    for (const shared of this.#node.sharedVaults().slice(-this.#options.maxFollowed)) this.follow(shared.vault);
  }

  /** Follows `vault` (idempotent; wakes a follower that is pausing between attempts). */
  follow(vault: VaultId): void {
    if (this.#closed) throw new NodeError('NOT_RUNNING', 'the follower is closed');
    const current = this.#following.get(vault);
    if (current && !current.stopped) {
      current.wake();
      return;
    }
    // Over the bound: the vault followed longest ago makes room (Map keeps insertion order).
    for (const [oldest, f] of this.#following) {
      if (this.#following.size < this.#options.maxFollowed) break;
      this.#stop(f);
      this.#following.delete(oldest);
      this.#retiring.add(f.done);
      void f.done.finally(() => this.#retiring.delete(f.done));
    }
    const following: Following = { stopped: false, wake: () => undefined, endRound: () => undefined, receiptTimer: undefined, pulling: false, receivedWhilePulling: false, done: Promise.resolve() };
    this.#following.set(vault, following);
    following.done = this.#run(vault, following);
  }

  /** The vaults followed now. */
  following(): VaultId[] {
    return [...this.#following].filter(([, f]) => !f.stopped).map(([v]) => v);
  }

  /** Stops following `vault` and ends its live sessions. */
  async unfollow(vault: VaultId): Promise<void> {
    const following = this.#following.get(vault);
    if (!following) return;
    this.#stop(following);
    await following.done;
    if (this.#following.get(vault) === following) this.#following.delete(vault);
  }

  /** Stops following everything (call before the engine stops). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#node.removeEventListener('received', this.#onReceived);
    await Promise.all([...[...this.#following.keys()].map((vault) => this.unfollow(vault)), ...this.#retiring]);
  }

  #stop(following: Following): void {
    following.stopped = true;
    if (following.receiptTimer !== undefined) clearTimeout(following.receiptTimer);
    following.endRound();
    following.wake();
  }

  async #run(vault: VaultId, following: Following): Promise<void> {
    const { minDelayMs, maxDelayMs } = this.#options;
    let delay = minDelayMs;
    while (!following.stopped) {
      let pulled;
      following.pulling = true;
      try {
        pulled = await this.#node.pull(vault, { live: true });
      } catch (error) {
        if (error instanceof NodeError && error.code === 'NOT_FOUND') return this.#gaveUp(vault, following, 'not-shared');
        if (error instanceof NodeError && error.code === 'NOT_RUNNING') return this.#gaveUp(vault, following, 'engine-stopped');
        pulled = undefined; // unreachable for now (offline, dial failed): try again after a pause
      } finally {
        following.pulling = false;
      }
      if (following.receivedWhilePulling) {
        following.receivedWhilePulling = false;
        this.#scheduleReceipt(vault, following);
      }
      if (following.stopped) {
        await Promise.all((pulled?.sessions ?? []).map((s) => s.close().catch(() => undefined)));
        return;
      }
      if (pulled !== undefined) {
        if (pulled.sessions.length === 0) {
          // Nothing left to read (grant revoked or expired): no use pulling again.
          return this.#gaveUp(vault, following, 'no-access');
        }
        delay = minDelayMs;
        const sessions = pulled.sessions;
        const roundOver = new Promise<void>((resolve) => {
          following.endRound = resolve;
          // The first session to end ends the round: the next pull reopens every scope at once.
          for (const session of sessions) void session.closed().then(() => resolve());
        });
        await roundOver;
        following.endRound = () => undefined;
        await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
        if (following.stopped) return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay * (0.75 + Math.random() * 0.5));
        following.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      following.wake = () => undefined;
      delay = Math.min(maxDelayMs, delay * 2);
    }
  }

  #gaveUp(vault: VaultId, following: Following, why: StopReason): void {
    this.#stop(following);
    if (this.#following.get(vault) === following) this.#following.delete(vault);
    this.#options.onStopped?.(vault, why);
  }

  #received(event: ReceivedEvent): void {
    if (event.role !== 'dialer') return;
    const following = this.#following.get(event.vault as VaultId);
    if (!following || following.stopped) return;
    if (following.pulling) following.receivedWhilePulling = true;
    else this.#scheduleReceipt(event.vault as VaultId, following);
  }

  /** After a quiet moment, a plain pull: it syncs (nothing new, quick) and signs the receipt of the new heads. */
  #scheduleReceipt(vault: VaultId, following: Following): void {
    if (following.receiptTimer !== undefined) clearTimeout(following.receiptTimer);
    following.receiptTimer = setTimeout(() => {
      following.receiptTimer = undefined;
      if (!following.stopped) this.#node.pull(vault).catch(() => undefined);
    }, this.#options.receiptQuietMs);
  }
}
