// Figure 11-1 of the chapter: the sigmoid saturates. For large |x| it flattens at 0 or 1 and its
// derivative is close to 0, so almost no gradient flows back; only near 0 is it nearly linear
// (slope 1/4, the dashed tangent). Sigmoid values come from deepnode's native kernel.
//   node examples/figures/sigmoid-saturation.mjs   -> examples/figures/out/sigmoid-saturation.png
import { Tensor, activations, plot } from 'deepnode';
import { outFile } from './common.mjs';

const xs = Array.from({ length: 401 }, (_, i) => -5 + i * 0.025);
const y = activations.apply(activations.getActivation('sigmoid'), new Tensor(Float32Array.from(xs), [xs.length]));
const sigmoid = xs.map((x, i) => ({ x, y: y.data[i] }));
// Tangent at 0: sigmoid(0) + sigmoid'(0) x = 1/2 + x/4, drawn over [-2, 2].
const linear = [-2, 2].map((x) => ({ x, y: 0.5 + x / 4 }));

const xScale = { domain: [-5, 5], nice: false };
const yScale = { domain: [-0.2, 1.2], nice: false };
const spec = {
  title: { text: 'Sigmoid activation function', anchor: 'middle', fontSize: 15 },
  width: 560,
  height: 320,
  layer: [
    // Asymptotes and axes.
    { data: { values: [{ y: 0 }, { y: 1 }] }, mark: { type: 'rule', color: 'black', strokeDash: [4, 3], strokeWidth: 1.2 }, encoding: { y: { field: 'y', type: 'quantitative', scale: yScale } } },
    { data: { values: [{ x: 0 }] }, mark: { type: 'rule', color: 'black', strokeWidth: 1 }, encoding: { x: { field: 'x', type: 'quantitative', scale: xScale } } },
    {
      data: { values: linear },
      mark: { type: 'line', color: '#d62728', strokeDash: [6, 4], strokeWidth: 2 },
      encoding: { x: { field: 'x', type: 'quantitative', scale: xScale }, y: { field: 'y', type: 'quantitative', scale: yScale } },
    },
    {
      data: { values: sigmoid },
      mark: { type: 'line', color: '#1f77b4', strokeWidth: 3 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: 'x', scale: xScale },
        y: { field: 'y', type: 'quantitative', title: 'σ(x) = 1 / (1 + e⁻ˣ)', scale: yScale, axis: { values: [0, 0.5, 1] } },
      },
    },
    {
      data: {
        values: [
          { x: -3.6, y: 0.2, text: 'Saturating' },
          { x: 3.6, y: 0.8, text: 'Saturating' },
          { x: 1.35, y: 0.3, text: 'Linear' },
        ],
      },
      mark: { type: 'text', fontSize: 14, fontWeight: 'bold', color: '#333' },
      encoding: { x: { field: 'x', type: 'quantitative', scale: xScale }, y: { field: 'y', type: 'quantitative', scale: yScale }, text: { field: 'text' } },
    },
    {
      // Arrows from the labels to the curve (a line plus a point at the curve end).
      data: {
        values: [
          { id: 'l', x: -3.6, y: 0.15 }, { id: 'l', x: -4.2, y: 0.015 },
          { id: 'r', x: 3.6, y: 0.85 }, { id: 'r', x: 4.2, y: 0.985 },
          { id: 'c', x: 1.0, y: 0.33 }, { id: 'c', x: 0.4, y: 0.6 },
        ],
      },
      mark: { type: 'line', color: '#333', strokeWidth: 1.2, point: { filled: true, size: 25, color: '#333' } },
      encoding: { x: { field: 'x', type: 'quantitative', scale: xScale }, y: { field: 'y', type: 'quantitative', scale: yScale }, detail: { field: 'id' } },
    },
  ],
  config: { axis: { grid: true, labelFontSize: 12, titleFontSize: 13 } },
};

await plot.render(spec, outFile('sigmoid-saturation.png'));
console.log(`wrote ${outFile('sigmoid-saturation.png')}`);
