// Parsing and formatting what Tungsten's tools print and take: event ids, `thl list -headers`,
// `thl dsctl`, `trepctl status`, `thl info`, and the `dsctl set` argv. Pure and strict: every value
// read from a tool is refused when malformed, before it reaches another tool or SQL.

import { TUNGSTEN_SERVICE } from '../../workflows/schemas-tungsten';
import { failure } from '../../workflows/failures';

/** A service name becomes a schema name (tungsten_<svc>): refuse anything but [A-Za-z0-9_]. */
export function checkService(service: string): string {
  if (!TUNGSTEN_SERVICE.test(service))
    throw failure('InvalidInput', `invalid Tungsten service name ${JSON.stringify(service)}`);
  return service;
}

// ---------------------------------------------------------------------------------------------
// Event ids: `<binlog file>:<offset, zero-padded to 16 digits>[;<session id>]`,
// e.g. `mysql-bin.000032:0000000473863524;-1`. The offset is where the transaction ends.

export interface EventId {
  file: string;
  offset: number;
  /** The `;N` suffix (a session id, -1 when unknown); absent in `thl dsctl` output. */
  session?: number;
}

const EVENT_ID = /^([A-Za-z0-9_.-]{1,200}\.\d{6,}):(\d{1,16})(?:;(-?\d{1,10}))?$/;

/** Parses an event id exactly; anything else (quotes, spaces, `;` payloads, newlines) is refused. */
export function parseEventId(text: string): EventId {
  const m = EVENT_ID.exec(text);
  if (!m)
    throw failure(
      'BadToolOutput',
      `not a Tungsten event id: ${JSON.stringify(text.slice(0, 200))} (expected <binlog file>:<offset>[;<session>], e.g. mysql-bin.000032:0000000473863524;-1)`,
    );
  const offset = Number(m[2]);
  if (!Number.isSafeInteger(offset)) throw failure('BadToolOutput', `event id offset out of range: ${m[2]}`);
  return m[3] === undefined ? { file: m[1]!, offset } : { file: m[1]!, offset, session: Number(m[3]) };
}

/** Formats an event id the way Tungsten writes it: the offset zero-padded to 16 digits. */
export function formatEventId(e: EventId): string {
  if (!Number.isSafeInteger(e.offset) || e.offset < 0)
    throw failure('BadToolOutput', `bad event id offset ${e.offset}`);
  const id = `${e.file}:${String(e.offset).padStart(16, '0')}`;
  return e.session === undefined ? id : `${id};${e.session}`;
}

/** The `-event` argument for a binlog position (what the procedure passes to `thl list` and `thl dsctl`). */
export function positionEventId(file: string, position: number): string {
  return formatEventId({ file, offset: position });
}

export function samePosition(e: EventId, p: { file: string; position: number }): boolean {
  return e.file === p.file && e.offset === p.position;
}

/** A source id is a host name (`db1-east.continuent.com`): nothing that could carry quotes or spaces. */
const SOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export function checkSourceId(text: string): string {
  if (!SOURCE_ID.test(text))
    throw failure(
      'BadToolOutput',
      `not a Tungsten source id (a host name): ${JSON.stringify(text.slice(0, 200))}`,
    );
  return text;
}

const SEQNO = /^\d{1,15}$/;
function seqnoOf(text: string, what: string): number {
  if (!SEQNO.test(text))
    throw failure('BadToolOutput', `${what} is not a sequence number: ${JSON.stringify(text)}`);
  return Number(text);
}

// ---------------------------------------------------------------------------------------------
// `thl list -event <id> -headers`:
//   SEQ# = 7748 / FRAG# = 0 (last frag)
//   - FILE = thl.data.0000000010
//   - TIME = 2014-10-17 16:58:11.0
//   - EPOCH# = 0
//   - EVENTID = mysql-bin.000032:0000000473863524;-1
//   - SOURCEID = db1-east.continuent.com

export interface ThlEvent {
  seqno: number;
  epoch: number;
  /** The event id as the THL holds it, re-formatted from its parsed form. */
  eventId: string;
  sourceId: string;
  fragments: number;
  thlFile?: string;
  time?: string;
}

