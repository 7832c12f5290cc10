/**
 * src/node: the vault engine one device runs (Node and browser). It composes src/grants, the
 * records store, src/sync and src/store behind one interface, {@link VaultNode}.
 * @packageDocumentation
 */
export { NodeError, type NodeErrorCode } from './errors.js';
export { GrantLogReplica, DEFAULT_RECEIPT_LIMIT, type EntriesAdded, type ReceiptLimit } from './log-replica.js';
export { INDEX_KEY_EPOCH, sealScopeKeys, openScopeKeys, prefixedStore, type RecordsPort, type ScopeKeyExport, type SealedStore } from './records-port.js';
export { ScopeTarget } from './scope-target.js';
export {
  VaultNode,
  COPIED_DATA_NOTICE,
  type VaultNodeInit,
  type EngineStore,
  type RevokeResult,
  type AccessReceipt,
  type SharedVault,
  type PullResult,
  type VaultNodeEvent,
  type SyncStatus,
  type InboxItem,
  type RecordsRole,
} from './vault-node.js';
/** Families (issue 8): dependents' vaults, delegations, handover, dependent-only scopes, emergency access. */
export type {
  VaultKind,
  VaultSummary,
  Delegation,
  DelegateOptions,
  HandoverOptions,
  Authority,
  TrailItem,
  DelegationEvent,
  HandoverEvent,
  ProtectedEvent,
  EmergencyEvent,
  ServedNote,
} from './families.js';
/** Keeps a grantee receiving shared vaults live: re-pulls when sessions end, receipts for what arrives. */
export { SharedVaultFollower, type FollowerOptions, type StopReason } from './follower.js';
/** This device's identity, sealed in the vault under a key: loaded, or generated and kept on first use. */
export { deviceIdentity } from './device-identity.js';
