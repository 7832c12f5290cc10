/**
 * src/api: the page-facing provider API and the engine host of the extension.
 *
 * - `window.patientVault` ({@link installPageProvider}, page world) is shaped like EIP-1193:
 *   `request({ method, params })`, `on` / `removeListener`, and EIP-6963-style discovery events.
 * - {@link startContentBridge} (content script, isolated world) relays it to the engine host over
 *   a runtime port, stamping the page's real origin.
 * - {@link startEngineHost} (offscreen document on Chromium, background page on Firefox) runs the
 *   {@link PageApiDispatcher} — origin → rate → envelope → method → params → connected → unlocked
 *   → user approval → engine — and serves the extension's own pages.
 * - {@link VaultBackend} is the engine's face as the extension sees it; {@link createStoreBackend}
 *   implements its core over src/store.
 *
 * Error codes ({@link RpcErrorCode}): 4001 rejected by the user, 4100 origin not connected (or
 * lacks the permission), 4200 unsupported method, 4290 rate limited (retry after
 * `data.retryAfterMs`), 4900 vault locked or not set up, -32600 invalid request, -32602 invalid
 * params (`data.path` names the field), -32603 internal.
 * @packageDocumentation
 */
export { RpcErrorCode, ProviderRpcError, rpcErrors, type RpcErrorCodeValue, type RpcErrorShape, type RpcErrorData } from './errors.js';
export * from './constants.js';
export { assertSafeJson, parseRequestText, type JsonValue } from './json-guard.js';
export {
  SCOPES,
  SENSITIVE_SCOPES,
  PURPOSES,
  METHODS,
  METHOD_PARAMS,
  isMethodName,
  parseEnvelope,
  parseParams,
  type Scope,
  type Purpose,
  type MethodName,
  type MethodParams,
  type ImportParams,
  type ShareParams,
  type GetRecordsParams,
  type RedeemParams,
} from './schemas.js';
export { RateLimiter, type RateLimiterInit, type RateDecision } from './rate-limit.js';
export {
  ApprovalQueue,
  type ApprovalQueueInit,
  type Approver,
  type Decision,
  type Prompt,
  type PromptDetails,
  type ShareEdits,
} from './approval-queue.js';
export {
  OriginPermissions,
  apiOrigin,
  memoryPermissionPersistence,
  MAX_CONNECTED_ORIGINS,
  type OriginRecord,
  type PermissionPersistence,
} from './permissions.js';
export {
  PageApiDispatcher,
  toRpcError,
  type DispatcherInit,
  type PageEvent,
  type PageResponse,
  type ConnectResult,
  type StatusResult,
  type ShareResult,
  type RedeemResult,
  type PageRecord,
} from './dispatcher.js';
export {
  BackendError,
  type BackendErrorCode,
  type VaultBackend,
  type VaultStatus,
  type Capability,
  type CreateOptions,
  type RecordsBackend,
  type SharingBackend,
  type ProviderBackend,
  type BackendEvent,
  type ImportPreview,
  type ImportSummary,
  type RecordQuery,
  type RecordView,
  type AttachmentInfo,
  type AttachmentQuery,
  type AttachmentContent,
  type LabCode,
  type LabSeries,
  type GrantAuthority,
  type GrantView,
  type AccessReceipt,
  type ApprovedShare,
  type InboxItemView,
  type FamilyBackend,
  type FamilyOverview,
  type FamilyTrailItem,
  type DelegationView,
  type EmergencyView,
  type VaultRef,
  type Count,
  type PeerRequest,
} from './backend.js';
export {
  PAGE_PORT,
  UI_PORT,
  pageToContent,
  contentToPage,
  contentToHost,
  hostToContent,
  uiCommand,
  uiToHost,
  hostToUi,
  uiEvent,
  controlMessage,
  relayAddress,
  decision as decisionMessage,
  type PageToContent,
  type ContentToPage,
  type ContentToHost,
  type HostToContent,
  type UiCommand,
  type UiToHost,
  type HostToUi,
  type UiEvent,
  type ControlMessage,
} from './messages.js';
export { senderOrigin, type HostRuntime, type RuntimePort, type PortSender, type RuntimeEvent } from './runtime.js';
export {
  installPageProvider,
  ANNOUNCE_PROVIDER_EVENT,
  REQUEST_PROVIDER_EVENT,
  type PatientVaultProvider,
  type ProviderInfo,
  type ProviderEventName,
  type PageWindow,
} from './page-provider.js';
export { startContentBridge, type ContentBridgeInit } from './content-bridge.js';
export { startEngineHost, type EngineHost, type EngineHostInit, type HostSettings, type HostSettingsStore } from './host.js';
export { createStoreBackend, type StoreBackend, type StoreBackendInit } from './store-backend.js';
export { createEngineBackend, grantViews, relayedAddress, parseFamilyLink, FAMILY_LINK_PREFIX, type EngineBackend, type EngineBackendInit } from './engine-backend.js';
