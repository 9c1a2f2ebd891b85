// The local backend refuses what AWS refuses in front of a Function URL:
// a signature scoped to another region or another date, a Host that is not
// its own; and it decides before reading a body, so unsigned requests with
// large bodies cost it no memory. Against a real `cloudtable backend` process.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { RequestSigner } from '../proxy/http/signer.js';
import { CliProcess } from './helpers/cli.js';
import { MiB, memoryOf } from './helpers/memory.js';

const CREDS = { CLOUDTABLE_LOCAL_ACCESS_KEY_ID: 'AKIDSTRICT', CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: 'strict-secret' };
const BODY = JSON.stringify({ v: 1, table: 'nosuch', queries: [{ service: 'alias', key: 'k' }] });

/** POSTs with exactly these headers (Host included) and resolves with the status and the error code. */
function post(url: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<{ status: number; error: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'POST', headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: `${(JSON.parse(text) as { error: string; message: string }).error}: ${(JSON.parse(text) as { message: string }).message}` }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function signed(region: string, url: string, body = BODY): Promise<Record<string, string>> {
  const signer = new RequestSigner(region, async () => ({ accessKeyId: CREDS.CLOUDTABLE_LOCAL_ACCESS_KEY_ID, secretAccessKey: CREDS.CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY }));
  return signer.sign({ method: 'POST', url: new URL(url), path: '/v1/lookup', body, headers: { 'content-type': 'application/json' } });
}

describe('the local backend is as strict as AWS', () => {
  let backend: CliProcess;
  let url: string;
  before(async () => {
    backend = new CliProcess(['backend', '--port', '0'], CREDS);
    [, url] = (await backend.waitFor(/backend on (http:\/\/127\.0\.0\.1:\d+)/)) as unknown as [string, string];
  });
  after(async () => {
    backend.child.kill('SIGTERM');
    await backend.result();
  });

  it('a good signature passes; another region, another scope date or another Host is refused', async () => {
    assert.deepEqual((await post(url, '/v1/lookup', await signed('us-east-1', url), BODY)).status, 404, 'signed right: the unknown table is the answer');
    const otherRegion = await post(url, '/v1/lookup', await signed('eu-west-1', url), BODY);
    assert.deepEqual(otherRegion, { status: 403, error: 'forbidden: signed for region eu-west-1, expected us-east-1' });

    // The signature is right for today's scope; only the date in the Credential is changed.
    const h = await signed('us-east-1', url);
    h.authorization = h.authorization!.replace(/Credential=([^/]+)\/(\d{8})\//, (_, id: string) => `Credential=${id}/20200101/`);
    assert.deepEqual(await post(url, '/v1/lookup', h, BODY), { status: 403, error: 'forbidden: credential scope date is not the date of X-Amz-Date' });

    // Signed, and sent, for another host name.
    const port = new URL(url).port;
    const elsewhere = await signed('us-east-1', `http://abcdefgh.lambda-url.us-east-1.on.aws:${port}`);
    assert.deepEqual(await post(url, '/v1/lookup', elsewhere, BODY), { status: 403, error: 'forbidden: Host is not this function URL' });
    // localhost names a loopback backend too.
    assert.equal((await post(url, '/v1/lookup', await signed('us-east-1', `http://localhost:${port}`), BODY)).status, 404);

    // A body other than the signed one: refused once read.
    assert.deepEqual(await post(url, '/v1/lookup', await signed('us-east-1', url), BODY.replace('nosuch', 'nosucx')), {
      status: 403,
      error: 'forbidden: body does not match x-amz-content-sha256',
    });
  });

  it('40 concurrent unsigned 4 MiB POSTs leave its memory flat (nothing of them is read)', async () => {
    const pid = backend.child.pid!;
    const big = Buffer.alloc(4 * MiB - 1024, 'x');
    const before = memoryOf(pid).rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, memoryOf(pid).rss)), 20);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () =>
        post(url, '/v1/admin/begin', { host: new URL(url).host, 'content-type': 'application/json', 'content-length': String(big.length) }, big).then(
          (r) => r.status,
          () => 'reset',
        ),
      ),
    );
    clearInterval(sampler);
    peak = Math.max(peak, memoryOf(pid).rss);
    for (const s of statuses) assert.ok(s === 403 || s === 'reset', `refused: ${s}`);
    assert.ok(statuses.includes(403));
    assert.ok(peak - before < 40 * MiB, `resident memory grew by ${((peak - before) / MiB).toFixed(0)} MiB for 160 MiB of unsigned bodies`);
  });
});
