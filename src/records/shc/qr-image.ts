/**
 * QR codes in images (PNG, JPEG): decode the pixels with pngjs / jpeg-js under size caps, then find
 * the QR with jsQR. One QR per image: for a chunked card, decode each image and pass the texts
 * together to parseImport.
 */
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { RecordsError } from '../errors.js';
import { MAX_IMAGE_DECODE_MB, MAX_IMAGE_PIXELS } from './constants.js';

/** Which image format `bytes` starts with, if any we read. */
export function imageKind(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** PNG width and height from the IHDR chunk, before decoding anything. */
function pngSize(bytes: Uint8Array): [number, number] {
  if (bytes.length < 24) return [0, 0];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

function decodePixels(bytes: Uint8Array): { data: Uint8ClampedArray; width: number; height: number } {
  const kind = imageKind(bytes);
  try {
    if (kind === 'png') {
      const [w, h] = pngSize(bytes);
      if (w * h > MAX_IMAGE_PIXELS) throw new RecordsError('IMAGE_UNREADABLE', 'The image has too many pixels');
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
    }
    if (kind === 'jpeg') {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1_000_000, maxMemoryUsageInMB: MAX_IMAGE_DECODE_MB });
      return { data: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength), width: img.width, height: img.height };
    }
  } catch (e) {
    if (e instanceof RecordsError) throw e;
    throw new RecordsError('IMAGE_UNREADABLE', 'The image could not be decoded');
  }
  throw new RecordsError('IMAGE_UNREADABLE', 'Only PNG and JPEG images are read');
}

/** The text of the QR code in a PNG or JPEG image. Throws `IMAGE_NO_QR` when there is none. */
export function decodeQrImage(bytes: Uint8Array): string {
  const { data, width, height } = decodePixels(bytes);
  const qr = jsQR(data, width, height, { inversionAttempts: 'attemptBoth' });
  if (!qr) throw new RecordsError('IMAGE_NO_QR', 'No QR code was found in the image');
  return qr.data;
}
