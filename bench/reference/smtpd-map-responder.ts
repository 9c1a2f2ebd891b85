// The reference for the smtpd hit-path benchmark: the same stdio table
// protocol answered from a plain Map, with no cache, resolver or validation.
// Written to be fast (chunked reads, one write per chunk), so the ratio is
// against a fair opponent. Entries: key<i> → value<i> for i < argv[2].

const n = Number(process.argv[2] ?? 1000);
const map = new Map<string, string>();
for (let i = 0; i < n; i++) map.set(`key${i}`, `value${i}`);

let rest = '';
let ready = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  const lines = (rest + chunk).split('\n');
  rest = lines.pop()!;
  let out = '';
  for (const line of lines) {
    if (!ready) {
      if (line === 'config|ready') {
        ready = true;
        out += 'register|alias\nregister|ready\n';
      }
      continue;
    }
    // table|0.1|TS|TABLE|lookup|SERVICE|ID|KEY
    const f = line.split('|');
    const id = f[6]!;
    const key = f.slice(7).join('|');
    const v = map.get(key);
    out += v === undefined ? `lookup-result|${id}|not-found\n` : `lookup-result|${id}|found|${v}\n`;
  }
  if (out) process.stdout.write(out);
});
process.stdin.on('end', () => process.exit(0));
