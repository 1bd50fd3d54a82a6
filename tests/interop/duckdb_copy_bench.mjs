// DuckDB writing the same rows as sluice's Parquet benchmark, on one thread,
// from a table in memory, best of three (bench/parquet_vs_duckdb.sh).
//   node duckdb_copy_bench.mjs INPUT.parquet OUT_DIR
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const [input, dir] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', {
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
  threads: '1',
});
const con = await db.connect();
await con.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${input}')`);
const rows = Number((await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0]);
for (const codec of ['zstd', 'snappy']) {
  const out = `${dir}/duckdb-${codec}.parquet`;
  let best = Infinity;
  for (let rep = 0; rep < 3; ++rep) {
    const t0 = process.hrtime.bigint();
    await con.run(`COPY t TO '${out}' (FORMAT parquet, COMPRESSION ${codec})`);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  console.log(`duckdb ${codec.padEnd(6)} rows=${rows} seconds=${best.toFixed(3)} rows_per_s=${Math.round(rows / best)} file_bytes=${statSync(out).size}`);
}
