import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { AuditEvent, KEY_ALIAS_CHANGES, KEY_ARN_DIMENSION, KEY_DENIED_REQUESTS, KEY_POLICY_OR_GRANT_CHANGES, KEY_STATE_CHANGES } from './audit-events';
import { ClassificationRules } from '../key/classification';

/** Imported material this close to expiry raises the expiry alarm. */
export const KEY_MATERIAL_EXPIRY_WARNING = Duration.days(30);
const PERIOD = Duration.minutes(5);
const HEARTBEAT_PERIOD = Duration.hours(1);

/*
 * The alarm factory. Two kinds of alarm watch keys:
 *
 * - shared alarms of the audit trail, one per signal, each a CloudWatch Metrics
 *   Insights query grouped by key: every key with events is a contributor of its own,
 *   in ALARM or OK, and notifications name it. They cost nothing per key and no
 *   resource per key.
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Metrics_Insights_Alarm.html
 * - a key's own alarm, for what depends on its classification: denied requests above
 *   the CONFIDENTIAL or RESTRICTED threshold.
 */

/** The shared alarms of a trail whose per-key metrics are in `namespace`. */
export interface SharedKeyAlarms {
  /** Any key disabled, scheduled for deletion, stopped rotating or lost its imported material. */
  readonly stateChanges: cloudwatch.Alarm;
  /** Any key's policy changed, or a grant revoked or made outside an AWS service. */
  readonly policyOrGrantChanges: cloudwatch.Alarm;
  /** Any key's alias created, moved or deleted, or its tags changed. */
  readonly aliasOrTagChanges: cloudwatch.Alarm;
}

/**
 * The shared alarms of a watch. The heartbeat passes the per-key filters as events of
 * the audit key, so the queries leave the audit key out (`heartbeatKeyArn`); the audit
 * key's own changes raise `createHeartbeatKeyChangesAlarm` instead.
 */
export function createSharedKeyAlarms(scope: Construct, namespace: string, where: string, heartbeatKeyArn: string): SharedKeyAlarms {
  return {
    stateChanges: queryAlarm(scope, 'KeyStateChangesAlarm', perKeyQuery(namespace, KEY_STATE_CHANGES, heartbeatKeyArn), {
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `A KMS key of ${where} was ${KEY_STATE_CHANGES.description} (one contributor per key ARN)`,
    }),
    policyOrGrantChanges: queryAlarm(scope, 'KeyPolicyOrGrantChangesAlarm', perKeyQuery(namespace, KEY_POLICY_OR_GRANT_CHANGES, heartbeatKeyArn), {
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `A KMS key of ${where}: ${KEY_POLICY_OR_GRANT_CHANGES.description} (one contributor per key ARN)`,
    }),
    aliasOrTagChanges: queryAlarm(scope, 'KeyAliasOrTagChangesAlarm', perKeyQuery(namespace, KEY_ALIAS_CHANGES, heartbeatKeyArn), {
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `A KMS key of ${where}: ${KEY_ALIAS_CHANGES.description} (one contributor per key ARN)`,
    }),
  };
}

/**
 * Keys whose imported material expires within 30 days, from KMS's own metric: one
 * alarm for every such key of the account and Region.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/monitoring-cloudwatch.html
 */
export function createKeyMaterialExpiryAlarm(scope: Construct, where: string): cloudwatch.Alarm {
  return queryAlarm(scope, 'KeyMaterialExpiryAlarm',
    'SELECT MIN(SecondsUntilKeyMaterialExpiration) FROM SCHEMA("AWS/KMS", KeyId) GROUP BY KeyId ORDER BY MIN() ASC', {
      threshold: KEY_MATERIAL_EXPIRY_WARNING.toSeconds(),
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      description: `The imported key material of a KMS key of ${where} expires within ${KEY_MATERIAL_EXPIRY_WARNING.toDays()} days (one contributor per key ID)`,
    });
}

