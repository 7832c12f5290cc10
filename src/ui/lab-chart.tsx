import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';
import type { LabSeries } from '../api/index.js';

/**
 * A lab trend for one LOINC code (uPlot). The chart is drawn on a canvas, so the same values are
 * also given as a table for screen readers and for reading exact numbers.
 */
export function LabChart({ series }: { series: LabSeries }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || series.points.length === 0) return;
    const xs = series.points.map((p) => Date.parse(p.t) / 1000);
    const ys = series.points.map((p) => p.value);
    const chart = new uPlot(
      {
        width: Math.max(320, Math.min(800, el.clientWidth || 640)),
        height: 260,
        series: [{}, { label: `${series.display} (${series.unit})`, stroke: '#0b5d4b', width: 2, points: { show: true, size: 6 } }],
        axes: [{ stroke: '#1b1f23' }, { stroke: '#1b1f23', label: series.unit }],
      },
      [xs, ys],
      el,
    );
    return () => chart.destroy();
  }, [series]);
  return (
    <figure>
      <figcaption>
        <h3>
          {series.display} <span class="muted small">LOINC {series.loinc}, {series.unit}</span>
        </h3>
      </figcaption>
      <div ref={box} role="img" aria-label={`Chart of ${series.display} over time, ${series.points.length} results`} />
      <details>
        <summary>Values as a table</summary>
        <table>
          <caption class="skip">{series.display} results</caption>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Value ({series.unit})</th>
            </tr>
          </thead>
          <tbody>
            {series.points.map((p) => (
              <tr key={p.t}>
                <td>{p.t.slice(0, 10)}</td>
                <td>{p.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
