import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct, IConstruct } from 'constructs';
import {
  CIS_KEY_DISABLED_OR_DELETED_PATTERN,
  KEY_ARN_DIMENSION,
  KEY_ARN_SELECTOR,
  KEY_EVENTS,
  keyArnsOf,
} from './audit-events';
import { createKeyAlarms, createKeyMaterialExpiryAlarm, createSharedKeyAlarms } from './key-alarms';
import { KeyAuditTrailProps } from './key-audit-trail-props';
import { createTrail, defaultTrailName, validateSameEnvironment } from './trail-archive';
import { environmentOf, registryOf, validateTrails } from './trail-registry';
import { DataClassification, rulesFor } from '../key/classification';
import { ClassifiedKey } from '../key/classified-key';
import { keyAdminRole } from '../key/key-roles';
import { assertSameEnvironment, installDefaultWatcher, WatchedKey } from '../key/key-watch';

/** Log retention below this is an error: audit logs are kept at least a year. */
const MIN_RETENTION_DAYS = 365;
/**
 * CloudTrail's naming rules: 3-128 letters, digits, periods, underscores and dashes,
 * starting and ending with a letter or digit, no two of `.`, `_`, `-` in a row, and
 * not shaped like an IP address.
 * @see https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
 */
const TRAIL_NAME_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9]|[._-](?![._-])){1,126}[a-zA-Z0-9]$/;
const IP_ADDRESS_PATTERN = /^\d{1,3}(\.\d{1,3}){3}$/;
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

const IS_KEY_AUDIT_TRAIL = Symbol.for('cdk-kms-constructs.KeyAuditTrail');

/**
 * The audit spine of an account and Region: a CloudTrail trail delivering to an
 * encrypted CloudWatch Logs log group, metric filters for the KMS events that matter,
 * and the alarms every ClassifiedKey gets. One per account and Region for the app,
 * created in the stack of the first key that needs it (`KeyAuditTrail.of(scope)`), or
 * declared by you first.
 */
export class KeyAuditTrail extends Construct {
  /** The construct id of the trail that `of` creates. */
  public static readonly DEFAULT_ID = 'KeyAuditTrail';

  /**
   * The audit trail of the scope's account and Region: the first KeyAuditTrail
   * declared in any stack of the app (of the stage, in a `Stage`) for them, or a new
   * one with default properties in the scope's stack. Keys of every stack of an account and Region attach to one
   * trail, so that an app never creates more trails than AWS allows.
   */
  public static of(scope: IConstruct): KeyAuditTrail {
    const stack = Stack.of(scope);
    const existing = registryOf<KeyAuditTrail>(scope).byEnvironment.get(environmentOf(stack));
    if (existing) return existing;
    const created = new KeyAuditTrail(stack, KeyAuditTrail.DEFAULT_ID);
    created.createdImplicitly = true;
    return created;
  }

  /** Whether a value is a KeyAuditTrail, of this copy of the library or another. */
  public static isKeyAuditTrail(x: unknown): x is KeyAuditTrail {
    return typeof x === 'object' && x !== null && IS_KEY_AUDIT_TRAIL in x;
  }

  /** The trail, when this construct created one. */
  public readonly trail?: cloudtrail.Trail;
  /** The log group that holds the KMS events. */
  public readonly logGroup: logs.ILogGroup;
  /** The topic the alarms notify. */
  public readonly alarmTopic: sns.ITopic;
  /** The key that encrypts the trail, its log group and the alarm topic, when created. */
  public readonly auditKey?: ClassifiedKey;
  /**
   * The role that may read the audit logs of a created trail: the audit key's user
   * role.
   * It reads the log group, and may decrypt the files CloudTrail wrote to the bucket
   * (through S3, with the trail's encryption context) once you give it
   * `s3:GetObject` on the bucket.
   */
  public readonly logReaderRole?: iam.IRole;
  /** The bucket the trail delivers to, when created. */
  public readonly bucket?: s3.IBucket;
  /** The bucket that receives the trail bucket's access logs, when created. */
  public readonly accessLogsBucket?: s3.IBucket;
  /** The stack-level alarm of CIS 3.7 / 4.7: any key disabled or scheduled for deletion. */
  public readonly keyDisabledOrDeletedAlarm: cloudwatch.Alarm;
  /** The CloudWatch namespace of this trail's metrics. */
  public readonly metricNamespace: string;
  /**
   * Any key of the account and Region disabled, scheduled for deletion, with
   * rotation turned off or its imported material deleted: a Metrics Insights alarm
   * in which each key is a contributor, named by its ARN.
   */
  public readonly keyStateChangesAlarm: cloudwatch.Alarm;
  /**
   * Any key of the account and Region whose policy changed, or with a grant revoked
   * or created outside an AWS service: each key is a contributor, named by its ARN.
   */
  public readonly keyPolicyOrGrantChangesAlarm: cloudwatch.Alarm;
  /**
   * Any key of the account and Region whose alias was created, moved or deleted, or
   * whose tags changed (aliases direct encryption to a key, tags drive access
   * control): each key is a contributor, named by its ARN.
   */
  public readonly keyAliasOrTagChangesAlarm: cloudwatch.Alarm;

