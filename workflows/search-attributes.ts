// The search attributes every runbook run carries: lists, the Web UI and the CLI filter on them.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const RunbookKindKey = defineSearchAttributeKey('RunbookKind', SearchAttributeType.KEYWORD);
export const RunbookStepKey = defineSearchAttributeKey('RunbookStep', SearchAttributeType.KEYWORD);
export const RecoveryTargetKey = defineSearchAttributeKey('RecoveryTarget', SearchAttributeType.KEYWORD);
export const ClusterKey = defineSearchAttributeKey('Cluster', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = ['RunbookKind', 'RunbookStep', 'RecoveryTarget', 'Cluster'] as const;
