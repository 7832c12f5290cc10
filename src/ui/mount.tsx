import { render } from 'preact';
import { ApproveView } from './approve-view.js';
import { createHostClient } from './client.js';
import { HostProvider } from './host-context.js';
import { Popup } from './popup-view.js';
import { VaultApp } from './vault-app.js';

/** Renders the toolbar popup into `root`. */
export function mountPopup(root: HTMLElement): void {
  render(
    <HostProvider client={createHostClient()}>
      <Popup />
    </HostProvider>,
    root,
  );
}

/** Renders the vault tab into `root`. */
export function mountVault(root: HTMLElement): void {
  render(
    <HostProvider client={createHostClient()}>
      <VaultApp />
    </HostProvider>,
    root,
  );
}

/** Renders the approval window into `root`. */
export function mountApprove(root: HTMLElement): void {
  render(<HostProvider client={createHostClient()}><ApproveView /></HostProvider>, root);
}
