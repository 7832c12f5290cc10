#!/usr/bin/env node
// `npm start`: builds the extension, starts the relay and the two demo sites, and says what to do.
// Options: --no-build (use the last build), --firefox (also build for Firefox),
// --hospital-port P (default 8081), --clinic-port P (default 8082), --relay-port P (default 9090).
import './polyfills.js';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} expects a port number`);
    process.exit(2);
  }
  return n;
};
const known = new Set(['--no-build', '--firefox', '--hospital-port', '--clinic-port', '--relay-port', '--help', '-h']);
for (let i = 0; i < args.length; i++) {
  if (!known.has(args[i])) {
    console.error(`unknown option ${args[i]} (try --help)`);
    process.exit(2);
  }
  if (['--hospital-port', '--clinic-port', '--relay-port'].includes(args[i])) i++;
}
if (flag('--help') || flag('-h')) {
  console.log('Usage: npm start [-- --no-build] [--firefox] [--hospital-port P] [--clinic-port P] [--relay-port P]');
  process.exit(0);
}

function build(target) {
  const wxt = resolve(root, 'node_modules/wxt/bin/wxt.mjs');
  console.log(`Building the extension${target ? ` for ${target}` : ''}…`);
  const r = spawnSync(process.execPath, [wxt, 'build', ...(target ? ['-b', target] : [])], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    console.error('The build failed (see above).');
    process.exit(1);
  }
}

if (!flag('--no-build')) {
  build();
  if (flag('--firefox')) build('firefox');
} else if (!existsSync(resolve(root, '.output/chrome-mv3/manifest.json'))) {
  console.error('No build found: run without --no-build first.');
  process.exit(1);
}

/** Starts `pvault relay` and resolves with its addresses, or with undefined if it has no relay command. */
function startRelay(port) {
  if (!existsSync(resolve(root, 'bin/cli/commands/relay.ts'))) return Promise.resolve(undefined);
  const child = spawn(process.execPath, [resolve(root, 'bin/pvault.js'), 'relay', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((done, fail) => {
    const addrs = [];
    let started = false;
    child.once('exit', (code) => fail(new Error(`the relay exited (code ${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (started) return;
      if (line.startsWith('/')) addrs.push(line.trim());
      else if (addrs.length > 0) {
        started = true;
        child.removeAllListeners('exit');
        done({ child, addrs });
      }
    });
  });
}

let relay;
try {
  relay = await startRelay(option('--relay-port', 9090));
} catch (e) {
  console.error(`Could not start the relay: ${e.message}`);
  process.exit(1);
}
const relayWs = relay?.addrs.find((a) => a.includes('/ws'));

register();
const { startDemoSites } = await import('../demo/sites.ts');
const sites = await startDemoSites({
  hospitalPort: option('--hospital-port', 8081),
  clinicPort: option('--clinic-port', 8082),
  ...(relayWs ? { relay: relayWs } : {}),
});

console.log(`
Patient Vault demo is running.

1. Load the extension (Chromium or Chrome):
     open chrome://extensions, turn on "Developer mode", click "Load unpacked" and choose
     ${resolve(root, '.output/chrome-mv3')}
   Firefox: run "npm start -- --firefox", open about:debugging#/runtime/this-firefox,
     "Load Temporary Add-on…" and choose ${resolve(root, '.output/firefox-mv2/manifest.json')}
   Then click the Patient Vault icon and create your vault.

2. Example Hospital (patient portal): ${sites.hospitalUrl}/
     "Save to Patient Vault" offers a synthetic FHIR Bundle${sites.healthCard ? ' and a SMART Health Card' : ''}.

3. Example Clinic intake page:        ${sites.clinicUrl}/
   Example Clinic staff page:         ${sites.clinicUrl}/staff
     (in the clinic's own browser profile: paste its identity, then view what patients shared)

Relay: ${relay ? relay.addrs.join('\n       ') : 'not started — this checkout has no `pvault relay` command yet'}

Press Ctrl-C to stop.`);

const stop = async () => {
  await sites.close();
  if (relay) {
    relay.child.kill('SIGTERM');
    await new Promise((r) => relay.child.once('exit', r));
  }
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
