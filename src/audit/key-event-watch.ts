// The audit watch of a stack: the KMS calls of its account and Region, from
// EventBridge into a log group of its own, counted per key by metric filters, and a
// heartbeat that proves the path from the trail to every filter works.
import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct, IConstruct } from 'constructs';
import {
  HEARTBEAT_METRIC,
  HEARTBEAT_METRICS,
  heartbeatClause,
  KEY_ARN_DIMENSION,
  KEY_ARN_SELECTOR,
  KEY_EVENTS,
  keyArnsOf,
  ruleEventPattern,
} from './audit-events';
import { HeartbeatMetrics } from './key-alarms';
import { ClassifiedKey } from '../key/classified-key';
import { acknowledgeServiceEncryptedLogGroup } from '../nag';

/** How often the heartbeat describes the heartbeat key (the audit key, or the first key watched). */
export const HEARTBEAT_RATE = Duration.minutes(15);

/** The settings of a stack's watch, validated by the KeyAuditTrail. */
export interface KeyEventWatchOptions {
  /** Encrypts the watch's log group, when there is one. */
  readonly auditKey?: ClassifiedKey;
  /** The key the heartbeat describes. */
  readonly heartbeatKeyArn: string;
  readonly namespace: string;
  readonly retention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** What `createKeyEventWatch` creates. */
export interface KeyEventWatch {
  /** The log group of the KMS events the rule sends. */
  readonly logGroup: logs.LogGroup;
  readonly rule: events.CfnRule;
  /** The role the heartbeat describes the heartbeat key as. */
  readonly heartbeatRole: iam.Role;
  readonly schedule: scheduler.CfnSchedule;
}

/** The watch's metrics of the heartbeat, as `createHeartbeatAlarm` reads them. */
export function heartbeatMetrics(namespace: string, heartbeatKeyArn: string): HeartbeatMetrics {
  const metric = (metricName: string, dimensionsMap?: Record<string, string>) => new cloudwatch.Metric({
    namespace, metricName, dimensionsMap, statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5),
  });
  const heartbeatKey: Record<string, cloudwatch.IMetric> = {};
  for (const name of HEARTBEAT_METRICS) heartbeatKey[name] = metric(name, { [KEY_ARN_DIMENSION]: heartbeatKeyArn });
  return { heartbeat: metric(HEARTBEAT_METRIC), heartbeatKey };
}

/**
 * The stack's watch: an EventBridge rule on the default bus of its account and
 * Region for the KMS calls the filters count, delivering to a log group encrypted
 * with the audit key, the per-key filters, and the heartbeat. A multi-Region trail
 * with logging on (the account's or the organization's) must record the calls:
 * EventBridge receives "AWS API Call via CloudTrail" events only then.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
 */
