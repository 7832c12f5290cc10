/** Starts `pvault relay` as a real child process and reads the multiaddrs it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const PVAULT = resolve(import.meta.dirname, '../../bin/pvault.js');

/** A running relay. */
export interface RelayProcess {
  readonly multiaddrs: readonly string[];
  /** The WebSocket multiaddr browsers dial (…/ws/p2p/…). */
  readonly websocket: string | undefined;
  stop(): Promise<void>;
}

/** True if this checkout has the relay command (bin/cli/commands/relay.ts). */
export function relayAvailable(): boolean {
  return existsSync(resolve(import.meta.dirname, '../../bin/cli/commands/relay.ts'));
}

/** Spawns the relay on loopback and waits until it has printed its addresses. */
export function startRelayProcess(timeoutMs = 30_000): Promise<RelayProcess> {
  const child: ChildProcess = spawn(process.execPath, [PVAULT, 'relay', '--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolvePromise, reject) => {
    const multiaddrs: string[] = [];
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`relay did not start in ${timeoutMs} ms: ${stderr.slice(0, 500)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}: ${stderr.slice(0, 500)}`));
    });
    const lines = createInterface({ input: child.stdout! });
    let started = false;
    lines.on('line', (line) => {
      if (started) return;
      if (line.startsWith('/')) multiaddrs.push(line.trim());
      else if (multiaddrs.length > 0) {
        started = true;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolvePromise({
          multiaddrs,
          websocket: multiaddrs.find((a) => a.includes('/ws')),
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        });
      }
    });
  });
}
