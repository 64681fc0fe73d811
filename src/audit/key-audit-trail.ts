import { Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, IConstruct } from 'constructs';
import { CIS_KEY_DISABLED_OR_DELETED_PATTERN, KEY_ARN_DIMENSION, KEY_DENIED_REQUESTS } from './audit-events';
import {
  createHeartbeatKeyChangesAlarm, createHeartbeatAlarm, createKeyAlarms, createKeyMaterialExpiryAlarm, createSharedKeyAlarms, HeartbeatMetrics,
} from './key-alarms';
import { KeyAuditTrailProps } from './key-audit-trail-props';
import { createKeyEventWatch, heartbeatMetrics } from './key-event-watch';
import { createTrail, CreatedTrail, CreatedTrailOptions, defaultTrailName } from './trail-archive';
import { registryOf, TrailChoice, validateTrails, warnAgnosticTrails } from './trail-registry';
import { validateProps } from './trail-settings';
import { DataClassification, rulesFor } from '../key/classification';
import { ClassifiedKey } from '../key/classified-key';
import { keyAdminRole } from '../key/key-roles';
import { assertSameEnvironment, installDefaultWatcher, WatchedKey } from '../key/key-watch';

const IS_KEY_AUDIT_TRAIL = Symbol.for('cdk-kms-constructs.KeyAuditTrail');

/**
 * The audit spine of a stack. Every stack with keys has one, `KeyAuditTrail.of`:
 * its watch counts the KMS calls of its account and Region, delivered by EventBridge,
 * and raises the alarms every ClassifiedKey gets, in the stack's own Region. One
 * KeyAuditTrail per account also creates the account's multi-Region CloudTrail
 * trail, which every Region's watch relies on, unless the account has one of its own
 * (`existingLogGroup`, `createTrail: false`).
 */
export class KeyAuditTrail extends Construct {
  /** The construct id of the trail that `of` creates. */
  public static readonly DEFAULT_ID = 'KeyAuditTrail';

  /**
   * The audit trail of the scope's stack: the first KeyAuditTrail declared in it, or
   * a new one with default properties. Each stack's keys are watched by resources
   * of that stack, so that no stack depends on another for its alarms.
   */
  public static of(scope: IConstruct): KeyAuditTrail {
    const stack = Stack.of(scope);
    const existing = registryOf(scope).byStack.get(stack);
    if (existing) return existing as unknown as KeyAuditTrail;
    const created = new KeyAuditTrail(stack, KeyAuditTrail.DEFAULT_ID);
    created._createdImplicitly = true;
    return created;
  }

  /** Whether a value is a KeyAuditTrail, of this copy of the library or another. */
  public static isKeyAuditTrail(x: unknown): x is KeyAuditTrail {
    return typeof x === 'object' && x !== null && IS_KEY_AUDIT_TRAIL in x;
  }

  /** The log group of the KMS events this stack's watch counts, delivered by EventBridge. */
  public readonly eventsLogGroup: logs.ILogGroup;
  /** The topic the alarms notify. */
  public readonly alarmTopic: sns.ITopic;
  /**
   * The key that encrypts the watch's log group, the trail it creates and the alarm
   * topic: none when `existingLogGroup` and `alarmTopic` are given, and nothing of
   * the library's needs a key (the watch's log group then has CloudWatch Logs'
   * own encryption).
   */
  public readonly auditKey?: ClassifiedKey;
  /**
   * The role that may read the audit logs: the audit key's user role. It reads the
   * watch's log group and the created trail's, and may decrypt the files CloudTrail
   * wrote to the bucket (through S3, with the trail's encryption context) once you
   * give it `s3:GetObject` on the bucket.
   */
  public readonly logReaderRole?: iam.IRole;
  /** The CloudWatch namespace of this watch's metrics. */
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
  /**
   * The watch's heartbeat missing for two hours, through the rule or any filter: the
   * trail stopped, the rule or a filter deleted or disabled, or the log group no
   * longer receiving events. Nothing that stops the audit fails silently.
   */
  public readonly auditEventsStoppedAlarm: cloudwatch.Alarm;
  /**
   * The heartbeat key's own changes, which the shared alarms leave out since its
   * heartbeat passes their filters. The heartbeat describes the audit key, or, with
   * no audit key, the first key the trail watches.
   */
  public readonly heartbeatKeyChangesAlarm: cloudwatch.Alarm;