const THL_HEADER = /^SEQ# = (\d{1,15}) \/ FRAG# = (\d{1,9})( \(last frag\))?$/;
const THL_FIELD = /^- ([A-Z][A-Z#]*) = (.*)$/;

/**
 * Parses the headers of ONE transaction (one or more fragments of the same seqno). Refused: no
 * event, two different events, a fragment without its last, a repeated field, an unknown line shape,
 * a malformed seqno/epoch/event id/source id.
 */
export function parseThlHeaders(stdout: string): ThlEvent {
  const frags: { seqno: number; frag: number; last: boolean; fields: Map<string, string> }[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    const h = THL_HEADER.exec(line);
    if (h) {
      frags.push({ seqno: Number(h[1]), frag: Number(h[2]), last: !!h[3], fields: new Map() });
      continue;
    }
    const f = THL_FIELD.exec(line);
    const cur = frags.at(-1);
    if (!f || !cur)
      throw failure('BadToolOutput', `unexpected line in thl output: ${JSON.stringify(line.slice(0, 200))}`);
    if (cur.fields.has(f[1]!))
      throw failure(
        'BadToolOutput',
        `thl output repeats ${f[1]} for SEQ# ${cur.seqno}: refusing to guess which is meant`,
      );
    cur.fields.set(f[1]!, f[2]!);
  }
  const first = frags[0];
  if (!first) throw failure('BadToolOutput', 'thl printed no event');
  const field = (fr: (typeof frags)[number], k: string) => {
    const v = fr.fields.get(k);
    if (v === undefined) throw failure('BadToolOutput', `thl output has no ${k} for SEQ# ${fr.seqno}`);
    return v;
  };
  const event: ThlEvent = {
    seqno: first.seqno,
    epoch: seqnoOf(field(first, 'EPOCH#'), 'EPOCH#'),
    eventId: formatEventId(parseEventId(field(first, 'EVENTID'))),
    sourceId: checkSourceId(field(first, 'SOURCEID')),
    fragments: frags.length,
    thlFile: first.fields.get('FILE'),
    time: first.fields.get('TIME'),
  };
  const other = frags.find((fr) => fr.seqno !== event.seqno);
  if (other)
    throw failure(
      'BadToolOutput',
      `thl printed more than one transaction (SEQ# ${event.seqno} and ${other.seqno})`,
    );
  frags.forEach((fr, i) => {
    if (fr.frag !== i)
      throw failure('BadToolOutput', `thl printed fragments out of order for SEQ# ${fr.seqno}`);
    if (fr.last !== (i === frags.length - 1))
      throw failure(
        'BadToolOutput',
        `thl printed an incomplete transaction for SEQ# ${fr.seqno} (last fragment missing)`,
      );
    if (
      i > 0 &&
      (seqnoOf(field(fr, 'EPOCH#'), 'EPOCH#') !== event.epoch ||
        formatEventId(parseEventId(field(fr, 'EVENTID'))) !== event.eventId ||
        checkSourceId(field(fr, 'SOURCEID')) !== event.sourceId)
    )
      throw failure(
        'BadToolOutput',
        `the fragments of SEQ# ${fr.seqno} disagree on epoch, event id or source id`,
      );
  });
  return event;
}

// `thl dsctl -event <id>` prints the dsctl command that positions a replicator there:
//   dsctl -service alpha set -reset -seqno 7748 -epoch 0 -event-id "mysql-bin.000032:0000000473863524" -source-id "db1-east.continuent.com"
const THL_DSCTL =
  /^dsctl -service ([A-Za-z0-9_]{1,64}) set -reset -seqno (\d{1,15}) -epoch (\d{1,15}) -event-id "([^"]*)" -source-id "([^"]*)"$/;

export function parseThlDsctl(stdout: string, service: string): ThlEvent {
  const lines = stdout.split('\n').filter((l) => l.trim());
  if (lines.length !== 1)
    throw failure(
      'BadToolOutput',
      `thl dsctl printed ${lines.length} lines; expected exactly one dsctl command`,
    );
  const m = THL_DSCTL.exec(lines[0]!.trim());
  if (!m)
    throw failure('BadToolOutput', `unexpected thl dsctl output: ${JSON.stringify(lines[0]!.slice(0, 300))}`);
  if (m[1] !== service)
    throw failure('BadToolOutput', `thl dsctl answered for service ${m[1]}, not ${service}`);
  return {
    seqno: Number(m[2]),
    epoch: Number(m[3]),
    eventId: formatEventId(parseEventId(m[4]!)),
    sourceId: checkSourceId(m[5]!),
    fragments: 1,
  };
}

/** The argv of step 4's `dsctl -service <svc> set -reset -seqno N -epoch E -source-id S -event-id ID`. */
export function dsctlSetArgv(dsctl: string, service: string, e: ThlEvent): string[] {
  checkService(service);
  return [
    dsctl,
    '-service',
    service,
    'set',
    '-reset',
    '-seqno',
    String(e.seqno),
    '-epoch',
    String(e.epoch),
    '-source-id',
    checkSourceId(e.sourceId),
    '-event-id',
    formatEventId(parseEventId(e.eventId)),
  ];
}

// ---------------------------------------------------------------------------------------------
// `trepctl -service <svc> status`: `name : value` lines between "Processing status command..." and
// "Finished status command...".

export interface ReplicatorStatus {
  serviceName: string;
  state: string;
  role: string;
  appliedLastSeqno: number;
  appliedLastEventId: string;
  minimumStoredSeqNo: number;
  maximumStoredSeqNo: number;
  pendingError: string;
  pendingErrorSeqno: number;
}

export function parseTrepctlStatus(stdout: string): ReplicatorStatus {
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z][A-Za-z0-9]*)\s*:\s?(.*)$/.exec(line.replace(/\r$/, ''));
    if (m) fields.set(m[1]!, m[2]!.trim());
  }
  const num = (k: string) => {
    const v = fields.get(k);
    return v !== undefined && /^-?\d{1,15}$/.test(v) ? Number(v) : -1;
  };
  const serviceName = fields.get('serviceName');
  const state = fields.get('state');
  if (!serviceName || !state) throw failure('BadToolOutput', 'trepctl status printed no serviceName/state');
  return {
    serviceName,
    state,
    role: fields.get('role') ?? 'unknown',
    appliedLastSeqno: num('appliedLastSeqno'),
    appliedLastEventId: fields.get('appliedLastEventId') ?? 'NONE',
    minimumStoredSeqNo: num('minimumStoredSeqNo'),
    maximumStoredSeqNo: num('maximumStoredSeqNo'),
    pendingError: fields.get('pendingError') ?? 'NONE',
    pendingErrorSeqno: num('pendingErrorSeqno'),
  };
}

