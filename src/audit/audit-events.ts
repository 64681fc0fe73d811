/*
 * The KMS events a stack's audit watch counts. A multi-Region trail (the account's,
 * or your organization's) makes every KMS API call reach EventBridge in the Region
 * where it happened; the watch's rule sends the calls that matter to a log group of
 * its own, where one metric filter per event kind serves every key of the account
 * and Region: the key's ARN is a dimension, so 100 keys need the same handful of
 * filters. The records in that log group are EventBridge events, with the CloudTrail
 * record under `detail`.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
 */

import type { KeyMetricName } from '../key/key-watch';

/** The dimension that carries the key's ARN (the first resource of a KMS event). */
export const KEY_ARN_DIMENSION = 'KeyArn';
export const KEY_ARN_SELECTOR = '$.detail.resources[0].ARN';
/** The metric of the watch's heartbeat, with no dimension. */
export const HEARTBEAT_METRIC = 'AuditHeartbeat';

/**
 * The keys a watch's per-key patterns count: those of its own account and Region,
 * named by a key ARN (not an alias ARN) as the first resource. (CloudTrail's own
 * examples do not always write `resources[0].type`, so the ARN decides.)
 */
export function keyArnsOf(partition: string, region: string, account: string): string {
  return `arn:${partition}:kms:${region}:${account}:key/*`;
}

function namesAKey(keyArns: string): string {
  return `(${KEY_ARN_SELECTOR} = "${keyArns}")`;
}
/** Changes count only when they happened; refused attempts are denied requests. */
const SUCCEEDED = '($.detail.errorCode NOT EXISTS)';

/**
 * The watch's heartbeat: every 15 minutes a schedule of its own describes the
 * heartbeat key (the audit key, or with none the first key watched) as the heartbeat
 * role. The record passes the rule and every per-key filter but the alias filter, so
 * that a stopped trail, a deleted or disabled rule, a log group EventBridge cannot
 * write to, or a filter CloudWatch Logs disabled stops a metric the heartbeat alarm
 * watches.
 */
export function heartbeatClause(heartbeatRoleArn: string): string {
  return `(($.detail.eventName = "DescribeKey") && ($.detail.userIdentity.sessionContext.sessionIssuer.arn = "${heartbeatRoleArn}") && ${SUCCEEDED})`;
}

/**
 * CIS AWS Foundations 3.7 / 4.7, checked by Security Hub CloudWatch.7 on the trail's
 * log group (CloudTrail records, not EventBridge events): exactly this pattern, with
 * no other field, or the control fails.
 */
export const CIS_KEY_DISABLED_OR_DELETED_PATTERN =
  '{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}';

export interface AuditEvent {
  /** Construct id of the metric filter. */
  readonly id: string;
  /** The metric, which a ClassifiedKey's `metric*` methods read by this name. */
  readonly metricName: KeyMetricName;
  /** What the metric counts, for alarm descriptions. */
  readonly description: string;
  /**
   * Where the record names the key, for the `KeyArn` dimension.
   * @default KEY_ARN_SELECTOR
   */
  readonly keyArnSelector?: string;
  /** The KMS API calls it counts (all of them, for denied requests). */
  readonly eventNames?: string[];
  /** Whether the heartbeat passes this filter too (it names the key where the dimension is read). */
  readonly heartbeat: boolean;
  /**
   * The filter pattern, for the keys `keyArns` matches (see `keyArnsOf`), and the
   * heartbeat of the role given.
   */
  patternFor(keyArns: string, heartbeatRoleArn: string): string;
}

function anyOf(eventNames: string[]): string {
  return `(${eventNames.map(name => `($.detail.eventName = ${name})`).join(' || ')})`;
}

function changes(id: string, metricName: KeyMetricName, description: string, eventNames: string[], extra = ''): AuditEvent {
  return {
    id,
    metricName,
    description,
    eventNames,
    heartbeat: true,
    patternFor: (keys, heartbeat) =>
      `{ (($.detail.eventSource = kms.amazonaws.com) && ${namesAKey(keys)} && ${SUCCEEDED} && ${extra || anyOf(eventNames)}) || ${heartbeatClause(heartbeat)} }`,
  };
}

/** The key was disabled, scheduled for deletion, stopped rotating or lost its material. */
export const KEY_STATE_CHANGES: AuditEvent = changes('KeyStateChanges', 'KeyStateChanges',
  'disabled, scheduled for deletion, rotation turned off or imported material deleted',
  ['DisableKey', 'ScheduleKeyDeletion', 'DisableKeyRotation', 'DeleteImportedKeyMaterial']);

