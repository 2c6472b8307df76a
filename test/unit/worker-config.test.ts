// The workers, the CLI and the webhook refuse to start on an incomplete configuration, with a message
// naming the variable to fix; a complete one gives the connection they will use.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { controllerSettings, hostAgentSettings } from '../../workers/worker-config';
import { ConfigError, loadTemporalTarget } from '../../workers/temporal-connection';

let dir: string;
let cert: string;
let key: string;
/** No temporal.toml of the user running the tests: only what each test sets. */
let base: Record<string, string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'worker-config-'));
  cert = join(dir, 'client.pem');
  key = join(dir, 'client.key');
  await writeFile(cert, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
  await writeFile(key, '-----BEGIN PRIVATE KEY-----\nnot checked here\n-----END PRIVATE KEY-----\n', {
    mode: 0o600,
  });
  base = { TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') };
});
after(() => rm(dir, { recursive: true, force: true }));

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the configuration was accepted');
};

describe('the Temporal connection', () => {
  test('nothing set: the local dev server, namespace default, no credentials', () => {
    const t = loadTemporalTarget(base);
    assert.equal(t.address, 'localhost:7233');
    assert.equal(t.namespace, 'default');
    assert.equal(t.connectionOptions.tls, undefined);
    assert.equal(t.describe, 'localhost:7233 (namespace default)');
  });

  test('Temporal Cloud with an API key: TLS on, the key passed, never printed', () => {
    const t = loadTemporalTarget({
      ...base,
      TEMPORAL_ADDRESS: 'shop.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'shop.a1b2c',
      TEMPORAL_API_KEY: 'secret-api-key-value',
    });
    assert.equal(t.connectionOptions.apiKey, 'secret-api-key-value');
    assert.equal(t.connectionOptions.tls, true);
    assert.equal(t.describe, 'shop.a1b2c.tmprl.cloud:7233 (namespace shop.a1b2c, API key)');
    assert.doesNotMatch(t.describe, /secret/);
  });

  test('a self-hosted cluster with mTLS: the certificate pair is loaded', () => {
    const t = loadTemporalTarget({
      ...base,
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'runbooks',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
    });
    const tls = t.connectionOptions.tls as { clientCertPair?: { crt: Buffer; key: Buffer } };
    assert.match(Buffer.from(tls.clientCertPair!.crt).toString(), /BEGIN CERTIFICATE/);
    assert.match(Buffer.from(tls.clientCertPair!.key).toString(), /BEGIN PRIVATE KEY/);
    assert.equal(t.describe, 'temporal.internal:7233 (namespace runbooks, mTLS client certificate)');
  });

  test('a TLS certificate without its key is refused, naming the missing variable', () => {
    const m = refusal(() =>
      loadTemporalTarget({
        ...base,
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_NAMESPACE: 'runbooks',
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      }),
    );
    assert.match(m, /certificate .* but not its key: set TEMPORAL_TLS_CLIENT_KEY_PATH/);
  });

  test('a TLS key without its certificate is refused', () => {
    const m = refusal(() =>
      loadTemporalTarget({
        ...base,
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_NAMESPACE: 'runbooks',
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      }),
    );
    assert.match(m, /key .* but not its certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH/);
  });

  test('an unreadable certificate file is refused at start, naming the file and the variable', () => {
    const missing = join(dir, 'nope.pem');
    const m = refusal(() =>
      loadTemporalTarget({
        ...base,
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_NAMESPACE: 'runbooks',
        TEMPORAL_TLS_CLIENT_CERT_PATH: missing,
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      }),
    );
    assert.equal(
      m,
      `cannot read the TLS client certificate ${missing} (TEMPORAL_TLS_CLIENT_CERT_PATH): ENOENT`,
    );
    const ca = refusal(() =>
      loadTemporalTarget({
        ...base,
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_NAMESPACE: 'runbooks',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing,
      }),
    );
    assert.match(ca, /TLS server CA certificate .*TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
  });

  test('an API key without an explicit address or namespace is refused (no silent localhost)', () => {
    const noAddress = refusal(() =>
      loadTemporalTarget({ ...base, TEMPORAL_NAMESPACE: 'shop.a1b2c', TEMPORAL_API_KEY: 'k' }),
    );
    assert.match(noAddress, /API key credentials are configured but TEMPORAL_ADDRESS is not/);
    const noNamespace = refusal(() =>
      loadTemporalTarget({ ...base, TEMPORAL_ADDRESS: 'shop.a1b2c.tmprl.cloud:7233', TEMPORAL_API_KEY: 'k' }),
    );
    assert.match(noNamespace, /API key credentials are configured but TEMPORAL_NAMESPACE is not/);
    assert.doesNotMatch(noNamespace, /=k\b|"k"/);
  });

  test('mTLS without an explicit address is refused too', () => {
    const m = refusal(() =>
      loadTemporalTarget({ ...base, TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key }),
    );
    assert.match(m, /mTLS client certificate credentials are configured but TEMPORAL_ADDRESS is not/);
  });

  test('an address that is not host:port is refused', () => {
    const m = refusal(() => loadTemporalTarget({ ...base, TEMPORAL_ADDRESS: 'http://temporal.internal' }));
    assert.match(m, /TEMPORAL_ADDRESS must be host:port/);
  });

  test('a profile named in TEMPORAL_PROFILE must exist', () => {
    const m = refusal(() => loadTemporalTarget({ ...base, TEMPORAL_PROFILE: 'prod' }));
    assert.match(m, /Profile 'prod' not found/);
  });
});

describe('what a worker serves', () => {
  test('the controller: mysql-runbooks, every activity, unless RUNBOOK_ROLE=controller', () => {
    assert.deepEqual(controllerSettings({}), { taskQueue: 'mysql-runbooks', role: 'all' });
    assert.deepEqual(controllerSettings({ RUNBOOK_ROLE: 'controller', RUNBOOK_TASK_QUEUE: 'dr' }), {
      taskQueue: 'dr',
      role: 'controller',
    });
    assert.match(
      refusal(() => controllerSettings({ RUNBOOK_ROLE: 'agent' })),
      /RUNBOOK_ROLE must be "all"/,
    );
    assert.match(
      refusal(() => controllerSettings({ RUNBOOK_TASK_QUEUE: 'a b' })),
      /RUNBOOK_TASK_QUEUE must be/,
    );
  });

  test('a host agent polls <queue>.host.<RUNBOOK_HOST>', () => {
    const a = hostAgentSettings({ RUNBOOK_HOST: 'db2' });
    assert.equal(a.host, 'db2');
    assert.equal(a.hostQueue, 'mysql-runbooks.host.db2');
    assert.match(a.identity, /^host-agent:db2:\d+@/);
    assert.equal(
      hostAgentSettings({ RUNBOOK_HOST: 'db2', RUNBOOK_TASK_QUEUE: 'dr' }).hostQueue,
      'dr.host.db2',
    );
  });

  test('a host agent without RUNBOOK_HOST, or with a name inputs cannot use, refuses to start', () => {
    assert.match(
      refusal(() => hostAgentSettings({})),
      /RUNBOOK_HOST is not set/,
    );
    assert.match(
      refusal(() => hostAgentSettings({ RUNBOOK_HOST: '  ' })),
      /RUNBOOK_HOST is not set/,
    );
    assert.match(
      refusal(() => hostAgentSettings({ RUNBOOK_HOST: 'db 2' })),
      /RUNBOOK_HOST "db 2": use letters/,
    );
    assert.match(
      refusal(() => hostAgentSettings({ RUNBOOK_HOST: '../etc' })),
      /RUNBOOK_HOST/,
    );
  });
});
