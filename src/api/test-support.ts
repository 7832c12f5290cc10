import { MemoryStorage, WEAK_TEST_KDF_COST } from '../store/index.js';
import { createNodeLibp2p } from '../sync/index.js';
import { createEngineBackend, type EngineBackend } from './engine-backend.js';

/**
 * For tests and benchmarks (not part of the layer's public face): the engine backend the
 * extension hosts, in Node over memory storage, a weak test KDF and loopback TCP libp2p.
 */
export function nodeEngineBackend(relay?: () => string | undefined): Promise<EngineBackend> {
  return createEngineBackend({
    storage: new MemoryStorage(),
    kdfCost: WEAK_TEST_KDF_COST,
    allowWeakKdf: true,
    idleCheckMs: 0,
    createLibp2p: (identity) => createNodeLibp2p({ identity, listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ...(relay && { relay }),
  });
}