/**
 * The key policy changed, or someone (not an AWS service acting for a resource)
 * created or revoked a grant.
 */
export const KEY_POLICY_OR_GRANT_CHANGES: AuditEvent = changes('KeyPolicyOrGrantChanges', 'KeyPolicyOrGrantChanges',
  'key policy changed, a grant revoked, or a grant created outside an AWS service',
  ['PutKeyPolicy', 'RevokeGrant', 'CreateGrant'],
  '(($.detail.eventName = PutKeyPolicy) || ($.detail.eventName = RevokeGrant) || (($.detail.eventName = CreateGrant) && ($.detail.userIdentity.invokedBy NOT EXISTS)))');

/**
 * An alias of the key created, moved to it or deleted. Alias records list the alias
 * and the key in no fixed order, and name the key in `responseElements.keyId` (since
 * December 2022). Moving an alias needs the old key's permission too, so an alias
 * moved away from a key is a change, or a denied request, of that key as well. The
 * heartbeat has no `responseElements.keyId`, so it does not pass this filter: the
 * tag filter, which feeds the same metric, carries it.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/ct-createalias.html
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/ct-updatealias.html
 */
export const KEY_ALIAS_CHANGES: AuditEvent = {
  id: 'KeyAliasChanges',
  metricName: 'KeyAliasOrTagChanges',
  description: 'an alias created, moved or deleted, or a tag changed',
  keyArnSelector: '$.detail.responseElements.keyId',
  eventNames: ['CreateAlias', 'UpdateAlias', 'DeleteAlias'],
  heartbeat: false,
  patternFor: keys => `{ ($.detail.eventSource = kms.amazonaws.com) && ($.detail.responseElements.keyId = "${keys}") && ${SUCCEEDED} && (($.detail.eventName = CreateAlias) || ($.detail.eventName = UpdateAlias) || ($.detail.eventName = DeleteAlias)) }`,
};

/**
 * A tag of the key added, changed or removed: tags drive attribute-based access
 * control and the classification.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/ct-tagresource.html
 */
export const KEY_TAG_CHANGES: AuditEvent = changes('KeyTagChanges', 'KeyAliasOrTagChanges',
  'an alias created, moved or deleted, or a tag changed',
  ['TagResource', 'UntagResource']);

/** Requests to the key that KMS denied. */
export const KEY_DENIED_REQUESTS: AuditEvent = {
  id: 'KeyDeniedRequests',
  metricName: 'KeyDeniedRequests',
  description: 'requests denied',
  heartbeat: true,
  patternFor: (keys, heartbeat) =>
    `{ (($.detail.eventSource = kms.amazonaws.com) && ${namesAKey(keys)} && ($.detail.errorCode = "AccessDenied*")) || ${heartbeatClause(heartbeat)} }`,
};

export const KEY_EVENTS = [KEY_STATE_CHANGES, KEY_POLICY_OR_GRANT_CHANGES, KEY_ALIAS_CHANGES, KEY_TAG_CHANGES, KEY_DENIED_REQUESTS];

/** The metrics the heartbeat passes through, each once per heartbeat for the heartbeat key. */
export const HEARTBEAT_METRICS: KeyMetricName[] = ['KeyStateChanges', 'KeyPolicyOrGrantChanges', 'KeyAliasOrTagChanges', 'KeyDeniedRequests'];

/**
 * The EventBridge pattern of the watch's rule: the KMS calls the filters count
 * (changes, and any denied call) and the heartbeat. The rule receives read-only
 * calls too (its state is `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`), so that a
 * denied `DescribeKey` or `GetKeyPolicy` is counted like any other.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html
 */
export function ruleEventPattern(heartbeatRoleArn: string): Record<string, unknown> {
  const changed = Array.from(new Set(KEY_EVENTS.flatMap(e => e.eventNames ?? [])));
  return {
    'source': ['aws.kms'],
    'detail-type': ['AWS API Call via CloudTrail'],
    'detail': {
      eventSource: ['kms.amazonaws.com'],
      $or: [
        { eventName: changed },
        { errorCode: [{ prefix: 'AccessDenied' }] },
        { eventName: ['DescribeKey'], userIdentity: { sessionContext: { sessionIssuer: { arn: [heartbeatRoleArn] } } } },
      ],
    },
  };
}
