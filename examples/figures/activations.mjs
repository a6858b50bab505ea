// Figure: the chapter's activation functions and their derivatives (Hands-On ML, chapter 11,
// "Better Activation Functions"). Values come from deepnode's own native kernels through the
// public API: activations.apply runs the forward kernel, and backward() on sum(f(x)) runs the
// backward kernel, so x.grad holds f'(x) at every point.
//   node examples/figures/activations.mjs      -> examples/figures/out/activations.png
import { Tensor, activations, ops, backward, plot } from 'deepnode';
import { outFile } from './common.mjs';

const xs = Array.from({ length: 401 }, (_, i) => -5 + i * 0.025);
const curves = [
  ['sigmoid', 'sigmoid'],
  ['tanh', 'tanh'],
  ['ReLU', 'relu'],
  ['LeakyReLU (α = 0.2)', 'leaky_relu'], // the chapter's LeakyReLU(alpha=0.2)
  ['ELU (α = 1)', 'elu'],
  ['SELU', 'selu'],
  ['GELU', 'gelu'],
  ['Swish', 'swish'],
];

const rows = [];
for (const [label, id] of curves) {
  const x = new Tensor(Float32Array.from(xs), [xs.length]);
  x.requiresGrad = true;
  const y = activations.apply(activations.getActivation(id), x);
  backward(ops.sum(y)); // d(sum f(x_i))/dx_i = f'(x_i)
  xs.forEach((xi, i) => {
    rows.push({ activation: label, x: xi, curve: 'f(x)', value: y.data[i] });
    rows.push({ activation: label, x: xi, curve: "f′(x)", value: x.grad[i] });
  });
}

const spec = {
  title: { text: 'Activation functions (solid) and their derivatives (dashed)', anchor: 'start', fontSize: 15 },
  data: { values: rows },
  facet: { field: 'activation', type: 'nominal', title: null, sort: curves.map((c) => c[0]), header: { labelFontSize: 13, labelFontWeight: 'bold' } },
  columns: 4,
  spec: {
    width: 220,
    height: 170,
    layer: [
      { mark: { type: 'rule', color: '#999', strokeWidth: 1 }, encoding: { y: { datum: 0 } } },
      { mark: { type: 'rule', color: '#999', strokeWidth: 1 }, encoding: { x: { datum: 0 } } },
      {
        mark: { type: 'line', strokeWidth: 2.2, clip: true },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'x', scale: { domain: [-5, 5] }, axis: { values: [-4, -2, 0, 2, 4] } },
          y: { field: 'value', type: 'quantitative', title: null, scale: { domain: [-2, 3] }, axis: { values: [-2, -1, 0, 1, 2, 3] } },
          color: { field: 'curve', type: 'nominal', title: null, scale: { domain: ['f(x)', "f′(x)"], range: ['#1f77b4', '#d62728'] } },
          strokeDash: { field: 'curve', type: 'nominal', title: null, scale: { domain: ['f(x)', "f′(x)"], range: [[1, 0], [5, 3]] } },
        },
      },
    ],
  },
  config: { axis: { grid: true }, legend: { orient: 'top', labelFontSize: 13, symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 500 } },
};

await plot.render(spec, outFile('activations.png'));
console.log(`wrote ${outFile('activations.png')}`);
