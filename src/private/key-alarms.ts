import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { AuditEvent, KEY_DENIED_REQUESTS, KEY_POLICY_OR_GRANT_CHANGES, KEY_STATE_CHANGES } from './audit-events';
import { ClassificationRules } from '../classification';

/** Imported material this close to expiry raises the state alarm. */
export const KEY_MATERIAL_EXPIRY_WARNING = Duration.days(30);
const PERIOD = Duration.minutes(5);
/** Fill for a missing expiry datapoint (material that never expires): ten years. */
const NEVER_EXPIRES_SECONDS = Duration.days(3650).toSeconds();

/** Where a key's metrics come from. */
export interface KeyMetricSource {
  /** A count of one audit event for the key. */
  eventMetric(event: AuditEvent): cloudwatch.IMetric;
  /** KMS's own SecondsUntilKeyMaterialExpiration metric of the key. */
  expiryMetric(): cloudwatch.IMetric;
}

export interface KeyAlarmOptions {
  readonly rules: ClassificationRules;
  readonly importedMaterial: boolean;
  /** How the key is named in descriptions: its construct path. */
  readonly keyName: string;
}

/**
 * The alarms of one key, as the classification table says. At most two per key, so
 * that a key costs at most six resources with its own roles:
 *
 * - `StateAlarm`: disabled, scheduled for deletion, rotation turned off, imported
 *   material deleted, or imported material about to expire;
 * - `AccessAlarm` (INTERNAL and up): key policy or grant changed, and for
 *   CONFIDENTIAL and RESTRICTED a spike of denied requests.
 *
 * Several signals share one alarm through metric math; each is still a metric of
 * the key for dashboards.
 */
export function createKeyAlarms(scope: Construct, metrics: KeyMetricSource, options: KeyAlarmOptions): cloudwatch.Alarm[] {
  const { rules, importedMaterial, keyName } = options;
  const alarms: cloudwatch.Alarm[] = [];

  const stateChanges = metrics.eventMetric(KEY_STATE_CHANGES);
  const state = importedMaterial
    ? anyOf({
      changes: 'FILL(changes, 0) >= 1',
      expiry: `FILL(expiry, ${NEVER_EXPIRES_SECONDS}) < ${KEY_MATERIAL_EXPIRY_WARNING.toSeconds()}`,
    }, { changes: stateChanges, expiry: metrics.expiryMetric() })
    : stateChanges;
  alarms.push(newAlarm(scope, 'StateAlarm', state, describe(keyName, [
    KEY_STATE_CHANGES.description,
    ...(importedMaterial ? [`imported material expires within ${KEY_MATERIAL_EXPIRY_WARNING.toDays()} days`] : []),
  ])));

  if (rules.alarmOnPolicyOrGrantChanges) {
    const changes = metrics.eventMetric(KEY_POLICY_OR_GRANT_CHANGES);
    const threshold = rules.deniedRequestsThreshold;
    const access = threshold === undefined
      ? changes
      : anyOf({
        changes: 'FILL(changes, 0) >= 1',
        denied: `FILL(denied, 0) > ${threshold}`,
      }, { changes, denied: metrics.eventMetric(KEY_DENIED_REQUESTS) });
    alarms.push(newAlarm(scope, 'AccessAlarm', access, describe(keyName, [
      KEY_POLICY_OR_GRANT_CHANGES.description,
      ...(threshold === undefined ? [] : [`more than ${threshold} ${KEY_DENIED_REQUESTS.description} in 5 minutes`]),
    ])));
  }
  return alarms;
}

/** 1 when any condition holds, else 0. */
function anyOf(conditions: Record<string, string>, usingMetrics: Record<string, cloudwatch.IMetric>): cloudwatch.IMetric {
  return new cloudwatch.MathExpression({
    expression: `IF(${Object.values(conditions).join(' OR ')}, 1, 0)`,
    usingMetrics,
    period: PERIOD,
    label: Object.keys(conditions).join(' or '),
  });
}

function newAlarm(scope: Construct, id: string, metric: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    metric,
    alarmDescription: description,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    actionsEnabled: true,
  });
}

/** The one naming strategy for alarm descriptions. */
function describe(keyName: string, signals: string[]): string {
  return `KMS key ${keyName}: ${signals.join('; or ')}`;
}
