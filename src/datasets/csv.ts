/**
 * Numeric CSV files as tensors. The parser follows RFC 4180: comma-separated fields (or
 * `delimiter`), fields may be double-quoted (a quote inside is written twice, and a quoted field may
 * hold delimiters and newlines), lines end in LF or CRLF; blank lines are skipped. Every feature
 * cell must be a decimal number; the error names the line, the column and the cell.
 */
import * as fs from 'node:fs';
import { IOError, ShapeError, ValueError, checkOptions, describe } from '../errors';
import { Tensor } from '../tensor';

/** Options of `fromCsv` and `csvToTensors`. */
export interface FromCsvOptions {
  /**
   * The column holding the labels, by 0-based index (negative counts from the end: -1 is the last)
   * or by header name. Without it every column is a feature and `y` is absent.
   */
  labelColumn?: number | string;
  /** The first line holds column names (default true). */
  header?: boolean;
  /** Field separator, one character (default ','). */
  delimiter?: string;
}

/** What `fromCsv` and `csvToTensors` return: float32 tensors plus the column and class names. */
export interface CsvDataset {
  /** Features, [rows, columns without the label]. */
  x: Tensor;
  /** Labels, [rows]: the numbers in the label column (when any cell is a number, every cell must be), or class ids when it holds only names. */
  y?: Tensor;
  /** Names of the feature columns (from the header, else 'column_<i>'). */
  columns: string[];
  /** When the label column holds text: the distinct labels, sorted; y holds indices into it. */
  classes?: string[];
}

/** Read a CSV file of numbers; see `FromCsvOptions` and `parseCsv`. */
export function fromCsv(file: string, options: FromCsvOptions = {}): CsvDataset {
  if (typeof file !== 'string' || file.length === 0) {
    throw new ValueError(`fromCsv: expected a file path, received ${describe(file)}`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new IOError(`fromCsv: ${file}: cannot read (${(err as Error).message})`);
  }
  return csvToTensors(text, file, options);
}

/** Like `fromCsv`, from the text itself; `name` prefixes error messages. */
export function csvToTensors(text: string, name: string, options: FromCsvOptions = {}): CsvDataset {
  const where = `fromCsv: ${name}`;
  checkOptions('fromCsv', options, ['labelColumn', 'header', 'delimiter']);
  const header = options.header ?? true;
  if (typeof header !== 'boolean') throw new ValueError(`fromCsv: header must be a boolean, received ${describe(header)}`);
  const delimiter = options.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new ValueError(`fromCsv: delimiter must be one character other than a quote or newline, received ${describe(delimiter)}`);
  }

  const records = parseCsv(text, delimiter, name);
  if (header && records.length === 0) throw new ValueError(`${where}: empty file, expected a header line`);
  const names = header ? records[0]!.fields.map((f) => f.trim()) : null;
  const body = header ? records.slice(1) : records;
  if (body.length === 0) throw new ValueError(`${where}: no data rows`);
  const width = names?.length ?? body[0]!.fields.length;
  for (const r of body) {
    if (r.fields.length !== width) {
      throw new ShapeError(`${where}: line ${r.line} has ${r.fields.length} fields, expected ${width} (as ${names ? 'the header' : `line ${body[0]!.line}`})`);
    }
  }
  const columnNames = names ?? Array.from({ length: width }, (_, i) => `column_${i}`);
  const label = labelIndex(where, options.labelColumn, names, width);

  const featureCols = columnNames.map((_, i) => i).filter((i) => i !== label);
  const x = new Float32Array(body.length * featureCols.length);
  body.forEach((r, row) => {
    featureCols.forEach((c, k) => {
      x[row * featureCols.length + k] = parseNumber(r.fields[c]!, () => `${where}: line ${r.line} column ${c + 1} (${describe(columnNames[c])})`);
    });
  });
  const out: CsvDataset = {
    x: new Tensor(x, [body.length, featureCols.length]),
    columns: featureCols.map((i) => columnNames[i]!),
  };
  if (label !== null) {
    const cells = body.map((r) => r.fields[label]!.trim());
    if (cells.some((c) => NUMBER.test(c))) {
      // Numeric labels: every cell must be one (a blank or a typo must not turn the column into
      // class names and renumber every label).
      const at = (row: number) => () => `${where}: line ${body[row]!.line} column ${label + 1} (${describe(columnNames[label])}, the label)`;
      out.y = new Tensor(Float32Array.from(cells, (c, row) => parseNumber(c, at(row))), [body.length]);
    } else {
      // Names ("setosa", "versicolor"): class ids in sorted order, as scikit-learn's LabelEncoder.
      const classes = [...new Set(cells)].sort();
      const id = new Map(classes.map((c, i) => [c, i]));
      out.y = new Tensor(Float32Array.from(cells, (c) => id.get(c)!), [body.length]);
      out.classes = classes;
    }
  }
  return out;
}

/** A decimal number: optional sign, digits with an optional fraction, optional exponent. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(cell: string, where: () => string): number {
  const s = cell.trim();
  if (!NUMBER.test(s)) {
    throw new ValueError(`${where()}: expected a number, received ${describe(cell)}`);
  }
  const v = Number(s);
  if (!Number.isFinite(Math.fround(v))) {
    throw new ValueError(`${where()}: ${describe(cell)} overflows float32`, 'ERR_NON_FINITE');
  }
  return v;
}

function labelIndex(where: string, labelColumn: unknown, names: string[] | null, width: number): number | null {
  if (labelColumn === undefined) return null;
  if (typeof labelColumn === 'string') {
    if (names === null) throw new ValueError(`${where}: labelColumn ${describe(labelColumn)} is a name but header is false; give an index`);
    const i = names.indexOf(labelColumn);
    if (i < 0) throw new ValueError(`${where}: no column named ${describe(labelColumn)}; columns are ${describe(names)}`);
    return i;
  }
  if (typeof labelColumn !== 'number' || !Number.isInteger(labelColumn) || labelColumn >= width || labelColumn < -width) {
    throw new ValueError(`${where}: labelColumn must be a column name or an index in -${width}..${width - 1}, received ${describe(labelColumn)}`);
  }
  return labelColumn < 0 ? width + labelColumn : labelColumn;
}

interface CsvRecord {
  /** 1-based line where the record starts. */
  line: number;
  fields: string[];
}

/** Split CSV text into records (RFC 4180 quoting), skipping blank lines. */
export function parseCsv(text: string, delimiter = ',', name = 'csv'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let quoted = false; // inside a quoted field
  let wasQuoted = false; // the current field was quoted (so an empty one still counts)
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a UTF-8 byte-order mark
  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0]!.trim() === '' && !wasQuoted)) records.push({ line: start, fields });
    fields = [];
    field = '';
    wasQuoted = false;
  };
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      if (field.trim() !== '') throw new ValueError(`fromCsv: ${name}: line ${line}: a quote inside an unquoted field ${describe(field + ch)}`);
      field = '';
      quoted = true;
      wasQuoted = true;
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
      wasQuoted = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += ch;
    }
  }
  if (quoted) throw new ValueError(`fromCsv: ${name}: a quoted field opened on line ${start} is never closed`);
  endRecord();
  return records;
}
