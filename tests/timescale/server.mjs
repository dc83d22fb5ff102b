// Test-only: PostgreSQL 17 + TimescaleDB (PGlite in WebAssembly) on 127.0.0.1 over the
// PostgreSQL wire protocol, for bifrost's `timescale` test group.
//
//   node server.mjs [PORT]     prints "listening PORT" once ready; stops on SIGTERM.
//
// PGlite runs single-threaded: a `COPY ... FROM STDIN` query handed to it alone waits for
// data that cannot arrive, and the WebAssembly module traps. So the COPY query is held
// back, the client is answered with a CopyInResponse from here, its CopyData messages are
// collected, and query + data + CopyDone (or CopyFail) go to PGlite in one call; PGlite's
// own CopyInResponse is then dropped from its reply.
import { PGlite } from "@electric-sql/pglite";
import { timescaledb } from "@electric-sql/pglite/timescaledb";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const QUERY = 0x51; // 'Q'
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_FAIL = 0x66; // 'f'
const COPY_IN_RESPONSE = 0x47; // 'G'
const COPY_FROM_STDIN = /^\s*COPY\s+([^\s(]+)\s*(\(([^)]*)\))?[\s\S]*\bFROM\s+STDIN\b/i;

const port = Number(process.argv[2] ?? 0);
const db = await PGlite.create({ extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" });

async function copyInResponse(sql) {
  const [, table, , columns] = sql.match(COPY_FROM_STDIN);
  let n = columns ? columns.split(",").length : 0;
  if (!columns) {
    const res = await db.query(
      "SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
      [table],
    );
    n = res.rows[0].n;
  }
  const binary = /\bBINARY\b/i.test(sql) ? 1 : 0;
  const out = Buffer.alloc(1 + 4 + 1 + 2 + 2 * n);
  out.writeUInt8(COPY_IN_RESPONSE, 0);
  out.writeInt32BE(4 + 1 + 2 + 2 * n, 1);
  out.writeInt8(binary, 5);
  out.writeInt16BE(n, 6);
  for (let i = 0; i < n; i++) out.writeInt16BE(binary, 8 + 2 * i);
  return new Uint8Array(out);
}

function withoutCopyInResponse(reply) {
  const buf = Buffer.from(reply);
  const kept = [];
  for (let at = 0; at < buf.length; ) {
    const end = at + 1 + buf.readInt32BE(at + 1);
    if (buf[at] !== COPY_IN_RESPONSE) kept.push(buf.subarray(at, end));
    at = end;
  }
  return new Uint8Array(Buffer.concat(kept));
}

const queue = server.queryQueue;
const enqueue = queue.enqueue.bind(queue);
const copying = new Map(); // handler id -> [COPY query, CopyData...]
queue.enqueue = async (handlerId, message) => {
  const type = message[0];
  if (type === QUERY) {
    const sql = Buffer.from(message.subarray(5, message.length - 1)).toString("utf8");
    if (COPY_FROM_STDIN.test(sql)) {
      copying.set(handlerId, [message]);
      return copyInResponse(sql);
    }
  }
  if (copying.has(handlerId)) {
    if (type === COPY_DATA) {
      copying.get(handlerId).push(message);
      return new Uint8Array(0); // CopyData gets no reply of its own
    }
    if (type === COPY_DONE || type === COPY_FAIL) {
      const parts = copying.get(handlerId);
      copying.delete(handlerId);
      return withoutCopyInResponse(await enqueue(handlerId, Buffer.concat([...parts, message])));
    }
  }
  return enqueue(handlerId, message);
};

await server.start();
console.log(`listening ${server.port}`);

const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