  private createdImplicitly = false;
  /** The name of the trail this construct creates. */
  private readonly trailName?: string;
  private readonly pendingAlarms: cloudwatch.Alarm[] = [];
  private keyMaterialExpiryAlarm?: cloudwatch.Alarm;
  private topicReady = false;

  constructor(scope: Construct, id: string, props: KeyAuditTrailProps = {}) {
    super(scope, id);
    Object.defineProperty(this, IS_KEY_AUDIT_TRAIL, { value: true });
    const stack = Stack.of(this);
    const registry = registryOf<KeyAuditTrail>(this);
    const environment = environmentOf(stack);
    if (!registry.byEnvironment.has(environment)) registry.byEnvironment.set(environment, this);
    registry.all.push(this);

    const retention = props.retention ?? logs.RetentionDays.ONE_YEAR;
    if (retention < MIN_RETENTION_DAYS) {
      throw new Error(`retention must be at least ${MIN_RETENTION_DAYS} days for audit logs, got ${retention}`);
    }
    if (props.existingLogGroup && props.retention !== undefined) {
      throw new Error(`retention applies only to a created log group; got ${props.retention} with existingLogGroup`);
    }
    const trailName = props.trailName ?? defaultTrailName(stack.stackName);
    if (!Token.isUnresolved(trailName) && (!TRAIL_NAME_PATTERN.test(trailName) || IP_ADDRESS_PATTERN.test(trailName))) {
      throw new Error(
        `trailName must be 3-128 letters, digits, ".", "_" or "-", start and end with a letter or digit, have no two of ".", "_", "-" in a row and not look like an IP address, got "${trailName}"`,
      );
    }
    this.trailName = props.existingLogGroup ? undefined : trailName;
    if (props.existingLogGroup && props.trailName !== undefined) {
      throw new Error(`trailName applies only to a created trail; got "${props.trailName}" with existingLogGroup`);
    }
    if (props.existingLogGroup && props.objectLockRetention !== undefined) {
      throw new Error(`objectLockRetention applies only to a created trail's bucket; got ${props.objectLockRetention.duration.toDays()} days with existingLogGroup`);
    }
    if (props.existingLogGroup && props.accessLogsBucket !== undefined) {
      throw new Error(`accessLogsBucket applies only to a created trail's bucket; got ${props.accessLogsBucket.node.path} with existingLogGroup`);
    }
    const objectLock = props.objectLockRetention ?? s3.ObjectLockRetention.governance(Duration.days(retention));
    const lockDays = objectLock.duration.toDays();
    if (lockDays < retention) {
      throw new Error(`objectLockRetention must be at least the log retention of ${retention} days, so that no audit log leaves the archive early, got ${lockDays} days`);
    }
    if (props.accessLogsBucket) validateSameEnvironment(stack, props.accessLogsBucket);
    for (const email of props.alarmEmails ?? []) {
      if (!Token.isUnresolved(email) && !EMAIL_PATTERN.test(email)) {
        throw new Error(`alarmEmails entries must be email addresses, got "${email}"`);
      }
    }
    if (props.alarmTopic && props.alarmEmails) {
      throw new Error(`alarmEmails subscribe to the created topic; subscribe them to your alarmTopic instead, got ${props.alarmEmails.join(', ')} with alarmTopic ${props.alarmTopic.node.path}`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.metricNamespace = `KmsKeyAudit/${stack.stackName}`;

    // The shared alarms come first, so that the audit key is watched by them too.
    const shared = createSharedKeyAlarms(this, this.metricNamespace, this.where());
    this.keyStateChangesAlarm = shared.stateChanges;
    this.keyPolicyOrGrantChangesAlarm = shared.policyOrGrantChanges;
    this.keyAliasOrTagChangesAlarm = shared.aliasOrTagChanges;
    this._notify(shared.stateChanges);
    this._notify(shared.policyOrGrantChanges);
    this._notify(shared.aliasOrTagChanges);

    // The audit key exists when something of ours must be encrypted: the trail and
    // its log group, or the alarm topic.
    const needsKey = !props.existingLogGroup || !props.alarmTopic;
    if (needsKey) {
      this.auditKey = new ClassifiedKey(this, 'AuditKey', {
        classification: DataClassification.CONFIDENTIAL,
        description: `Encrypts the KMS audit trail, its logs and alarm topic of ${stack.stackName}`,
        // Readers decrypt the trail's files through S3, and only files CloudTrail
        // wrote (they carry the trail's encryption context); services use the key by
        // their own statements below.
        viaServices: ['s3'],
        encryptionContextKeys: ['aws:cloudtrail:arn'],
        removalPolicy,
        auditTrail: this,
        deployRole: props.deployRole,
        // Its own administrators: those of the stack's data keys do not manage the audit.
        adminRole: keyAdminRole(this, 'AuditKeyAdminRole', DataClassification.CONFIDENTIAL,
          rulesFor(DataClassification.CONFIDENTIAL), new iam.AccountRootPrincipal(),
          `Administers the KMS audit key of ${stack.stackName}; cannot use it`),
      });
    }

    if (props.existingLogGroup) {
      this.logGroup = props.existingLogGroup;
    } else {
      const created = createTrail(this, this.auditKey!, {
        trailName, retention, removalPolicy, objectLock, accessLogsBucket: props.accessLogsBucket,
      });
      this.logReaderRole = this.auditKey!.userRole;
      this.trail = created.trail;
      this.logGroup = created.logGroup;
      this.bucket = created.bucket;
      this.accessLogsBucket = created.accessLogsBucket;
    }

    // Alarms notify a topic encrypted with the audit key, that only TLS may reach.
    if (props.alarmTopic) {
      this.alarmTopic = props.alarmTopic;
    } else {
      const topic = new sns.Topic(this, 'AlarmTopic', {
        displayName: `KMS key alarms of ${stack.stackName}`,
        masterKey: this.auditKey,
        enforceSSL: true,
      });
      // The audit key learns, as any ClassifiedKey, that alarms publish to the topic.
      for (const email of props.alarmEmails ?? []) {
        topic.addSubscription(new subscriptions.EmailSubscription(email));
      }
      this.alarmTopic = topic;
    }

    const partition = (!Token.isUnresolved(stack.region) && RegionInfo.get(stack.region).partition) || stack.partition;
    const keyArns = keyArnsOf(partition, stack.region, stack.account);
    for (const event of KEY_EVENTS) {
      new logs.MetricFilter(this, event.id, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.literal(event.patternFor(keyArns)),
        metricNamespace: this.metricNamespace,
        metricName: event.metricName,
        metricValue: '1',
        dimensions: { [KEY_ARN_DIMENSION]: event.keyArnSelector ?? KEY_ARN_SELECTOR },
        unit: cloudwatch.Unit.COUNT,
      });
    }
    const cisFilter = new logs.MetricFilter(this, 'KeyDisabledOrScheduledForDeletion', {
      logGroup: this.logGroup,
      filterPattern: logs.FilterPattern.literal(CIS_KEY_DISABLED_OR_DELETED_PATTERN),
      metricNamespace: this.metricNamespace,
      metricName: 'KeyDisabledOrScheduledForDeletion',
      metricValue: '1',
    });
    this.keyDisabledOrDeletedAlarm = new cloudwatch.Alarm(this, 'KeyDisabledOrScheduledForDeletionAlarm', {
      alarmDescription: `CIS 3.7 / 4.7: a KMS key of account ${stack.account} was disabled or scheduled for deletion`,
      metric: cisFilter.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      actionsEnabled: true,
    });
    this.keyDisabledOrDeletedAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));

