import type { RecoveryTarget } from './schemas';

/** Short form of a target for the RecoveryTarget search attribute, e.g. `time:2026-11-22T03:12:00Z`. */
export function describeTargetBrief(t: RecoveryTarget): string {
  switch (t.type) {
    case 'time':
      return `time:${t.time}`;
    case 'gtid':
      return `gtid:${t.gtid}${t.exclusive ? ':exclusive' : ''}`;
    case 'position':
      return `position:${t.file}:${t.position}`;
    case 'latest':
      return 'latest';
  }
}