export interface KeyAlarmOptions {
  readonly rules: ClassificationRules;
  /** How the key is named in descriptions: its construct path. */
  readonly keyName: string;
  /** The key's count of an audit event. */
  eventMetric(event: AuditEvent): cloudwatch.IMetric;
}

/**
 * The key's own alarms, as its classification asks: for CONFIDENTIAL and RESTRICTED
 * keys, requests denied in 5 minutes above the classification's threshold.
 */
export function createKeyAlarms(scope: Construct, options: KeyAlarmOptions): cloudwatch.Alarm[] {
  const threshold = options.rules.deniedRequestsThreshold;
  if (threshold === undefined) return [];
  return [new cloudwatch.Alarm(scope, 'DeniedRequestsAlarm', {
    metric: options.eventMetric(KEY_DENIED_REQUESTS),
    alarmDescription: `KMS key ${options.keyName}: more than ${threshold} ${KEY_DENIED_REQUESTS.description} in 5 minutes`,
    threshold,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    actionsEnabled: true,
  })];
}

/** What the alarms of a CloudHSM key store watch. */
export interface KeyStoreAlarmOptions {
  readonly customKeyStoreId: string;
  readonly clusterId: string;
  /** How the store is named in descriptions: its construct path. */
  readonly storeName: string;
}

/**
 * The alarms of a CloudHSM key store: KMS throttling requests to its keys (KMS's
 * `CloudHSMKeyStoreThrottle`, published per store, operation and key spec) and an HSM
 * of its cluster unhealthy (CloudHSM's `HsmUnhealthy`, per cluster and HSM). Each
 * query sums or takes the worst over the store's or cluster's series.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/monitoring-cloudwatch.html
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/hsm-metrics-cw.html
 */
export function createKeyStoreAlarms(scope: Construct, options: KeyStoreAlarmOptions): cloudwatch.Alarm[] {
  return [
    queryAlarm(scope, 'KeyStoreThrottleAlarm', keyStoreThrottleQuery(options.customKeyStoreId), {
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `Custom key store ${options.storeName}: KMS throttled requests to its keys (CloudHSMKeyStoreThrottle) in 5 minutes`,
    }),
    queryAlarm(scope, 'HsmUnhealthyAlarm',
      `SELECT MAX(HsmUnhealthy) FROM "AWS/CloudHSM" WHERE ClusterId = '${options.clusterId}'`, {
        threshold: 1,
        comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `Custom key store ${options.storeName}: an HSM of its CloudHSM cluster was unhealthy (HsmUnhealthy) in 5 minutes`,
      }),
  ];
}

/** Requests to a store's keys that KMS throttled, summed over the operations and key specs KMS publishes them by. */
export function keyStoreThrottleQuery(customKeyStoreId: string): string {
  return `SELECT SUM(CloudHSMKeyStoreThrottle) FROM "AWS/KMS" WHERE CustomKeyStoreId = '${customKeyStoreId}'`;
}

/** The query of one audit event, one time series per key, the heartbeat's key left out. */
export function perKeyQuery(namespace: string, event: AuditEvent, heartbeatKeyArn: string): string {
  return `SELECT SUM(${event.metricName}) FROM SCHEMA("${namespace}", ${KEY_ARN_DIMENSION}) WHERE ${KEY_ARN_DIMENSION} != '${heartbeatKeyArn}' GROUP BY ${KEY_ARN_DIMENSION} ORDER BY SUM() DESC`;
}

/** What the heartbeat alarms read: the watch's metrics of the heartbeat key, and the heartbeat's own. */
export interface HeartbeatMetrics {
  /** The count of heartbeats, from the heartbeat's own filter. */
  readonly heartbeat: cloudwatch.IMetric;
  /** The heartbeat key's count of each metric the heartbeat passes through. */
  readonly heartbeatKey: Record<string, cloudwatch.IMetric>;
}

