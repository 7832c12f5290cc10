/**
 * Stands in for `pngjs` in the extension build (wxt.config.ts aliases it): pngjs is a Node library
 * (zlib, stream, util) that cannot load in a browser page. The engine never decodes images in the
 * extension — the UI reads QR codes from images itself (jsQR on a canvas) and hands the engine
 * `shc:/` text — so decoding a PNG here is refused with a clear error rather than crashing at load.
 */
function unavailable(): never {
  throw new Error('PNG decoding is not available in the extension engine: the UI reads QR images and sends their text');
}

/** The shape records' QR reader uses (`PNG.sync.read`). */
export const PNG = { sync: { read: unavailable, write: unavailable } };
export default { PNG };
