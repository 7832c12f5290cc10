/**
 * Bounds of the engine's memory (tmp/node-needs.md items 4 and 6, docs/families.md "Bounds").
 */

/**
 * Vaults shared with this device (a provider's patients) whose log copy, records store and scope
 * documents stay in memory at once. Beyond it the least recently used idle one is unloaded (all
 * of it stays in the sealed store) and loaded again when the user or a peer needs it. A vault in
 * use (a running pull, a live doc session, a log change) is never unloaded, so more may be loaded
 * for a moment while more are in use at once.
 */
export const MAX_LOADED_SHARED_VAULTS = 64;

/**
 * Shared vaults a {@link SharedVaultFollower} keeps a live pull open for (each holds its vault
 * loaded and one connection per patient device). Half the loaded bound, so vaults the user opens
 * still fit; beyond it the vault followed longest ago stops being followed (a pull by hand, or the
 * next follow, still brings it up to date).
 */
export const MAX_FOLLOWED_VAULTS = MAX_LOADED_SHARED_VAULTS / 2;

/**
 * Attempts of the first pull after an invitation is redeemed (pauses 0.5 s, then 1 s): the token is
 * spent by then, so a passing failure must not cost the share. A later failure is the follower's.
 */
export const REDEEM_PULL_ATTEMPTS = 3;
