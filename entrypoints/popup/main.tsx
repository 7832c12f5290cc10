import { mountPopup } from '../../src/ui/index.js';

const root = document.getElementById('app');
if (root) mountPopup(root);
