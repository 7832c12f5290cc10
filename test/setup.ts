// Node 20 lacks Promise.withResolvers, which libp2p 3 needs (STACK.md).
import '../bin/polyfills.js';
