/**
 * The data of issue 3's `store_put_10k`, shared by the Node figures (store.bench.ts) and the
 * Chromium page (idb-page/page.ts): 10,000 random 2 KB values under keys like `obs/00042`,
 * written in batches of {@link BATCH}.
 */
export const RECORDS = 10_000;
export const RECORD_BYTES = 2048;
export const BATCH = 100;

/** Fresh random values (random bytes do not compress, so no backend gets an easy ride). */
export function records(): { key: string; value: Uint8Array }[] {
  return Array.from({ length: RECORDS }, (_, i) => {
    const value = new Uint8Array(RECORD_BYTES);
    // getRandomValues fills at most 65,536 bytes per call.
    for (let o = 0; o < RECORD_BYTES; o += 65_536) globalThis.crypto.getRandomValues(value.subarray(o, o + 65_536));
    return { key: `obs/${String(i).padStart(5, '0')}`, value };
  });
}