  /** @internal */
  public _createdImplicitly = false;
  /** @internal */
  public readonly _trailName: string;
  /** @internal */
  public readonly _trailChoice: TrailChoice;
  private archive?: CreatedTrail;
  private cisAlarm?: cloudwatch.Alarm;
  private readonly existingLogGroup?: logs.ILogGroup;
  private readonly archiveSettings: Omit<CreatedTrailOptions, 'trailName'>;
  private readonly readableLogGroups: logs.ILogGroup[] = [];
  private readonly heartbeat: HeartbeatMetrics;
  /** The key the heartbeat describes: the first the trail watches, the audit key when there is one. */
  private heartbeatKey?: WatchedKey;
  private readonly pendingAlarms: cloudwatch.Alarm[] = [];
  private keyMaterialExpiryAlarm?: cloudwatch.Alarm;
  private topicReady = false;

  constructor(scope: Construct, id: string, props: KeyAuditTrailProps = {}) {
    super(scope, id);
    Object.defineProperty(this, IS_KEY_AUDIT_TRAIL, { value: true });
    const stack = Stack.of(this);
    const registry = registryOf(this);
    if (!registry.byStack.has(stack)) registry.byStack.set(stack, this);
    registry.all.push(this);

    const retention = props.retention ?? logs.RetentionDays.ONE_YEAR;
    const trailName = props.trailName ?? defaultTrailName(stack.stackName);
    validateProps(props, stack, retention, trailName);
    this._trailName = trailName;
    this._trailChoice = props.existingLogGroup ? 'existing' : props.createTrail === true ? 'create' : props.createTrail === false ? 'none' : 'default';
    this.existingLogGroup = props.existingLogGroup;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const objectLock = props.objectLockRetention ?? s3.ObjectLockRetention.governance(Duration.days(retention));
    this.archiveSettings = { retention, removalPolicy, objectLock, accessLogsBucket: props.accessLogsBucket };
    this.metricNamespace = `KmsKeyAudit/${stack.stackName}`;
    const heartbeatKeyArn = Lazy.string({
      produce: () => this.heartbeatKey?.keyArn ?? (() => { throw new Error(this.noHeartbeatKey()); })(),
    });
    this.heartbeat = heartbeatMetrics(this.metricNamespace, heartbeatKeyArn);

    // The alarms that watch keys come first, so that the audit key is watched by them
    // too: the shared ones, and the heartbeat key's own (the audit key's, when there is
    // one), which the shared ones leave out.
    const shared = createSharedKeyAlarms(this, this.metricNamespace, this.where(), heartbeatKeyArn);
    const heartbeatKeyName = Lazy.string({ produce: () => this.heartbeatKey?.key.node.path });
    this.heartbeatKeyChangesAlarm = createHeartbeatKeyChangesAlarm(this, this.heartbeat, heartbeatKeyName);
    this._notify(this.heartbeatKeyChangesAlarm);
    this.keyStateChangesAlarm = shared.stateChanges;
    this.keyPolicyOrGrantChangesAlarm = shared.policyOrGrantChanges;
    this.keyAliasOrTagChangesAlarm = shared.aliasOrTagChanges;
    for (const alarm of [shared.stateChanges, shared.policyOrGrantChanges, shared.aliasOrTagChanges]) this._notify(alarm);

    // The audit key exists when something of ours must be encrypted: the watch's log
    // group with the trail it may create, or the alarm topic.
    const needsKey = !props.existingLogGroup || !props.alarmTopic;
    this.auditKey = !needsKey ? undefined : new ClassifiedKey(this, 'AuditKey', {
      classification: DataClassification.CONFIDENTIAL,
      description: `Encrypts the KMS audit logs and alarm topic of ${stack.stackName}`,
      // Readers decrypt the trail's files through S3, and only files CloudTrail
      // wrote (they carry the trail's encryption context); services use the key by
      // their own statements.
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
    this.logReaderRole = this.auditKey?.userRole;

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
      for (const email of props.alarmEmails ?? []) topic.addSubscription(new subscriptions.EmailSubscription(email));
      this.alarmTopic = topic;
    }

    const watch = createKeyEventWatch(this, { auditKey: this.auditKey, heartbeatKeyArn, namespace: this.metricNamespace, retention, removalPolicy });
    this.eventsLogGroup = watch.logGroup;
    this.readableLogGroups.push(watch.logGroup);
    this.auditEventsStoppedAlarm = createHeartbeatAlarm(this, this.heartbeat, this.where());

    // Alarms made before the topic existed (the audit key's own) get it now.
    this.topicReady = true;
    for (const alarm of [...this.pendingAlarms.splice(0), this.auditEventsStoppedAlarm]) this._notify(alarm);

    if (props.existingLogGroup) {
      this.watchTrailLogGroup(props.existingLogGroup);
    } else if (props.createTrail === true) {
      this._createAccountTrail();
    }

    if (this.logReaderRole) {
      new iam.ManagedPolicy(this, 'LogReaderPolicy', {
        description: `Reads the KMS audit logs of ${stack.stackName}`,
        roles: [this.logReaderRole],
        statements: [this.readLogsStatement(false)],
      });
    }
    for (const reader of props.logReaders ?? []) this.grantReadLogs(reader);

    this.node.addValidation({
      validate: () => {
        warnAgnosticTrails(this);
        const errors = validateTrails(this);
        if (!this.heartbeatKey) {
          errors.push(this.noHeartbeatKey());
        }
        return errors;
      },
    });
  }

  /** The trail, when this KeyAuditTrail created its account's. Known once the app is complete. */
  public get trail(): cloudtrail.Trail | undefined { return this.archive?.trail; }
  /** The bucket the created trail delivers to. */
  public get bucket(): s3.IBucket | undefined { return this.archive?.bucket; }
  /** The bucket that receives the created trail bucket's access logs. */
  public get accessLogsBucket(): s3.IBucket | undefined { return this.archive?.accessLogsBucket; }
  /** The log group of the trail: the one created here, or `existingLogGroup`. */
  public get trailLogGroup(): logs.ILogGroup | undefined { return this.archive?.logGroup ?? this.existingLogGroup; }
  /** The alarm of CIS 3.7 / 4.7 on the trail's log group: any key disabled or scheduled for deletion. */
  public get keyDisabledOrDeletedAlarm(): cloudwatch.Alarm | undefined { return this.cisAlarm; }

  /** @internal */
  public get _createsTrail(): boolean { return this.archive !== undefined; }

  /**
   * Creates the account's multi-Region trail here: by `createTrail: true`, or for
   * the account's trail home once the app is complete.
   *
   * @internal
   */
  public _createAccountTrail(): void {
    if (this.archive) return;
    this.archive = createTrail(this, this.auditKey!, { trailName: this._trailName, ...this.archiveSettings });
    this.readableLogGroups.push(this.archive.logGroup);
    this.watchTrailLogGroup(this.archive.logGroup);
  }

  /**
   * Lets a principal read the audit logs in CloudWatch Logs, where CloudWatch Logs
   * decrypts them for the reader. The trail's files in S3 stay readable only by
   * principals you give both S3 access and `auditKey.grantDecrypt`.
   */
  public grantReadLogs(grantee: iam.IGrantable): iam.Grant {
    const statement = this.readLogsStatement(true);
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
    // The heartbeat passes the heartbeat key's denied-requests filter: its alarm counts the rest.
    this.heartbeatKey ??= watched;
    const isHeartbeatKey = this.heartbeatKey === watched;
    const own = createKeyAlarms(watched.key, {
      rules: watched.rules,
      keyName: watched.key.node.path,
      eventMetric: event => isHeartbeatKey && event === KEY_DENIED_REQUESTS
        ? new cloudwatch.MathExpression({
          expression: 'FILL(d, 0) - FILL(h, 0)',
          usingMetrics: { d: this._keyMetric(event.metricName, watched.keyArn), h: this.heartbeat.heartbeat },
          period: Duration.minutes(5),
          label: 'Denied requests',
        })
        : this._keyMetric(event.metricName, watched.keyArn),
    });
    if (watched.alarmTopic && own.length === 0) {
      throw new Error(`alarmTopic is notified by the key's own alarm, which only CONFIDENTIAL and RESTRICTED keys have (denied requests); the trail's shared alarms notify the trail's alarmTopic, got ${watched.alarmTopic.node.path} for a ${watched.classification} key`);
    }
    for (const alarm of own) this._notify(alarm, watched.alarmTopic);
    // The shared alarms leave the heartbeat key out: its own changes alarm watches it.
    const shared = this.sharedAlarmsFor(watched.importedMaterial);
    return [...isHeartbeatKey ? [this.heartbeatKeyChangesAlarm, ...shared.slice(3)] : shared, ...own];
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

  /**
   * The CIS 3.7 / 4.7 filter and alarm, which Security Hub CloudWatch.7 looks for on
   * the trail's log group, where the CloudTrail records themselves are.
   */
  private watchTrailLogGroup(logGroup: logs.ILogGroup): void {
    const cisFilter = new logs.MetricFilter(this, 'KeyDisabledOrScheduledForDeletion', {
      logGroup,
      filterPattern: logs.FilterPattern.literal(CIS_KEY_DISABLED_OR_DELETED_PATTERN),
      metricNamespace: this.metricNamespace,
      metricName: 'KeyDisabledOrScheduledForDeletion',
      metricValue: '1',
    });
    this.cisAlarm = new cloudwatch.Alarm(this, 'KeyDisabledOrScheduledForDeletionAlarm', {
      alarmDescription: `CIS 3.7 / 4.7: a KMS key of account ${Stack.of(this).account} was disabled or scheduled for deletion`,
      metric: cisFilter.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      actionsEnabled: true,
    });
    this._notify(this.cisAlarm);
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

  /** Why a trail with no key to describe has no heartbeat: at validation, and if its ARN is resolved regardless. */
  private noHeartbeatKey(): string {
    return `the KeyAuditTrail ${this.node.path} watches no key and has no audit key, so its heartbeat has no key to describe: give it no alarmTopic, or pass it to a key as auditTrail`;
  }

  /** How alarm descriptions name the keys a trail watches. */
  private where(): string {
    const stack = Stack.of(this);
    return `account ${stack.account} in ${stack.region}`;
  }

  /** Reading the library's audit log groups, and the existing trail's for the readers you name. */
  private readLogsStatement(withExisting: boolean): iam.PolicyStatement {
    const groups = () => [...this.readableLogGroups, ...withExisting && this.existingLogGroup ? [this.existingLogGroup] : []];
    return new iam.PolicyStatement({
      // Logs Insights also needs logs:GetQueryResults, which AWS authorizes only on
      // all resources; it is left to the reader's own policies.
      actions: ['logs:DescribeLogStreams', 'logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:StartQuery'],
      // The trail's log group joins when the trail is created, once the app is complete.
      resources: Lazy.list({ produce: () => groups().map(group => group.logGroupArn) }) as unknown as string[],
    });
  }
}

// Keys given no auditTrail are watched by their stack's.
installDefaultWatcher(scope => KeyAuditTrail.of(scope));
