import type { Storage } from '../../store/index.js';

/**
 * What the mailbox needs of a store: src/store's {@link Storage} (LevelDB under the relay's
 * --data, memory in tests). The relay keeps only sealed documents, so it stores them as they are.
 */
export type MailboxStorage = Pick<Storage, 'get' | 'batch' | 'range'>;
