// Reads a Parquet file with an independent reader and compares every value
// with what the writer was given.
//
//   node check_parquet.mjs <duckdb|hyparquet|parquet-wasm> <file.parquet> <expected.json>
//
// expected.json: {"columns": [{"name", "type", "unit"}], "rows": [[value, ...], ...],
//                 "meta": [{"row_group", "column", "null_count", "min", "max",
//                           "encoding", "compression"}]}   (meta: DuckDB only, optional)
// Values are canonical: integers, dates (days) and timestamps (in their unit)
// as decimal strings; doubles and floats as "d:" and the 16 hex digits of the
// float64 bits ("d:nan" for any NaN); strings as "s:" + text; bools "b:0"/"b:1";
// lists as arrays; null as null.
// Prints "ok <rows> rows" and exits 0, or prints the first difference and exits 1.
import { readFileSync } from 'node:fs';

const [reader, path, expectedPath] = process.argv.slice(2);
const expected = JSON.parse(readFileSync(expectedPath, 'utf8'));
const columns = expected.columns;

function canonDouble(x) {
  if (Number.isNaN(x)) return 'd:nan';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return 'd:' + view.getBigUint64(0).toString(16).padStart(16, '0');
}

const isList = (t) => t.startsWith('list<');
const element = (t) => (t === 'list<double>' ? 'double' : 'int64');

function canon(type, v) {
  if (v === null || v === undefined) return null;
  if (isList(type)) return Array.from(v, (e) => canon(element(type), e));
  switch (type) {
    case 'double':
    case 'float':
      return canonDouble(Number(v));
    case 'string':
      return 's:' + v;
    case 'bool':
      return v ? 'b:1' : 'b:0';
    default:
      return BigInt(v).toString();
  }
}

async function readDuckdb() {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    threads: '1',
  });
  const con = await db.connect();
  const q = (s) => s.replaceAll("'", "''");
  const exprs = columns.map((c) => {
    const id = '"' + c.name.replaceAll('"', '""') + '"';
    // Each unit its own function: epoch_ns overflows for ms values far from 1970.
    if (c.type === 'timestamp') return c.unit === 'ms' ? `epoch_ms(${id})` : `epoch_us(${id})`;
    if (c.type === 'date') return `(${id} - DATE '1970-01-01')`;
    return id;
  });
  const result = await con.runAndReadAll(`SELECT ${exprs.join(', ')} FROM read_parquet('${q(path)}')`);
  const rows = result.getRowsJS().map((row) =>
    row.map((v, i) => {
      const c = columns[i];
      if (c.type === 'timestamp' && v !== null) return BigInt(v).toString();
      return canon(c.type, v);
    }),
  );
  let meta = [];
  if (expected.meta) {
    const m = await con.runAndReadAll(
      `SELECT row_group_id, path_in_schema, stats_min_value, stats_max_value, stats_null_count, encodings, compression
       FROM parquet_metadata('${q(path)}') ORDER BY row_group_id, column_id`,
    );
    meta = m.getRowObjectsJS();
  }
  return { rows, meta };
}

async function readHyparquet() {
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const raw = (v) => v;
  const file = await asyncBufferFromFile(path);
  const objects = await parquetReadObjects({
    file,
    compressors,
    parsers: {
      timestampFromMilliseconds: raw,
      timestampFromMicroseconds: raw,
      timestampFromNanoseconds: raw,
      dateFromDays: raw,
      stringFromBytes: (b) => b && new TextDecoder().decode(b),
    },
  });
  return { rows: objects.map((o) => columns.map((c) => canon(c.type, o[c.name]))), meta: [] };
}

async function readParquetWasm() {
  const { readParquet } = await import('parquet-wasm');
  const arrow = await import('apache-arrow');
  const table = arrow.tableFromIPC(readParquet(new Uint8Array(readFileSync(path))).intoIPCStream());
  const rows = [];
  for (let r = 0; r < table.numRows; ++r) rows.push([]);
  columns.forEach((c) => {
    const vec = table.getChild(c.name);
    let r = 0;
    for (const chunk of vec.data) {
      for (let i = 0; i < chunk.length; ++i, ++r) {
        if (!chunk.getValid(i)) {
          rows[r].push(null);
        } else if (c.type === 'timestamp' || c.type === 'date') {
          rows[r].push(BigInt(chunk.values[i]).toString());  // raw: in the column's unit, or days
        } else {
          const v = vec.get(r);
          rows[r].push(canon(c.type, isList(c.type) ? v.toArray() : v));
        }
      }
    }
  });
  return { rows, meta: [] };
}

const readers = { duckdb: readDuckdb, hyparquet: readHyparquet, 'parquet-wasm': readParquetWasm };
if (!readers[reader]) {
  console.log(`unknown reader '${reader}'`);
  process.exit(2);
}
const got = await readers[reader]();

// DuckDB reads TIMESTAMP(NANOS, UTC) as TIMESTAMP WITH TIME ZONE, which holds
// microseconds: it drops the last three digits. Compare at its precision.
if (reader === 'duckdb') {
  const floorMicros = (ns) => {
    const n = BigInt(ns);
    const q = n / 1000n - (n % 1000n < 0n ? 1n : 0n);
    return q.toString();
  };
  columns.forEach((c, i) => {
    if (c.type !== 'timestamp' || c.unit !== 'ns') return;
    for (const row of expected.rows) if (row[i] !== null) row[i] = floorMicros(row[i]);
  });
}

function fail(msg) {
  console.log(`${reader}: ${msg}`);
  process.exit(1);
}
if (got.rows.length !== expected.rows.length) fail(`read ${got.rows.length} rows, expected ${expected.rows.length}`);
for (let r = 0; r < expected.rows.length; ++r) {
  for (let i = 0; i < columns.length; ++i) {
    const a = JSON.stringify(got.rows[r][i]);
    const e = JSON.stringify(expected.rows[r][i]);
    if (a !== e) fail(`row ${r}, column '${columns[i].name}': read ${a}, expected ${e}`);
  }
}

// Metadata: statistics, encodings and codec as DuckDB reads them from the footer.
for (const em of expected.meta ?? []) {
  const gm = got.meta.find((m) => Number(m.row_group_id) === em.row_group && m.path_in_schema.split(', ')[0] === em.column);
  if (!gm) fail(`no metadata for column '${em.column}' in row group ${em.row_group}`);
  const where = `row group ${em.row_group}, column '${em.column}'`;
  if (BigInt(gm.stats_null_count) !== BigInt(em.null_count)) fail(`${where}: null_count ${gm.stats_null_count}, expected ${em.null_count}`);
  for (const k of ['min', 'max']) {
    if (!(k in em)) continue;
    const g = gm[`stats_${k}_value`];
    const e = em[k];
    const same = e === null ? g === null : g !== null && (typeof e === 'number' ? Number(g) === e : String(g) === String(e));
    if (!same) fail(`${where}: ${k} ${JSON.stringify(g)}, expected ${JSON.stringify(e)}`);
  }
  if (em.encoding && !gm.encodings.split(', ').includes(em.encoding)) fail(`${where}: encodings '${gm.encodings}' lack ${em.encoding}`);
  if (em.no_encoding && gm.encodings.split(', ').includes(em.no_encoding)) fail(`${where}: encodings '${gm.encodings}' include ${em.no_encoding}`);
  if (em.compression && gm.compression !== em.compression) fail(`${where}: compression ${gm.compression}, expected ${em.compression}`);
}
console.log(`ok ${expected.rows.length} rows`);
