import { MemoryStorage } from './memory-storage.js';
import { runStorageConformance } from './storage-conformance.js';

runStorageConformance('memory', () => Promise.resolve({ storage: new MemoryStorage() }));
