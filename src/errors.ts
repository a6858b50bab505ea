/**
 * One error hierarchy for the whole library. Every error carries a stable `code` so callers can
 * branch on it without parsing messages; messages say where (layer/option), what was expected and
 * what was received.
 */
export type ErrorCode =
  | 'ERR_SHAPE'
  | 'ERR_VALUE'
  | 'ERR_STATE'
  | 'ERR_UNKNOWN_ID'
  | 'ERR_NON_FINITE'
  | 'ERR_DTYPE'
  | 'ERR_IO'
  | 'ERR_NATIVE';

/** Base class of every error thrown by deepnode; branch on `code` rather than on the message. */
export class DeepnodeError extends Error {
  /** Stable machine-readable error code (see {@link ErrorCode}). */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together (a layer's input, a weight, labels vs predictions). */
export class ShapeError extends DeepnodeError {
  constructor(message: string) {
    super('ERR_SHAPE', message);
  }
}

/** An option or argument out of its valid range, of the wrong type, NaN/Inf data, bad labels. */
export class ValueError extends DeepnodeError {
  constructor(message: string, code: ErrorCode = 'ERR_VALUE') {
    super(code, message);
  }
}

/** A call made at the wrong time: `fit` before `compile`, a layer used before it is built. */
export class StateError extends DeepnodeError {
  constructor(message: string) {
    super('ERR_STATE', message);
  }
}

/** Reading or writing files and downloads. */
export class IOError extends DeepnodeError {
  constructor(message: string) {
    super('ERR_IO', message);
  }
}

/** Render a received value for an error message, short and unambiguous. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return String(value);
}

/** Throw an `ERR_UNKNOWN_ID` error listing the valid ids. */
export function unknownId(kind: string, received: unknown, valid: readonly string[]): never {
  throw new ValueError(
    `Unknown ${kind}: received ${describe(received)}. Valid values: ${valid.map((v) => `'${v}'`).join(', ')}`,
    'ERR_UNKNOWN_ID',
  );
}

/**
 * Reject option names the callee does not know, as Keras rejects unrecognised keyword arguments: a
 * typo (`{ unit: 10 }`, `{ learningrate: 0.1 }`) must not silently fall back to the default.
 * `undefined` options are accepted (nothing to check); anything else that is not a plain options
 * object is an error.
 */
export function checkOptions(where: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValueError(`${where}: expected an options object, received ${describe(options)}`);
  }
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const record = options as Record<string, unknown>;
  const parts = unknown.map((k) => {
    const near = closestName(k, known);
    return `'${k}' (received ${k}=${describe(record[k])}${near ? `; did you mean '${near}'?` : ''})`;
  });
  throw new ValueError(
    `${where}: unknown option(s) ${parts.join(', ')}. Valid options: ${known.map((k) => `'${k}'`).join(', ')}`,
  );
}

/** The known name nearest to `name` (case-insensitive edit distance <= 2 or a case/underscore variant), if any. */
function closestName(name: string, known: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/_/g, '');
  let best: string | null = null;
  let bestDistance = 3;
  for (const k of known) {
    const d = norm(k) === norm(name) ? 0 : editDistance(norm(name), norm(k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