    // Alarms made before the topic existed (the audit key's own) get it now.
    this.topicReady = true;
    for (const alarm of this.pendingAlarms.splice(0)) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    }

    if (this.logReaderRole) {
      new iam.ManagedPolicy(this, 'LogReaderPolicy', {
        description: `Reads the KMS audit logs of ${stack.stackName}`,
        roles: [this.logReaderRole],
        statements: [this.readLogsStatement()],
      });
    }
    for (const reader of props.logReaders ?? []) this.grantReadLogs(reader);

    this.node.addValidation({
      validate: () => validateTrails<KeyAuditTrail>(this, t => ({ trailName: t.trailName, createdImplicitly: t.createdImplicitly })),
    });
  }

  /**
   * Lets a principal read the audit logs in CloudWatch Logs, where CloudWatch Logs
   * decrypts them for the reader. The trail's files in S3 stay readable only by
   * principals you give both S3 access and `auditKey.grantDecrypt`.
   */
  public grantReadLogs(grantee: iam.IGrantable): iam.Grant {
    const statement = this.readLogsStatement();
    return iam.Grant.addToPrincipal({ grantee, actions: statement.actions, resourceArns: statement.resources });
  }

  /**
   * Watches a key: makes its own alarms, as its classification asks, notifying its
   * topic or this trail's, and returns them with the shared alarms that watch it.
   *
   * @internal
   */
  public _watch(watched: WatchedKey): cloudwatch.Alarm[] {
    assertSameEnvironment(watched.key, this);
    const own = createKeyAlarms(watched.key, {
      rules: watched.rules,
      keyName: watched.key.node.path,
      eventMetric: event => this._keyMetric(event.metricName, watched.keyArn),
    });
    if (watched.alarmTopic && own.length === 0) {
      throw new Error(`alarmTopic is notified by the key's own alarm, which only CONFIDENTIAL and RESTRICTED keys have (denied requests); the trail's shared alarms notify the trail's alarmTopic, got ${watched.alarmTopic.node.path} for a ${watched.classification} key`);
    }
    for (const alarm of own) this._notify(alarm, watched.alarmTopic);
    return [...this.sharedAlarmsFor(watched.importedMaterial), ...own];
  }

  /**
   * A metric of this trail for one key.
   *
   * @internal
   */
  public _keyMetric(metricName: string, keyArn: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricNamespace,
      metricName,
      dimensionsMap: { [KEY_ARN_DIMENSION]: keyArn },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * The trail's alarms that watch a key: the shared ones, and the imported-material
   * expiry alarm for a key with imported material, made on first use.
   */
  private sharedAlarmsFor(importedMaterial: boolean): cloudwatch.Alarm[] {
    const alarms = [this.keyStateChangesAlarm, this.keyPolicyOrGrantChangesAlarm, this.keyAliasOrTagChangesAlarm];
    if (importedMaterial) {
      if (!this.keyMaterialExpiryAlarm) {
        this.keyMaterialExpiryAlarm = createKeyMaterialExpiryAlarm(this, this.where());
        this._notify(this.keyMaterialExpiryAlarm);
      }
      alarms.push(this.keyMaterialExpiryAlarm);
    }
    return alarms;
  }

  /** How alarm descriptions name the keys a trail watches. */
  private where(): string {
    const stack = Stack.of(this);
    return `account ${stack.account} in ${stack.region}`;
  }

  /**
   * Gives an alarm its action: the key's own topic, or this trail's once it exists.
   *
   * @internal
   */
  public _notify(alarm: cloudwatch.Alarm, topic?: sns.ITopic): void {
    if (topic) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
    } else if (this.topicReady) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    } else {
      this.pendingAlarms.push(alarm);
    }
  }


  private readLogsStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      // Logs Insights also needs logs:GetQueryResults, which AWS authorizes only on
      // all resources; it is left to the reader's own policies.
      actions: ['logs:DescribeLogStreams', 'logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:StartQuery'],
      resources: [this.logGroup.logGroupArn],
    });
  }

}

// Keys given no auditTrail are watched by their account and Region's.
installDefaultWatcher(scope => KeyAuditTrail.of(scope));
