// An S3 endpoint is not trusted to write into our errors: a hostile one answers every request with an
// error whose message echoes what it received (the signed Authorization header, with the access key
// id). The archive's error keeps the error code and HTTP status, nothing the server wrote.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { S3Archive } from '../../activities/archive/archive-s3';

const ACCESS_KEY_ID = 'AKIAHOSTILETEST00001';
let server: http.Server;
let endpoint = '';

before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    const echoed = `you sent ${req.headers.authorization ?? ''} <script>alert(1)</script>`;
    res.writeHead(403, { 'Content-Type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${echoed}</Message></Error>`,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('an endpoint that echoes the request in its error message: only the code and status reach the error', async () => {
  const archive = new S3Archive({
    bucket: 'binlogs',
    prefix: 'shop',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: 'hostile-test-secret-0001' },
  });
  await assert.rejects(archive.readIndex(), (err: Error) => {
    assert.equal(
      err.message,
      'S3 archive s3://binlogs/shop: cannot read binlog-index.json: AccessDenied (HTTP 403)',
    );
    assert.ok(!err.message.includes(ACCESS_KEY_ID) && !err.message.includes('script'));
    return true;
  });
});
