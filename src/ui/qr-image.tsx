import QRCode from 'qrcode';
import { useEffect, useState } from 'preact/hooks';

/** A QR code of `text` as an SVG image; `label` says what it is for screen readers. */
export function QrImage({ text, label }: { text: string; label: string }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let live = true;
    QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }).then(
      (svg) => live && setSrc(`data:image/svg+xml,${encodeURIComponent(svg)}`),
      () => live && setSrc(undefined),
    );
    return () => {
      live = false;
    };
  }, [text]);
  return <div class="qr">{src ? <img src={src} alt={label} /> : <p class="muted">Drawing the QR code…</p>}</div>;
}
