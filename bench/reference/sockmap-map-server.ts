// The reference for the socketmap benchmark: a netstring server answering
// from a plain Map, with no cache, resolver, dialect or limits. Written to be
// fast (all requests of a read parsed in one pass, one write per read), so
// the ratio is against a fair opponent. Entries: key<i> → value<i> for
// i < argv[2]. Prints `listening inet:127.0.0.1:PORT reference`.

import { createServer } from 'node:net';

const n = Number(process.argv[2] ?? 1000);
const map = new Map<string, string>();
for (let i = 0; i < n; i++) map.set(`key${i}`, `value${i}`);

const server = createServer({ noDelay: true }, (socket) => {
  let rest: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let pos = 0;
    let out = '';
    for (;;) {
      const colon = buf.indexOf(0x3a, pos);
      if (colon < 0) break;
      const len = Number(buf.toString('latin1', pos, colon));
      if (colon + 1 + len >= buf.length) break;
      const payload = buf.toString('utf8', colon + 1, colon + 1 + len);
      pos = colon + 2 + len;
      const space = payload.indexOf(' ');
      const v = map.get(payload.slice(space + 1));
      const reply = v === undefined ? 'NOTFOUND ' : `OK ${v}`;
      out += `${Buffer.byteLength(reply)}:${reply},`;
    }
    rest = buf.subarray(pos);
    if (out) socket.write(out);
  });
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.stdout.write(`listening inet:127.0.0.1:${a.port} reference\n`);
});
process.on('SIGTERM', () => process.exit(0));
