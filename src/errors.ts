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

export class DeepnodeError extends Error {
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