/**
 * `thl info`: `log directory = …`, `log files = N`, `logs size = …`, `min seq# = N`, `max seq# = N`,
 * `events = N`, `oldest file = …`, `newest file = …` (THLManagerCtrl). An initialized log without
 * events says -1 / -1; `events` is max − min as the tool computes it, so it is not a count.
 */
export function parseThlInfo(stdout: string): { minSeqno: number; maxSeqno: number; events: number } {
  const get = (k: string) => {
    const m = new RegExp(`^${k.replace(/[#]/g, '\\#')}\\s*=\\s*(-?\\d{1,15})\\s*$`, 'm').exec(stdout);
    if (!m) throw failure('BadToolOutput', `thl info printed no "${k}"`);
    return Number(m[1]);
  };
  return { minSeqno: get('min seq#'), maxSeqno: get('max seq#'), events: get('events') };
}

// ---------------------------------------------------------------------------------------------
// `trepctl version`: one line, `<product> <major>.<minor>.<revision> build <N>`
// (OpenReplicatorManagerCtrl.printVersion → ManifestParser.getReleaseWithBuildNumber), e.g.
// `Tungsten Replicator 5.3.0 build 38`.

export interface TungstenVersion {
  release: string;
  major: number;
  minor: number;
}

/**
 * The majors whose tools this runbook speaks: `thl list -event … -headers` (multi-line headers) and
 * `thl dsctl` exist from 6.x; 7.x is the procedure's version. Later majors are refused until checked.
 */
export const SUPPORTED_MAJORS = [6, 7] as const;

const RELEASE = /^([A-Za-z][A-Za-z ]{0,60}?) (\d{1,3})\.(\d{1,3})\.(\d{1,5})(?: build (\d{1,9}))?$/;

/** Parses `trepctl version`; null when it printed no release line. */
export function parseTrepctlVersion(stdout: string): TungstenVersion | null {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const m = lines.length === 1 ? RELEASE.exec(lines[0]!) : null;
  return m ? { release: lines[0]!, major: Number(m[2]), minor: Number(m[3]) } : null;
}

export function isSupportedVersion(v: TungstenVersion): boolean {
  return (SUPPORTED_MAJORS as readonly number[]).includes(v.major);
}
