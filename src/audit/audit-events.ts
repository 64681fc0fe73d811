/*
 * The KMS events the audit trail counts, as CloudWatch Logs filter patterns over
 * CloudTrail records. One metric filter per event kind serves every key of a stack:
 * the key's ARN is a dimension, so 100 keys need the same handful of filters.
 */

import type { KeyMetricName } from '../key/key-watch';

/** The dimension that carries the key's ARN (the first resource of a KMS event). */
export const KEY_ARN_DIMENSION = 'KeyArn';
export const KEY_ARN_SELECTOR = '$.resources[0].ARN';
/**
 * The keys a trail's per-key patterns count: those of its own account and Region,
 * named by a key ARN (not an alias ARN) as the first resource. A multi-Region trail
 * records every Region's events; each Region's keys are counted by that Region's
 * trail only, so that no event raises two alarms. (CloudTrail's own examples do not
 * always write `resources[0].type`, so the ARN decides.)
 */
export function keyArnsOf(partition: string, region: string, account: string): string {
  return `arn:${partition}:kms:${region}:${account}:key/*`;
}

function namesAKey(keyArns: string): string {
  return `(${KEY_ARN_SELECTOR} = "${keyArns}")`;
}
/** Changes count only when they happened; refused attempts are denied requests. */
const SUCCEEDED = '($.errorCode NOT EXISTS)';

/**
 * CIS AWS Foundations 3.7 / 4.7, checked by Security Hub CloudWatch.7: exactly this
 * pattern, with no other field, or the control fails.
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
  /** The filter pattern, for the keys `keyArns` matches (see `keyArnsOf`). */
  patternFor(keyArns: string): string;
}

/** The key was disabled, scheduled for deletion, stopped rotating or lost its material. */
export const KEY_STATE_CHANGES: AuditEvent = {
  id: 'KeyStateChanges',
  metricName: 'KeyStateChanges',
  patternFor: keys => `{ ($.eventSource = kms.amazonaws.com) && ${namesAKey(keys)} && ${SUCCEEDED} && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion) || ($.eventName = DisableKeyRotation) || ($.eventName = DeleteImportedKeyMaterial)) }`,
  description: 'disabled, scheduled for deletion, rotation turned off or imported material deleted',
};

/**
 * The key policy changed, or someone (not an AWS service acting for a resource)
 * created or revoked a grant.
 */
export const KEY_POLICY_OR_GRANT_CHANGES: AuditEvent = {
  id: 'KeyPolicyOrGrantChanges',
  metricName: 'KeyPolicyOrGrantChanges',
  patternFor: keys => `{ ($.eventSource = kms.amazonaws.com) && ${namesAKey(keys)} && ${SUCCEEDED} && (($.eventName = PutKeyPolicy) || ($.eventName = RevokeGrant) || (($.eventName = CreateGrant) && ($.userIdentity.invokedBy NOT EXISTS))) }`,
  description: 'key policy changed, a grant revoked, or a grant created outside an AWS service',
};

/**
 * What aliases and tags changes count as: one metric, of two filters, since the
 * records name the key in different places.
 */
const ALIAS_OR_TAG_CHANGES: Pick<AuditEvent, 'metricName' | 'description'> = {
  metricName: 'KeyAliasOrTagChanges',
  description: 'an alias created, moved or deleted, or a tag changed',
};

/**
 * An alias of the key created, moved to it or deleted. Alias records list the alias
 * and the key in no fixed order, and name the key in `responseElements.keyId` (since
 * December 2022). Moving an alias needs the old key's permission too, so an alias
 * moved away from a key is a change, or a denied request, of that key as well.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/ct-createalias.html
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/ct-updatealias.html
 */
export const KEY_ALIAS_CHANGES: AuditEvent = {
  ...ALIAS_OR_TAG_CHANGES,
  id: 'KeyAliasChanges',
  keyArnSelector: '$.responseElements.keyId',
  patternFor: keys => `{ ($.eventSource = kms.amazonaws.com) && ($.responseElements.keyId = "${keys}") && ${SUCCEEDED} && (($.eventName = CreateAlias) || ($.eventName = UpdateAlias) || ($.eventName = DeleteAlias)) }`,
};

/**
 * A tag of the key added, changed or removed: tags drive attribute-based access
 * control and the classification.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/ct-tagresource.html
 */
export const KEY_TAG_CHANGES: AuditEvent = {
  ...ALIAS_OR_TAG_CHANGES,
  id: 'KeyTagChanges',
  patternFor: keys => `{ ($.eventSource = kms.amazonaws.com) && ${namesAKey(keys)} && ${SUCCEEDED} && (($.eventName = TagResource) || ($.eventName = UntagResource)) }`,
};

/** Requests to the key that KMS denied. */
export const KEY_DENIED_REQUESTS: AuditEvent = {
  id: 'KeyDeniedRequests',
  metricName: 'KeyDeniedRequests',
  patternFor: keys => `{ ($.eventSource = kms.amazonaws.com) && ${namesAKey(keys)} && ($.errorCode = "AccessDenied*") }`,
  description: 'requests denied',
};

export const KEY_EVENTS = [KEY_STATE_CHANGES, KEY_POLICY_OR_GRANT_CHANGES, KEY_ALIAS_CHANGES, KEY_TAG_CHANGES, KEY_DENIED_REQUESTS];