export function createKeyEventWatch(scope: Construct, options: KeyEventWatchOptions): KeyEventWatch {
  const stack = Stack.of(scope);
  const logGroupName = `/aws/events/kms-key-audit/${stack.stackName}`;
  // A fixed name: the audit key's policy names the log group, which its encryption
  // key cannot reference back.
  const logGroup = new logs.LogGroup(scope, 'EventsLogGroup', {
    logGroupName,
    encryptionKey: options.auditKey,
    retention: options.retention,
    removalPolicy: options.removalPolicy,
  });
  if (!options.auditKey) acknowledgeServiceEncryptedLogGroup(logGroup.node.defaultChild as IConstruct);

  // A schedule group of the heartbeat's own: Scheduler names the group, not the
  // schedule, as the aws:SourceArn of the role it assumes, so the group keeps the
  // trust as narrow as the schedule.
  // https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
  const groupName = schedulerName(stack.stackName, '-kms-audit');
  const group = new scheduler.CfnScheduleGroup(scope, 'HeartbeatGroup', { name: groupName });
  const groupArn = stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: groupName });
  const heartbeatRole = new iam.Role(scope, 'HeartbeatRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': groupArn },
    }),
    description: 'Describes a KMS key every 15 minutes: the heartbeat of the audit watch',
  });
  // DescribeKey reaches the key through the account's IAM delegation in its policy.
  new iam.ManagedPolicy(scope, 'HeartbeatPolicy', {
    description: 'Describes the key of the KMS audit heartbeat, and nothing else',
    roles: [heartbeatRole],
    statements: [new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [options.heartbeatKeyArn] })],
  });
  // EventBridge Scheduler's universal target calls the KMS API itself.
  // https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html
  const schedule = new scheduler.CfnSchedule(scope, 'Heartbeat', {
    name: schedulerName(stack.stackName, '-kms-audit-heartbeat'),
    groupName,
    description: 'The heartbeat of the KMS audit watch: proves the trail, rule, log group and filters work',
    scheduleExpression: `rate(${HEARTBEAT_RATE.toMinutes()} minutes)`,
    flexibleTimeWindow: { mode: 'OFF' },
    state: 'ENABLED',
    target: {
      arn: `arn:${stack.partition}:scheduler:::aws-sdk:kms:describeKey`,
      roleArn: heartbeatRole.roleArn,
      input: stack.toJsonString({ KeyId: options.heartbeatKeyArn }),
      retryPolicy: { maximumRetryAttempts: 0 },
    },
  });
  schedule.node.addDependency(heartbeatRole, group);

  const rule = new events.CfnRule(scope, 'EventsRule', {
    description: 'KMS calls the audit watch counts: changes, denied requests and its heartbeat',
    eventPattern: ruleEventPattern(heartbeatRole.roleArn),
    // Denied read-only calls (DescribeKey, GetKeyPolicy) too.
    state: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
    targets: [{
      id: 'AuditLogGroup',
      arn: stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    }],
  });
  allowEventBridge(scope, logGroup, rule);

  const partition = (!Token.isUnresolved(stack.region) && RegionInfo.get(stack.region).partition) || stack.partition;
  const keyArns = keyArnsOf(partition, stack.region, stack.account);
  for (const event of KEY_EVENTS) {
    new logs.MetricFilter(scope, event.id, {
      logGroup,
      filterPattern: logs.FilterPattern.literal(event.patternFor(keyArns, heartbeatRole.roleArn)),
      metricNamespace: options.namespace,
      metricName: event.metricName,
      metricValue: '1',
      dimensions: { [KEY_ARN_DIMENSION]: event.keyArnSelector ?? KEY_ARN_SELECTOR },
      unit: cloudwatch.Unit.COUNT,
    });
  }
  new logs.MetricFilter(scope, 'HeartbeatFilter', {
    logGroup,
    filterPattern: logs.FilterPattern.literal(`{ ${heartbeatClause(heartbeatRole.roleArn)} }`),
    metricNamespace: options.namespace,
    metricName: HEARTBEAT_METRIC,
    metricValue: '1',
    unit: cloudwatch.Unit.COUNT,
  });
  return { logGroup, rule, heartbeatRole, schedule };
}

/**
 * EventBridge writes the rule's events to the log group, and nothing else does by
 * this policy: CloudWatch Logs takes account-level resource policies only (ten per
 * account and Region), so it names this log group and this rule.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-cloudwatchlogs-permissions
 */
function allowEventBridge(scope: Construct, logGroup: logs.LogGroup, rule: events.CfnRule): void {
  const stack = Stack.of(scope);
  const document = new iam.PolicyDocument({
    statements: [new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('events.amazonaws.com'), new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
      conditions: {
        ArnEquals: { 'aws:SourceArn': rule.attrArn },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    })],
  });
  new logs.CfnResourcePolicy(scope, 'EventsLogGroupPolicy', {
    policyName: `${stack.stackName}-kms-key-audit`.slice(0, 255),
    policyDocument: stack.toJsonString(document),
  });
}

/** EventBridge Scheduler names (of schedules and groups): at most 64 letters, digits, `-`, `_` and `.`. */
function schedulerName(stackName: string, suffix: string): string {
  if (Token.isUnresolved(stackName)) return `${stackName}${suffix}`;
  return `${stackName.replace(/[^0-9a-zA-Z_.-]/g, '-').slice(0, 64 - suffix.length)}${suffix}`;
}