/**
 * Nothing fails silently: the watch's heartbeat (every 15 minutes) missing for two
 * hours from its own metric or from any per-key metric it passes. A stopped or
 * deleted trail, a deleted or disabled rule, a log group EventBridge can no longer
 * write to, a deleted filter or one CloudWatch Logs disabled (past 1,000 dimension
 * values in an hour) each stop one of them. The alias filter is the exception: it
 * reads the key from `responseElements.keyId`, which no read-only call has, so the
 * heartbeat cannot pass it.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/MonitoringPolicyExamples.html
 */
export function createHeartbeatAlarm(scope: Construct, metrics: HeartbeatMetrics, where: string): cloudwatch.Alarm {
  const usingMetrics: Record<string, cloudwatch.IMetric> = { h: metrics.heartbeat };
  Object.values(metrics.heartbeatKey).forEach((metric, i) => { usingMetrics[`m${i}`] = metric; });
  const expression = `MIN([${Object.keys(usingMetrics).map(id => `FILL(${id}, 0)`).join(', ')}])`;
  return new cloudwatch.Alarm(scope, 'AuditEventsStoppedAlarm', {
    metric: new cloudwatch.MathExpression({ expression, usingMetrics, period: HEARTBEAT_PERIOD, label: 'Fewest heartbeats through a filter' }),
    alarmDescription: `The KMS audit watch of ${where} received no heartbeat in an hour, twice in a row, through its rule or one of its filters: the trail stopped, the rule or a filter was deleted or disabled, or its log group stopped receiving events`,
    threshold: 1,
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    actionsEnabled: true,
  });
}

/**
 * The heartbeat key's own changes, which the shared alarms leave out: for each of its
 * counts of state, policy or grant, and alias or tag changes, the count less the
 * heartbeats (which each of them counts once), and the largest of the three. A lost
 * filter lowers only its own term, so it never hides another's change; a lost
 * heartbeat filter raises this alarm with the stopped alarm.
 */
export function createHeartbeatKeyChangesAlarm(scope: Construct, metrics: HeartbeatMetrics, keyName: string): cloudwatch.Alarm {
  const counted = [KEY_STATE_CHANGES.metricName, KEY_POLICY_OR_GRANT_CHANGES.metricName, KEY_ALIAS_CHANGES.metricName];
  const usingMetrics: Record<string, cloudwatch.IMetric> = { h: metrics.heartbeat };
  counted.forEach((name, i) => { usingMetrics[`c${i}`] = metrics.heartbeatKey[name]; });
  const expression = `MAX([${counted.map((_, i) => `FILL(c${i}, 0) - FILL(h, 0)`).join(', ')}])`;
  return new cloudwatch.Alarm(scope, 'HeartbeatKeyChangesAlarm', {
    metric: new cloudwatch.MathExpression({ expression, usingMetrics, period: PERIOD, label: 'Heartbeat key changes' }),
    alarmDescription: `KMS key ${keyName} (the audit heartbeat's) was ${KEY_STATE_CHANGES.description}, its ${KEY_POLICY_OR_GRANT_CHANGES.description}, or ${KEY_ALIAS_CHANGES.description}`,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    actionsEnabled: true,
  });
}

interface QueryAlarmOptions {
  readonly threshold: number;
  readonly comparison: cloudwatch.ComparisonOperator;
  readonly description: string;
}

/**
 * An alarm on a Metrics Insights query. Grouped by a dimension, each time series
 * (each key) is a contributor with its own state. A series exists only while it has
 * data, so missing data is no breach.
 */
function queryAlarm(scope: Construct, id: string, query: string, options: QueryAlarmOptions): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    metric: new cloudwatch.MathExpression({ expression: query, usingMetrics: {}, period: PERIOD }),
    alarmDescription: options.description,
    threshold: options.threshold,
    evaluationPeriods: 1,
    comparisonOperator: options.comparison,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    actionsEnabled: true,
  });
}
