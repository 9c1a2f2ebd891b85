// The admin function names the real caller: the IAM principal AWS verified
// (the request context), beside the `owner` string the client chose, in its
// log and in the table's record, which `cloudtable status` shows. Through
// real processes: `cloudtable backend` with an operator identity,
// `cloudtable load` and `cloudtable status` signing as it.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AdminClient } from '../proxy/admin/client.js';
import { RequestSigner } from '../proxy/http/signer.js';
import { TEST_CREDENTIALS } from './helpers/backend.js';
import { CliProcess, runCli } from './helpers/cli.js';
import { parseLogs } from './helpers/logs.js';
import { writeConfig } from './helpers/smtpd-peer.js';

const OPERATOR = { accessKeyId: 'AKIDOPERATOR', secretAccessKey: 'operator-secret', arn: 'arn:aws:iam::111122223333:role/operator' };
const SESSION_ARN = 'arn:aws:sts::111122223333:assumed-role/operator/AKIDOPERATOR';
const AS_OPERATOR = { AWS_ACCESS_KEY_ID: OPERATOR.accessKeyId, AWS_SECRET_ACCESS_KEY: OPERATOR.secretAccessKey, AWS_SESSION_TOKEN: '', AWS_PROFILE: '' };

describe('the admin function records the signing principal', () => {
  let backend: CliProcess;
  let url: string;
  before(async () => {
    const identities = writeConfig(`[[identities]]\naccess_key_id = "${OPERATOR.accessKeyId}"\nsecret_access_key = "${OPERATOR.secretAccessKey}"\narn = "${OPERATOR.arn}"\n`);
    backend = new CliProcess(['backend', '--port', '0', '--identities', identities], {
      CLOUDTABLE_LOCAL_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    });
    [, url] = (await backend.waitFor(/backend on (http:\/\/127\.0\.0\.1:\d+)/)) as unknown as [string, string];
  });
  after(async () => {
    backend.child.kill('SIGTERM');
    await backend.result();
  });

  it('load: logged with the principal and the owner; status: the table was updated by the principal, and a load in progress names it', async () => {
    const file = writeConfig('');
    writeFileSync(file, 'root alice\n');
    const load = await runCli(['load', 'aliases', file, '--service', 'alias', '--admin', url, '--upstream', url], AS_OPERATOR);
    assert.equal(load.code, 0, load.stderr);

    const begun = parseLogs(backend.stderr).find((l) => l.msg === 'transaction begun');
    assert.equal(begun?.principal, SESSION_ARN);
    assert.equal(typeof begun?.owner, 'string');
    for (const msg of ['transaction applied', 'transaction committed']) {
      assert.equal(parseLogs(backend.stderr).find((l) => l.msg === msg)?.principal, SESSION_ARN, msg);
    }

    // A load left open, signed as the operator but claiming to be someone else.
    const admin = new AdminClient({ url, signer: new RequestSigner('us-east-1', async () => OPERATOR), timeoutMs: 10_000 });
    await admin.begin({ table: 'aliases', owner: 'somebody-else@nowhere', service: 'alias' });
    await admin.close();

    const status = await runCli(['status', '--admin', url, '--upstream', url], AS_OPERATOR);
    assert.equal(status.code, 0, status.stderr);
    const line = status.stdout.split('\n').find((l) => l.trimStart().startsWith('aliases:'))!;
    assert.match(line, new RegExp(`updated \\S+ by ${SESSION_ARN.replaceAll('/', '\\/')}`));
    assert.ok(line.includes(`transaction open by somebody-else@nowhere (${SESSION_ARN})`), line);
  });
});
