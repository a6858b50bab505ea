/**
 * fromArrays, trainTestSplit, StandardScaler and fromCsv against values worked out by hand (in the
 * comments beside each expectation).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IOError, ShapeError, StateError, ValueError } from '../src/errors';
import { datasets, Tensor } from '../src';

const { fromArrays, trainTestSplit, standardScaler, fromCsv } = datasets;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-arrays-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

function expectThrow(fn: () => unknown, cls: new (...a: never[]) => Error, ...parts: string[]): Error {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(cls);
  for (const p of parts) expect(err.message).toContain(p);
  return err;
}

const rows = (t: Tensor): number[][] => {
  const w = t.size / t.shape[0]!;
  return Array.from({ length: t.shape[0]! }, (_, i) => Array.from(t.data.subarray(i * w, (i + 1) * w)));
};

describe('fromArrays', () => {
  it('builds [n, features] from rows and [n] from a label list', () => {
    const { x, y } = fromArrays([[1, 2, 3], [4, 5, 6]], [0, 1]);
    expect(x.shape).toEqual([2, 3]);
    expect(Array.from(x.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(y!.shape).toEqual([2]);
    expect(Array.from(y!.data)).toEqual([0, 1]);
    const oneHot = fromArrays([[1], [2]], [[0, 1], [1, 0]]).y!;
    expect(oneHot.shape).toEqual([2, 2]);
  });

  it('takes a flat Float32Array with a shape, and x alone', () => {
    const flat = Float32Array.from({ length: 12 }, (_, i) => i);
    const { x, y } = fromArrays(flat, undefined, { shape: [3, 2, 2] });
    expect(x.shape).toEqual([3, 2, 2]);
    expect(x.data).toBe(flat); // no copy
    expect(y).toBeUndefined();
  });

  it('names what is wrong', () => {
    expectThrow(() => fromArrays([[1, 2], [3]]), ShapeError, 'ragged rows, row 0 has 2 values, row 1 has 1');
    const nan = expectThrow(() => fromArrays([[1, 2], [3, NaN]]), ValueError, 'x row 1 column 1 is NaN');
    expect((nan as ValueError).code).toBe('ERR_NON_FINITE');
    expectThrow(() => fromArrays([[1, 2], [3, '4' as never]]), ValueError, 'x row 1 column 1 must be a number, received "4"');
    expectThrow(() => fromArrays(new Float32Array(10), undefined, { shape: [3, 3] }), ShapeError, 'shape [3, 3] needs 9 values, x has 10');
    expectThrow(() => fromArrays([[1], [2], [3]], [0, 1]), ShapeError, 'x has 3 samples', 'y has shape [2]');
    expectThrow(() => fromArrays([[1]], [Infinity]), ValueError, 'y [0] is Infinity');
    expectThrow(() => fromArrays([[1]], [0], { shap: [1] } as never), ValueError, `'shap'`, `did you mean 'shape'`);
  });
});

describe('trainTestSplit', () => {
  // x row i = [i, 10 i], y = i: every output row says which sample it is.
  const n = 10;
  const x = Array.from({ length: n }, (_, i) => [i, 10 * i]);
  const y = Array.from({ length: n }, (_, i) => i);

  it('rounds the test share up like scikit-learn: testSize 0.25 of 10 -> 3 test, 7 train', () => {
    const s = trainTestSplit(x, y, { seed: 1 });
    expect(s.xTrain.shape).toEqual([7, 2]);
    expect(s.xTest.shape).toEqual([3, 2]);
    expect(s.yTrain.shape).toEqual([7]);
    expect(s.yTest.shape).toEqual([3]);
    // The rows stay paired with their labels, and the two sets partition the samples.
    for (const [xs, ys] of [[s.xTrain, s.yTrain], [s.xTest, s.yTest]] as const) {
      rows(xs).forEach((r, i) => expect(r).toEqual([ys.data[i]!, 10 * ys.data[i]!]));
    }
    const all = [...s.yTrain.data, ...s.yTest.data].sort((a, b) => a - b);
    expect(all).toEqual(y);
    expect(trainTestSplit(x, y, { testSize: 0.5 }).yTest.size).toBe(5);
    expect(trainTestSplit(x, y, { testSize: 0.01 }).yTest.size).toBe(1); // ceil(0.1)
    expect(trainTestSplit(x, y, { testSize: 4 }).yTest.size).toBe(4); // a count
  });

  it('without shuffle, the last samples are the test set', () => {
    const s = trainTestSplit(x, y, { shuffle: false, testSize: 0.3 });
    expect(Array.from(s.yTrain.data)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(s.yTest.data)).toEqual([7, 8, 9]);
  });

  it('repeats with a seed and shuffles (not the identity) otherwise', () => {
    const a = trainTestSplit(x, y, { seed: 42 });
    const b = trainTestSplit(x, y, { seed: 42 });
    const c = trainTestSplit(x, y, { seed: 43 });
    expect(Array.from(b.yTest.data)).toEqual(Array.from(a.yTest.data));
    expect([...a.yTrain.data, ...a.yTest.data]).not.toEqual([...c.yTrain.data, ...c.yTest.data]);
    expect(Array.from(a.yTrain.data)).not.toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('stratifies: class counts 10, 3, 2 with 5 test samples -> 3, 1, 1 in test', () => {
    // Shares 10*5/15 = 3.33, 3*5/15 = 1, 2*5/15 = 0.67: floors 3, 1, 0 leave 1, given to the largest
    // remainder (class 2's 0.67).
    const labels = [...Array(10).fill(0), ...Array(3).fill(1), ...Array(2).fill(2)] as number[];
    const feats = labels.map((_, i) => [i]);
    for (const seed of [1, 2, 3]) {
      const s = trainTestSplit(feats, labels, { testSize: 5, stratify: true, seed });
      const count = (t: Tensor, c: number): number => t.data.filter((v) => v === c).length;
      expect([0, 1, 2].map((c) => count(s.yTest, c))).toEqual([3, 1, 1]);
      expect([0, 1, 2].map((c) => count(s.yTrain, c))).toEqual([7, 2, 1]);
      rows(s.xTest).forEach((r, i) => expect(labels[r[0]!]).toBe(s.yTest.data[i])); // still paired
    }
    // Stratify by one-hot y (argmax), or by separate ids: 6 of class 0, 4 of class 1, testSize 5:
    // shares 3 and 2 exactly.
    const oneHot = Array.from({ length: 10 }, (_, i) => (i < 6 ? [1, 0] : [0, 1]));
    const s2 = trainTestSplit(Array.from({ length: 10 }, (_, i) => [i]), oneHot, { testSize: 5, stratify: true, seed: 5 });
    expect(rows(s2.yTest).filter((r) => r[0] === 1).length).toBe(3);
    const s3 = trainTestSplit(Array.from({ length: 10 }, (_, i) => [i]), y, { testSize: 5, stratify: oneHot.map((r) => r[1]!), seed: 5 });
    expect(Array.from(s3.yTest.data).filter((v) => v < 6).length).toBe(3);
  });

  it('echoes bad options', () => {
    expectThrow(() => trainTestSplit(x, y, { testSize: 0 }), ValueError, 'testSize', 'received 0');
    expectThrow(() => trainTestSplit(x, y, { testSize: 1.5 }), ValueError, 'received 1.5');
    expectThrow(() => trainTestSplit(x, y, { testSize: 10 }), ValueError, 'testSize=10 with 10 samples leaves 0 for training');
    expectThrow(() => trainTestSplit(x, y, { stratify: true, shuffle: false }), ValueError, 'stratify needs shuffle: true');
    expectThrow(() => trainTestSplit([[1], [2], [3]], [0, 0, 1], { stratify: true, testSize: 1 }), ValueError, 'class 1 has 1 sample');
    expectThrow(() => trainTestSplit(x, y.slice(1)), ShapeError, 'x has 10 samples');
    expectThrow(() => trainTestSplit(x, y, { test_size: 0.2 } as never), ValueError, `did you mean 'testSize'`);
  });
});

describe('standardScaler', () => {
  // Feature 0: 1, 2, 3, 6 -> mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5.
  // Feature 1: constant 10 -> variance 0, scale 1 (scikit-learn maps it to 0 rather than NaN).
  const train = [[1, 10], [2, 10], [3, 10], [6, 10]];

  it('fits mean and population std on train, and applies them unchanged to test', () => {
    const s = standardScaler();
    const z = s.fitTransform(train);
    expect(Array.from(s.mean!)).toEqual([3, 10]);
    expect(Array.from(s.variance!)).toEqual([3.5, 0]);
    expect(s.scale![0]).toBeCloseTo(Math.sqrt(3.5), 12);
    expect(s.scale![1]).toBe(1);
    const r = Math.sqrt(3.5);
    const expected = [(1 - 3) / r, 0, (2 - 3) / r, 0, 0, 0, (6 - 3) / r, 0];
    Array.from(z.data).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    // Test data: the train statistics, not its own: [3, 11] -> [0, 1], [10, 10] -> [7/sqrt(3.5), 0].
    const t = s.transform([[3, 11], [10, 10]]);
    expect(t.data[0]).toBeCloseTo(0, 7);
    expect(t.data[1]).toBeCloseTo(1, 7);
    expect(t.data[2]).toBeCloseTo(7 / r, 6);
    expect(t.data[3]).toBe(0);
    expect(Array.from(s.inverseTransform(t).data)).toEqual([3, 11, 10, 10].map((v) => expect.closeTo(v, 5)));
  });

  it('gives standardised training features mean 0 and std 1', () => {
    const data = Array.from({ length: 50 }, (_, i) => [Math.sin(i) * 5 + 3, i * i, 0.001 * i]);
    const z = standardScaler().fitTransform(data);
    for (let j = 0; j < 3; j++) {
      const col = rows(z).map((r) => r[j]!);
      const m = col.reduce((a, b) => a + b, 0) / col.length;
      const v = col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length;
      expect(m).toBeCloseTo(0, 5);
      expect(v).toBeCloseTo(1, 4);
    }
  });

  it('treats every dimension after the first as a feature, and has withMean/withStd', () => {
    // Two 2x2 "images": pixel p takes values a and b, mean (a+b)/2, std |a-b|/2.
    const imgs = new Tensor(Float32Array.from([0, 2, 4, 6, 2, 2, 8, 10]), [2, 2, 2]);
    const s = standardScaler().fit(imgs);
    expect(Array.from(s.mean!)).toEqual([1, 2, 6, 8]);
    expect(Array.from(s.scale!)).toEqual([1, 1, 2, 2]); // pixel 1 is constant -> 1; |0-2|/2 = 1
    expect(s.transform(imgs).shape).toEqual([2, 2, 2]);
    const noMean = standardScaler({ withMean: false }).fit(train);
    expect(Array.from(noMean.mean!)).toEqual([0, 0]);
    expect(noMean.transform([[7, 10]]).data[0]).toBeCloseTo(7 / Math.sqrt(3.5), 6);
    const noStd = standardScaler({ withStd: false }).fit(train);
    expect(Array.from(noStd.transform([[7, 10]]).data)).toEqual([4, 0]);
  });

  it('refuses use before fit, other feature shapes, and bad options', () => {
    expectThrow(() => standardScaler().transform(train), StateError, 'not fitted yet');
    const s = standardScaler().fit(train);
    expectThrow(() => s.transform([[1, 2, 3]]), ShapeError, 'expected x of shape [n, 2]', 'received shape [1, 3]');
    expectThrow(() => s.fit([1, 2, 3]), ShapeError, 'received shape [3]');
    expectThrow(() => standardScaler({ withMean: 'no' as never }), ValueError, 'withMean must be a boolean, received "no"');
    expectThrow(() => standardScaler({ with_std: false } as never), ValueError, `did you mean 'withStd'`);
  });
});

describe('fromCsv', () => {
  const write = (name: string, text: string): string => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it('reads a header, features and a numeric label column chosen by name or index', () => {
    const file = write('a.csv', 'a,b,label\n1,2.5,0\n-3,4e2,1\n\n.5,+6,1\n');
    const byName = fromCsv(file, { labelColumn: 'label' });
    expect(byName.columns).toEqual(['a', 'b']);
    expect(byName.x.shape).toEqual([3, 2]);
    expect(Array.from(byName.x.data)).toEqual([1, 2.5, -3, 400, 0.5, 6]);
    expect(Array.from(byName.y!.data)).toEqual([0, 1, 1]);
    expect(byName.classes).toBeUndefined();
    expect(Array.from(fromCsv(file, { labelColumn: -1 }).y!.data)).toEqual([0, 1, 1]);
    const first = fromCsv(file, { labelColumn: 0 });
    expect(first.columns).toEqual(['b', 'label']);
    expect(Array.from(first.y!.data)).toEqual([1, -3, 0.5]);
    const all = fromCsv(file);
    expect(all.x.shape).toEqual([3, 3]);
    expect(all.y).toBeUndefined();
  });

  it('handles quotes, CRLF, no header, another delimiter, and class names as labels', () => {
    const file = write('iris.csv', '"sepal, cm";"say ""hi""";species\r\n5.1;"3.5";setosa\r\n7.0;3.2;versicolor\r\n6.3;3.3;setosa\r\n');
    const d = fromCsv(file, { delimiter: ';', labelColumn: 'species' });
    expect(d.columns).toEqual(['sepal, cm', 'say "hi"']);
    expect(Array.from(d.x.data)).toEqual([5.1, 3.5, 7.0, 3.2, 6.3, 3.3].map(Math.fround));
    expect(d.classes).toEqual(['setosa', 'versicolor']);
    expect(Array.from(d.y!.data)).toEqual([0, 1, 0]);
    const plain = fromCsv(write('plain.csv', '1,2\n3,4'), { header: false, labelColumn: 1 });
    expect(plain.columns).toEqual(['column_0']);
    expect(Array.from(plain.x.data)).toEqual([1, 3]);
    expect(Array.from(plain.y!.data)).toEqual([2, 4]);
  });

  it('names the line, column and cell of a bad value', () => {
    const file = write('bad.csv', 'h1,h2,h3\n1,2,3\n4,abc,6\n');
    const err = expectThrow(() => fromCsv(file), ValueError, `${file}: line 3 column 2 ("h2"): expected a number, received "abc"`);
    expect((err as ValueError).code).toBe('ERR_VALUE');
    expectThrow(() => fromCsv(write('empty-cell.csv', 'a,b\n1,\n')), ValueError, 'line 2 column 2 ("b"): expected a number, received ""');
    expectThrow(() => fromCsv(write('ragged.csv', 'a,b\n1,2\n3\n')), ShapeError, 'line 3 has 1 fields, expected 2');
    // A quoted newline: the record starting on line 2 spans two lines, so the next one is line 4.
    expectThrow(() => fromCsv(write('multi.csv', 'a,b\n"1\n",2\n3,x\n')), ValueError, 'line 4 column 2 ("b"): expected a number, received "x"');
    expectThrow(() => fromCsv(write('quote.csv', 'a,b\n"1,2\n')), ValueError, 'quoted field opened on line 2 is never closed');
    expectThrow(() => fromCsv(file, { labelColumn: 'h4' }), ValueError, 'no column named "h4"', '["h1", "h2", "h3"]');
    expectThrow(() => fromCsv(file, { labelColumn: 3 }), ValueError, 'index in -3..2, received 3');
    expectThrow(() => fromCsv(path.join(tmp, 'missing.csv')), IOError, 'missing.csv: cannot read');
    expectThrow(() => fromCsv(write('head.csv', 'a,b\n')), ValueError, 'no data rows');
  });

  it('feeds trainTestSplit and standardScaler: the scaler fitted on train only', () => {
    const text = ['x,y', ...Array.from({ length: 20 }, (_, i) => `${i},${i % 2}`)].join('\n');
    const d = fromCsv(write('pipe.csv', text), { labelColumn: 'y' });
    const s = trainTestSplit(d.x, d.y!, { testSize: 0.25, seed: 3, stratify: true });
    const scaler = standardScaler().fit(s.xTrain);
    const trainValues = Array.from(s.xTrain.data);
    const m = trainValues.reduce((a, b) => a + b, 0) / trainValues.length;
    expect(scaler.mean![0]).toBeCloseTo(m, 10);
    expect(scaler.transform(s.xTest).shape).toEqual([5, 1]);
  });
});

describe('toCategorical (keras.utils.to_categorical)', () => {
  it('one-hot rows, numClasses from the largest label, a trailing axis of 1 dropped, typed arrays accepted', () => {
    const a = datasets.toCategorical([2, 0, 1, 2]);
    expect(a.shape).toEqual([4, 3]);
    expect(Array.from(a.data)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const b = datasets.toCategorical(new Tensor(Float32Array.from([1, 0]), [2, 1]), 4);
    expect(b.shape).toEqual([2, 4]);
    expect(Array.from(b.data)).toEqual([0, 1, 0, 0, 1, 0, 0, 0]);
    const c = datasets.toCategorical(Uint8Array.from([1, 1]));
    expect(c.shape).toEqual([2, 2]);
    expect(Array.from(c.data)).toEqual([0, 1, 0, 1]);
  });

  it('refuses non-integer, negative and too-large labels', () => {
    expect(() => datasets.toCategorical([0, 1.5])).toThrow(/label at index 1 is 1.5/);
    expect(() => datasets.toCategorical([-1])).toThrow(/label at index 0 is -1/);
    expect(() => datasets.toCategorical([0, 3], 3)).toThrow(/label 3 at index 1 is not below numClasses=3/);
    expect(() => datasets.toCategorical([0], 0)).toThrow(/numClasses must be an integer >= 1/);
  });
});
