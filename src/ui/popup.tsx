import { render } from 'preact';

function Popup() {
  return (
    <main>
      <h1>Patient Vault</h1>
      <p>Your vault is locked.</p>
    </main>
  );
}

/** Renders the popup into `root`. */
export function mountPopup(root: HTMLElement): void {
  render(<Popup />, root);
}
