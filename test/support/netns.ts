// Simulated hosts for multi-host tests: each gets a network namespace of its own (`ip netns`), joined
// to this one by a veth pair, when the machine allows it (root, iproute2). Inside, 127.0.0.1 is the
// host's own loopback: the only way out is the veth, where a small TCP forwarder passes the Temporal
// connection through to the dev server. Files stay shared (that is what data roots are for).
import { execa } from 'execa';
import { randomInt } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface SimulatedHost {
  name: string;
  /** Prefix for the argv of a process that must run on this host. */
  wrap: string[];
  /** How a process on this host reaches Temporal. */
  temporalAddress: string;
  /** The network namespace, when there is one. */
  netns?: string;
}

export interface SimulatedHosts {
  hosts: SimulatedHost[];
  /** What isolates the hosts, for the test output. */
  kind: string;
  close(): Promise<void>;
}

const ip = (...args: string[]) => execa('ip', args);

/**
 * Hosts in network namespaces when possible, else plain processes on this machine (and why).
 * RUNBOOK_TEST_NETNS=off forces the fallback (to test it where namespaces work).
 */
export async function simulateHosts(names: string[], temporalAddress: string): Promise<SimulatedHosts> {
  const tag = randomInt(0x1000, 0xffff).toString(16);
  const subnet = `10.213.${randomInt(0, 256)}`;
  const created: string[] = [];
  const forwarders: Forwarder[] = [];
  const close = async () => {
    await Promise.all(forwarders.map((f) => f.close()));
    for (const ns of created) await ip('netns', 'del', ns).catch(() => {});
  };
  try {
    if (process.env.RUNBOOK_TEST_NETNS === 'off') throw new Error('RUNBOOK_TEST_NETNS=off');
    const hosts: SimulatedHost[] = [];
    for (const [i, name] of names.entries()) {
      const ns = `rb-${name}-${tag}`;
      const [outside, inside] = [`${subnet}.${4 * i + 1}`, `${subnet}.${4 * i + 2}`];
      const [vethOut, vethIn] = [`rbo${tag}${i}`, `rbi${tag}${i}`];
      await ip('netns', 'add', ns);
      created.push(ns);
      await ip('link', 'add', vethOut, 'type', 'veth', 'peer', 'name', vethIn);
      await ip('link', 'set', vethIn, 'netns', ns);
      await ip('addr', 'add', `${outside}/30`, 'dev', vethOut);
      await ip('link', 'set', vethOut, 'up');
      await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${inside}/30`, 'dev', vethIn);
      await ip('netns', 'exec', ns, 'ip', 'link', 'set', vethIn, 'up');
      await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      const fwd = await forward(outside, temporalAddress);
      forwarders.push(fwd);
      hosts.push({ name, wrap: ['ip', 'netns', 'exec', ns], temporalAddress: fwd.address, netns: ns });
    }
    return { hosts, kind: `network namespaces (${created.join(', ')}), veth ${subnet}.0/24`, close };
  } catch (err) {
    await close();
    const why = ((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n')[0];
    return {
      hosts: names.map((name) => ({ name, wrap: [], temporalAddress })),
      kind: `separate agent processes on this machine (no network namespaces: ${why})`,
      close: async () => {},
    };
  }
}

/** The network namespace a process runs in (`ip netns identify`), '' for this one. */
export async function netnsOf(pid: number): Promise<string> {
  return (await ip('netns', 'identify', String(pid))).stdout.trim();
}

interface Forwarder {
  address: string;
  close(): Promise<void>;
}

/** Listens on `host` (any port) and passes every connection through to `target` (host:port). */
async function forward(host: string, target: string): Promise<Forwarder> {
  const [targetHost, targetPort] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.split(':').pop()),
  ];
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection(targetPort, targetHost);
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
