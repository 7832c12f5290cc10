import { mountApprove } from '../../src/ui/index.js';

const root = document.getElementById('app');
if (root) mountApprove(root);
