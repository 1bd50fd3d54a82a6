// Runs one SQL query with DuckDB and prints each row as a JSON object on a
// line of its own: integers as strings (no precision lost), doubles as JSON
// numbers (shortest round-trip text), strings, booleans, null.
//
//   node duckdb_rows.mjs "SELECT * FROM read_parquet('out/*.parquet') ORDER BY id"
import { DuckDBInstance } from '@duckdb/node-api';

const [sql] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', {
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
  threads: '1',
});
const con = await db.connect();
const result = await con.runAndReadAll(sql);
const names = result.columnNames();
const out = [];
for (const row of result.getRowsJS()) {
  const o = {};
  row.forEach((v, i) => {
    o[names[i]] = typeof v === 'bigint' ? v.toString() : v;
  });
  out.push(JSON.stringify(o));
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
