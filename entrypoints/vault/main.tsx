import { mountVault } from '../../src/ui/index.js';

const root = document.getElementById('app');
if (root) mountVault(root);
