// Where Temporal is and how to authenticate, one configuration for every process that connects: the
// controller worker, the host agents, the `runbook` CLI and the webhook. Read from Temporal's own
// variables through @temporalio/envconfig (or a profile of temporal.toml) and checked before anything
// connects: credentials without an explicit address are refused rather than sent to localhost, a
// certificate without its key is refused, files are read now. Messages name the variable, never a secret.
//
//   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE           self-hosted cluster or Temporal Cloud endpoint
//   TEMPORAL_API_KEY                               API key (Temporal Cloud); TLS is turned on with it
//   TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH      mTLS client certificate and key (both, or neither)
//   TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_TLS, TEMPORAL_PROFILE, …
import { accessSync, constants } from 'node:fs';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import {
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface TemporalTarget {
  address: string;
  namespace: string;
  connectionOptions: NativeConnectionOptions;
  /** For the start-up line: address, namespace and how it authenticates (never the credential). */
  describe: string;
}

export type Env = Record<string, string | undefined>;

const DEV_ADDRESS = 'localhost:7233';

/** The Temporal connection from the environment / temporal.toml, checked for completeness. */
export function loadTemporalTarget(env: Env = process.env): TemporalTarget {
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: definedOnly(env) });
  } catch (err) {
    throw new ConfigError(`Temporal client configuration: ${(err as Error).message}`);
  }
  const tls = profile.tls;
  const cert = tls?.clientCert;
  const key = tls?.clientKey;
  if (cert && !key)
    throw new ConfigError(
      'a TLS client certificate is configured (TEMPORAL_TLS_CLIENT_CERT_PATH/_DATA) but not its key: set TEMPORAL_TLS_CLIENT_KEY_PATH',
    );
  if (key && !cert)
    throw new ConfigError(
      'a TLS client key is configured (TEMPORAL_TLS_CLIENT_KEY_PATH/_DATA) but not its certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH',
    );
  checkReadable(cert, 'TLS client certificate', 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  checkReadable(key, 'TLS client key', 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  checkReadable(tls?.serverCACert, 'TLS server CA certificate', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');

  const auth = profile.apiKey
    ? 'API key'
    : cert
      ? 'mTLS client certificate'
      : tls && !tls.disabled
        ? 'TLS'
        : '';
  if (auth && (!profile.address || !profile.namespace))
    throw new ConfigError(
      `${auth} credentials are configured but ${!profile.address ? 'TEMPORAL_ADDRESS' : 'TEMPORAL_NAMESPACE'} is not: ` +
        'credentials are for a remote cluster, so name it explicitly (e.g. TEMPORAL_ADDRESS=<ns>.<account>.tmprl.cloud:7233 ' +
        'and TEMPORAL_NAMESPACE=<ns>.<account>), rather than fall back to localhost:7233 and namespace "default"',
    );
  const address = profile.address ?? DEV_ADDRESS;
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/.test(address))
    throw new ConfigError(
      `TEMPORAL_ADDRESS must be host:port, e.g. temporal.internal:7233 (got ${JSON.stringify(address)})`,
    );
  const namespace = profile.namespace ?? 'default';

  let options;
  try {
    options = toClientOptions(profile);
  } catch (err) {
    throw new ConfigError(`Temporal TLS configuration: ${(err as Error).message}`);
  }
  return {
    address,
    namespace,
    connectionOptions: { ...options.connectionOptions, address } as NativeConnectionOptions,
    describe: `${address} (namespace ${namespace}${auth ? `, ${auth}` : ''})`,
  };
}

/** A file named by the configuration must be readable now, not at the first reconnect. */
function checkReadable(source: ConfigDataSource | undefined, what: string, variable: string): void {
  if (!source || !('path' in source)) return;
  const path = source.path;
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw new ConfigError(
      `cannot read the ${what} ${path} (${variable}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function definedOnly(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Connects a worker; a failure names where it tried to connect. */
export async function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(target.connectionOptions);
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${target.describe}: ${(err as Error).message}`);
  }
}

/** Connects a client (CLI, webhook); a failure names where it tried to connect. */
export async function connectClient(target: TemporalTarget, connectTimeout = 5000): Promise<Connection> {
  try {
    return await Connection.connect({
      ...(target.connectionOptions as ConnectionOptions),
      connectTimeout,
    });
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${target.describe}: ${(err as Error).message}`);
  }
}
