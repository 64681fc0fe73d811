/*
 * Proves that the alarms fire for the right key, and only for it, and that the audit
 * watch's heartbeat proves the path from the trail to every filter. Sample CloudTrail
 * records go where the synthesized template sends them, as AWS would:
 *
 * - to the trail's log group, as they are (the organization's multi-Region trail
 *   records every call), where the CIS filter reads them;
 * - to the default event bus of the Region where the call happened, as EventBridge
 *   events; the watch's rule (its EventPattern, evaluated with
 *   test/support/event-pattern.ts, and its State) sends those it matches to its
 *   target, the watch's log group, where the per-key and heartbeat filters read them.
 *
 * The filters (test/support/filter-pattern.ts) make datapoints at the records' times,
 * and each alarm of the template is evaluated at NOW over its own periods: the
 * Metrics Insights queries of the shared alarms (one contributor per key, with their
 * WHERE clause), the metric math alarms of the heartbeat, and the keys' own alarms.
 * The heartbeat is the schedule of the template: its target, role and input make the
 * records, one every 15 minutes for the two hours before NOW unless a test says so.
 */
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { ClassifiedKey, DataClassification, KeyAuditTrail } from '../src';
import { ACCOUNT, ADMIN, APP, REGION, eventBridgeEvent, heartbeatRecord, kmsEvent, viaService } from './support/cloudtrail';
import { matchesEventPattern } from './support/event-pattern';
import { matchesFilterPattern, selectField } from './support/filter-pattern';
import { newBareStack, newStack } from './support/stack';

/** Template and record JSON, read loosely. */
type Json = any;

interface Datapoint {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly value: number;
  /** When, in epoch milliseconds: the log event's time. */
  readonly time: number;
}

/** A log event: the message, parsed, and its timestamp. */
interface LogEvent {
  readonly message: Json;
  readonly time: number;
}

/** What each alarm reports: the contributors in ALARM (key ARNs or IDs), or `ALARM` for a single-series alarm. */
type Firing = Record<string, string[]>;

const MINUTE = 60_000;
/** When the alarms are evaluated. The records of a test happen at 12:00:00 (kmsEvent's eventTime), in the last 5 minutes. */
const NOW = Date.parse('2024-05-01T12:05:00Z');
/** The last heartbeat before NOW, by default: in the same 5 minutes as the test's records. */
const LAST_HEARTBEAT = Date.parse('2024-05-01T12:00:00Z');

/** What happens, for `SampleAccount.evaluate`. */
interface Scenario {
  /** KMS's own metrics (with their `time`, or at 12:00:00). */
  readonly kmsMetrics?: Array<Omit<Datapoint, 'time'> & { time?: number }>;
  /** The heartbeat schedule's records: by default `heartbeats()`. */
  readonly heartbeats?: Json[];
  /** Changes the template's resources (a copy) before anything is evaluated: deletes a filter, disables the rule... */
  readonly change?: (resources: Record<string, Json>) => void;
}

class SampleAccount {
  public readonly keys: Record<string, ClassifiedKey>;
  public readonly trail: KeyAuditTrail;
  private readonly template: Json;

  constructor(private readonly stack: Stack, keys: (stack: Stack) => Record<string, ClassifiedKey>) {
    this.keys = keys(stack);
    this.trail = KeyAuditTrail.of(stack);
    this.template = Template.fromStack(stack).toJSON();
  }

  /** The ID KMS would give a key: made up, one per logical id. */
  public keyId(name: string): string {
    return keyIdOf(this.logicalIdOf(this.keys[name]));
  }

  public keyArn(name: string): string {
    return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${this.keyId(name)}`;
  }

  /** A KMS event on one of the keys. */
  public event(eventName: string, name: string, fields: Json = {}): Json {
    return kmsEvent(eventName, {
      requestParameters: { keyId: this.keyId(name) },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: this.keyArn(name) }],
      ...fields,
    });
  }

  /** The construct path of an alarm (or any construct), below the stack, as `evaluate` names it. */
  public pathOf(construct: IConstruct): string {
    return construct.node.path.replace(new RegExp(`^${this.stack.stackName}/`), '');
  }

  /** The only heartbeat schedule of the template. */
  private schedule(): Json {
    const schedules = Object.values<Json>(this.template.Resources).filter(r => r.Type === 'AWS::Scheduler::Schedule');
    if (schedules.length !== 1) throw new Error(`expected one schedule, found ${schedules.length}`);
    return schedules[0].Properties;
  }

  /** The key the schedule describes: its input's KeyId. */
  public heartbeatKeyArn(): string {
    return JSON.parse(this.resolve(this.schedule().Target.Input)).KeyId;
  }

  /**
   * The records of the template's heartbeat: the schedule's API call (its universal
   * target), with its input, as its role, at its rate, over the two hours before NOW.
   * `fields` changes them (an error, another caller).
   */
  public heartbeats(options: { last?: number; since?: number; fields?: Json } = {}): Json[] {
    const schedule = this.schedule();
    expect([schedule.State, schedule.FlexibleTimeWindow.Mode]).toEqual(['ENABLED', 'OFF']);
    const rate = /^rate\((\d+) minutes?\)$/.exec(schedule.ScheduleExpression);
    const target = /^arn:aws:scheduler:::aws-sdk:(\w+):(\w+)$/.exec(this.resolve(schedule.Target.Arn));
    if (!rate || !target) throw new Error(`not a schedule this evaluator knows: ${JSON.stringify(schedule)}`);
    const [, service, action] = target;
    const eventName = action[0].toUpperCase() + action.slice(1);
    expect([service, eventName]).toEqual(['kms', 'DescribeKey']);
    const roleArn = this.resolve(schedule.Target.RoleArn);
    const records: Json[] = [];
    for (let time = options.last ?? LAST_HEARTBEAT; time >= (options.since ?? NOW - 120 * MINUTE); time -= Number(rate[1]) * MINUTE) {
      records.push(heartbeatRecord(this.heartbeatKeyArn(), roleArn, { eventTime: new Date(time).toISOString().replace('.000Z', 'Z'), ...options.fields }));
    }
    return records;
  }

  /** The construct path of a resource, below the stack. */
  private pathOfResource(logicalId: string): string {
    const construct = this.stack.node.findAll().find(c => CfnElement.isCfnElement(c) && this.stack.getLogicalId(c) === logicalId)!;
    return this.pathOf(construct).replace(/\/Resource$/, '');
  }

  /** The logical id of the resource at a construct path below the stack (an L2's default child). */
  public logicalIdAt(path: string): string {
    const construct = this.stack.node.findAll().find(c => this.pathOf(c) === path);
    if (!construct) throw new Error(`no construct at ${path}`);
    return this.logicalIdOf(construct);
  }

  private logicalIdOf(construct: IConstruct): string {
    const element = CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
    return this.stack.getLogicalId(element as CfnElement);
  }

  /** Names the key of an ARN or ID, for readable expectations. */
  public nameOf(contributor: string): string {
    const name = Object.keys(this.keys).find(n => contributor === this.keyArn(n) || contributor === this.keyId(n));
    return name ?? contributor;
  }

  /**
   * Delivers the records (and the heartbeats) where the template sends them, runs the
   * log groups through the template's metric filters, adds KMS's own metrics, and
   * evaluates every alarm at NOW.
   */
  public evaluate(records: Json[], scenario: Scenario = {}): Firing {
    const resources: Record<string, Json> = JSON.parse(JSON.stringify(this.template.Resources));
    scenario.change?.(resources);
    const all = [...records, ...(scenario.heartbeats ?? this.heartbeats())];
    const logGroups = this.deliver(all, resources);

    const datapoints: Datapoint[] = (scenario.kmsMetrics ?? []).map(d => ({ ...d, time: d.time ?? LAST_HEARTBEAT }));
    for (const filter of Object.values(resources).filter(r => r.Type === 'AWS::Logs::MetricFilter')) {
      const pattern = this.resolve(filter.Properties.FilterPattern);
      const [transformation] = filter.Properties.MetricTransformations;
      for (const { message, time } of logGroups.get(this.resolve(filter.Properties.LogGroupName, resources)) ?? []) {
        if (!matchesFilterPattern(pattern, message)) continue;
        const dimensions: Record<string, string> = {};
        for (const { Key, Value } of transformation.Dimensions ?? []) {
          const value = selectField(message, Value);
          if (typeof value !== 'string') throw new Error(`${Value} is not a string in a counted log event: ${JSON.stringify(message)}`);
          dimensions[Key] = value;
        }
        datapoints.push({
          namespace: transformation.MetricNamespace,
          metricName: transformation.MetricName,
          dimensions,
          value: Number(transformation.MetricValue),
          time,
        });
      }
    }
    const firing: Firing = {};
    for (const [logicalId, alarm] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')) {
      const breaching = this.evaluateAlarm(alarm.Properties, datapoints);
      if (breaching.length > 0) firing[this.pathOfResource(logicalId)] = breaching;
    }
    return firing;
  }

  /** The records the rule sends to the watch's log group, by event name. */
  public inWatchLogGroup(records: Json[]): string[] {
    const name = this.resolve(this.stack.resolve(this.trail.eventsLogGroup.logGroupName));
    return (this.deliver(records, this.template.Resources).get(name) ?? []).map(({ message }) => message.detail.eventName);
  }

  /**
   * Where the records go, by log group name: all of them to the trail's log group;
   * those of this account and Region, as EventBridge events, to the default bus,
   * and from there to the targets of the rules that match them.
   * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
   */
  private deliver(records: Json[], resources: Record<string, Json>): Map<string, LogEvent[]> {
    const logGroups = new Map<string, LogEvent[]>();
    const trailLogGroup: string = this.resolve(this.stack.resolve(this.trail.trailLogGroup!.logGroupName), resources);
    // The log groups that exist: the template's, and the trail's, which may be imported.
    const existing = new Set([trailLogGroup, ...Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Logs::LogGroup')
      .map(([logicalId]) => this.resolve({ Ref: logicalId }, resources))]);
    const write = (name: string, event: LogEvent) => {
      if (existing.has(name)) logGroups.set(name, [...logGroups.get(name) ?? [], event]);
    };
    for (const record of records) {
      write(trailLogGroup, { message: record, time: Date.parse(record.eventTime) });
      if (record.awsRegion !== REGION || record.recipientAccountId !== ACCOUNT) continue;
      const event: Json = eventBridgeEvent(record);
      for (const rule of Object.values(resources).filter(r => r.Type === 'AWS::Events::Rule')) {
        if (rule.Properties.EventBusName !== undefined) throw new Error('only rules of the default bus are evaluated');
        if (!receives(rule.Properties.State, event) || !matchesEventPattern(this.resolveDeep(rule.Properties.EventPattern), event)) continue;
        for (const target of rule.Properties.Targets) {
          const logGroup = new RegExp(`^arn:aws:logs:${REGION}:${ACCOUNT}:log-group:(.+)$`).exec(this.resolve(target.Arn));
          if (!logGroup) throw new Error(`not a target this evaluator knows: ${JSON.stringify(target)}`);
          write(logGroup[1], { message: event, time: Date.parse(event.time) });
        }
      }
    }
    return logGroups;
  }

  private evaluateAlarm(props: Json, datapoints: Datapoint[]): string[] {
    const breaches = (value: number) => compare(value, props.ComparisonOperator, props.Threshold);
    const evaluationPeriods: number = props.EvaluationPeriods;
    const toAlarm: number = props.DatapointsToAlarm ?? evaluationPeriods;
    if (!['breaching', 'notBreaching'].includes(props.TreatMissingData)) throw new Error(`not a TreatMissingData this evaluator knows: ${props.TreatMissingData}`);
    /** An alarm (or a contributor) is in ALARM when enough of its periods breach; a missing value breaches as TreatMissingData says. */
    const inAlarm = (values: Array<number | undefined>) =>
      values.filter(v => v === undefined ? props.TreatMissingData === 'breaching' : breaches(v)).length >= toAlarm;

    if (props.Metrics) {
      const returned = props.Metrics.filter((m: Json) => m.ReturnData !== false);
      if (returned.length !== 1 || !returned[0].Expression) throw new Error(`not metrics this evaluator knows: ${JSON.stringify(props.Metrics)}`);
      const expression = this.resolve(returned[0].Expression);
      if (expression.startsWith('SELECT ')) {
        if (props.Metrics.length !== 1) throw new Error(`a query with other metrics: ${JSON.stringify(props.Metrics)}`);
        const series = metricsInsights(expression, datapoints, windows(returned[0].Period * 1000, evaluationPeriods));
        return [...series.entries()].filter(([, values]) => inAlarm(values)).map(([contributor]) => contributor);
      }
      // Metric math over the alarm's other metrics, each a Sum over their common period.
      const stats = props.Metrics.filter((m: Json) => m !== returned[0]);
      const periods = new Set(stats.map((m: Json) => m.MetricStat.Period));
      if (stats.some((m: Json) => !m.MetricStat || m.MetricStat.Stat !== 'Sum') || periods.size !== 1) {
        throw new Error(`not metric math this evaluator knows: ${JSON.stringify(props.Metrics)}`);
      }
      const values = windows([...periods][0] as number * 1000, evaluationPeriods).map(window => {
        const variables: Record<string, number | undefined> = {};
        for (const m of stats) variables[m.Id] = sum(datapoints, this.metricOf(m.MetricStat.Metric), window);
        return evaluateMath(expression, variables);
      });
      return inAlarm(values) ? ['ALARM'] : [];
    }
    if (props.Statistic !== 'Sum') throw new Error(`not a statistic this evaluator knows: ${props.Statistic}`);
    const values = windows(props.Period * 1000, evaluationPeriods).map(window => sum(datapoints, this.metricOf(props), window));
    return inAlarm(values) ? ['ALARM'] : [];
  }

  /** The metric of an alarm or a MetricStat, its dimension values resolved. */
  private metricOf(metric: Json): MetricId {
    const dimensions = Object.fromEntries((metric.Dimensions ?? []).map((d: Json) => [d.Name, this.resolve(d.Value)]));
    return { namespace: metric.Namespace, metricName: metric.MetricName, dimensions };
  }

  /**
   * The value of a template expression, with made-up ARNs for the resources of the
   * stack: keys (one ID per logical id), roles, log groups (by name).
   */
  private resolve(value: Json, resources: Record<string, Json> = this.template.Resources): string {
    if (typeof value === 'string') return value;
    if (value?.['Fn::Join']) {
      const [separator, parts] = value['Fn::Join'];
      return parts.map((part: Json) => this.resolve(part, resources)).join(separator);
    }
    if (value?.Ref) {
      const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT };
      if (pseudo[value.Ref]) return pseudo[value.Ref];
      const resource = resources[value.Ref];
      if (resource?.Type === 'AWS::Logs::LogGroup') return resource.Properties?.LogGroupName ?? value.Ref;
      // A log group deleted by the test: nothing reads or writes it.
      if (!resource && this.template.Resources[value.Ref]?.Type === 'AWS::Logs::LogGroup') return `(deleted ${value.Ref})`;
    }
    const [logicalId, attribute] = value?.['Fn::GetAtt'] ?? [];
    const type = this.template.Resources[logicalId]?.Type;
    if (type === 'AWS::KMS::Key' && attribute === 'Arn') return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyIdOf(logicalId)}`;
    if (type === 'AWS::KMS::Key' && attribute === 'KeyId') return keyIdOf(logicalId);
    if (type === 'AWS::IAM::Role' && attribute === 'Arn') return `arn:aws:iam::${ACCOUNT}:role/${this.stack.stackName}-${logicalId.slice(0, 40)}-1A2B3C4D5E6F`;
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  }

  /** A JSON value with every expression in it resolved. */
  private resolveDeep(value: Json): Json {
    if (Array.isArray(value)) return value.map(v => this.resolveDeep(v));
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) return this.resolve(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolveDeep(v)]));
  }
}

/** The ID KMS would give the key of a logical id: made up. */
function keyIdOf(logicalId: string): string {
  return `0000${Buffer.from(logicalId).toString('hex')}`.slice(-12).padStart(36, 'f');
}

/**
 * Whether a rule in this state receives an event: a rule `ENABLED` receives no
 * read-only management event from CloudTrail, `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` all.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html
 */
function receives(state: string, event: Json): boolean {
  switch (state) {
    case 'DISABLED': return false;
    case 'ENABLED': return event.detail?.readOnly !== true;
    case 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS': return true;
    default: throw new Error(`not a rule state this evaluator knows: ${state}`);
  }
}

interface MetricId {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
}

/** The alarm's periods, oldest first, the last one ending at NOW: [start, end) in epoch milliseconds. */
function windows(period: number, count: number): Array<[number, number]> {
  return Array.from({ length: count }, (_, i) => [NOW - (count - i) * period, NOW - (count - i - 1) * period]);
}

/** The Sum of a metric over a period: missing when it has no datapoint there. */
function sum(datapoints: Datapoint[], metric: MetricId, [start, end]: [number, number]): number | undefined {
  const matching = datapoints.filter(d => d.namespace === metric.namespace && d.metricName === metric.metricName
    && JSON.stringify(d.dimensions) === JSON.stringify(metric.dimensions) && d.time >= start && d.time < end);
  return matching.length === 0 ? undefined : matching.reduce((total, d) => total + d.value, 0);
}

/**
 * A Metrics Insights query of the forms the alarms use, by contributor, for each
 * period. `SCHEMA(namespace, dim)` takes the metrics with exactly that dimension set;
 * `WHERE dim != 'value'` leaves a series out. A series exists only while it has
 * data: a key with no events in the periods is no contributor.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html
 */
function metricsInsights(query: string, datapoints: Datapoint[], periods: Array<[number, number]>): Map<string, Array<number | undefined>> {
  const parsed = new RegExp(
    '^SELECT (SUM|MIN)\\((\\w+)\\) FROM SCHEMA\\("([^"]+)", (\\w+)\\)(?: WHERE (\\w+) != \'([^\']*)\')? GROUP BY (\\w+) ORDER BY (SUM|MIN)\\(\\) (DESC|ASC)$',
  ).exec(query);
  if (!parsed || parsed[4] !== parsed[7] || parsed[1] !== parsed[8] || (parsed[5] !== undefined && parsed[5] !== parsed[4])) {
    throw new Error(`not a query this evaluator knows: ${query}`);
  }
  const [, fn, metricName, namespace, dimension, , excluded] = parsed;
  const series = new Map<string, Array<number | undefined>>();
  for (const contributor of new Set(datapoints
    .filter(d => d.namespace === namespace && d.metricName === metricName && Object.keys(d.dimensions).join() === dimension)
    .filter(d => d.time >= periods[0][0] && d.time < periods[periods.length - 1][1])
    .map(d => d.dimensions[dimension]))) {
    if (excluded !== undefined && contributor === excluded) continue;
    series.set(contributor, periods.map(([start, end]) => {
      const values = datapoints.filter(d => d.namespace === namespace && d.metricName === metricName
        && Object.keys(d.dimensions).join() === dimension && d.dimensions[dimension] === contributor && d.time >= start && d.time < end)
        .map(d => d.value);
      if (values.length === 0) return undefined;
      return fn === 'SUM' ? values.reduce((a, b) => a + b, 0) : Math.min(...values);
    }));
  }
  return series;
}

/**
 * A metric math expression of the forms the alarms use, for one period: numbers, the
 * ids of the alarm's metrics, `+`, `-`, `*`, `FILL(x, n)` and `MIN([x, y, ...])`.
 * A metric with no datapoint in the period is missing; arithmetic on a missing value
 * is missing, `FILL` replaces it (choice: in every period, whether or not the metric
 * has data elsewhere in the alarm's range), `MIN` ignores it.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
 */
function evaluateMath(expression: string, variables: Record<string, number | undefined>): number | undefined {
  const tokens = expression.match(/\d+(?:\.\d+)?|\w+|[-+*(),[\]]|\S/g) ?? [];
  let pos = 0;
  const next = () => tokens[pos++];
  const expect_ = (token: string) => {
    if (next() !== token) throw new Error(`expected '${token}' at token ${pos - 1} of ${expression}`);
  };
  const arithmetic = (a: number | undefined, b: number | undefined, f: (x: number, y: number) => number) =>
    a === undefined || b === undefined ? undefined : f(a, b);

  function sumExpression(): number | undefined {
    let value = product();
    while (tokens[pos] === '+' || tokens[pos] === '-') {
      const op = next();
      const right = product();
      value = arithmetic(value, right, op === '+' ? (x, y) => x + y : (x, y) => x - y);
    }
    return value;
  }
  function product(): number | undefined {
    let value = factor();
    while (tokens[pos] === '*') {
      next();
      value = arithmetic(value, factor(), (x, y) => x * y);
    }
    return value;
  }
  function factor(): number | undefined {
    const token = next();
    if (token === undefined) throw new Error(`unexpected end of ${expression}`);
    if (/^\d/.test(token)) return Number(token);
    if (token === 'FILL') {
      expect_('(');
      const value = sumExpression();
      expect_(',');
      const filler = Number(next());
      expect_(')');
      return value ?? filler;
    }
    if (token === 'MIN' || token === 'MAX') {
      expect_('(');
      expect_('[');
      const values = [sumExpression()];
      while (tokens[pos] === ',') {
        next();
        values.push(sumExpression());
      }
      expect_(']');
      expect_(')');
      const present = values.filter((v): v is number => v !== undefined);
      return present.length === 0 ? undefined : token === 'MIN' ? Math.min(...present) : Math.max(...present);
    }
    if (/^\w+$/.test(token) && token in variables) return variables[token];
    throw new Error(`not metric math this evaluator knows: '${token}' in ${expression}`);
  }

  const value = sumExpression();
  if (pos !== tokens.length) throw new Error(`unexpected '${tokens[pos]}' in ${expression}`);
  return value;
}

function compare(value: number, operator: string, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanOrEqualToThreshold': return value >= threshold;
    case 'GreaterThanThreshold': return value > threshold;
    case 'LessThanThreshold': return value < threshold;
    default: throw new Error(`not an operator this evaluator knows: ${operator}`);
  }
}

/**
 * The account of most tests: an organization trail's log group and alarm topic, so
 * no audit key. The heartbeat describes the first key of the stack, a CONFIDENTIAL
 * key of its own here, so that the other four keys are watched as any key is.
 */
const account = new SampleAccount(newStack(), stack => ({
  heartbeat: new ClassifiedKey(stack, 'Heartbeat', { classification: DataClassification.CONFIDENTIAL }),
  internal: new ClassifiedKey(stack, 'Internal', { classification: DataClassification.INTERNAL }),
  public: new ClassifiedKey(stack, 'Public', { classification: DataClassification.PUBLIC, importKeyMaterial: true }),
  confidential: new ClassifiedKey(stack, 'Confidential', { classification: DataClassification.CONFIDENTIAL }),
  restricted: new ClassifiedKey(stack, 'Restricted', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] }),
}));

/** The alarms that fire, and the keys they name. */
function fired(records: Json[], scenario: Scenario = {}, sample: SampleAccount = account): Record<string, string[]> {
  const firing = sample.evaluate(records, scenario);
  return Object.fromEntries(Object.entries(firing).map(([alarm, contributors]) => [alarm, contributors.map(c => sample.nameOf(c))]));
}

function denied(name: string, count: number, sample: SampleAccount = account): Json[] {
  return Array.from({ length: count }, () => sample.event('Decrypt', name, {
    userIdentity: APP,
    readOnly: true,
    errorCode: 'AccessDenied',
    errorMessage: `User: ${APP.arn} is not authorized to perform: kms:Decrypt on resource: ${sample.keyArn(name)}`,
  }));
}

/** Deletes the resource at a construct path from the template. */
function without(path: string, sample: SampleAccount = account): (resources: Record<string, Json>) => void {
  const logicalId = sample.logicalIdAt(path);
  return resources => {
    if (!resources[logicalId]) throw new Error(`no resource ${logicalId}`);
    delete resources[logicalId];
  };
}

/** Changes the only rule of the template. */
function withRule(change: (properties: Json) => void): (resources: Record<string, Json>) => void {
  return resources => {
    const rules = Object.values(resources).filter(r => r.Type === 'AWS::Events::Rule');
    if (rules.length !== 1) throw new Error(`expected one rule, found ${rules.length}`);
    change(rules[0].Properties);
  };
}

const SHARED_STATE = 'KeyAuditTrail/KeyStateChangesAlarm';
const SHARED_ACCESS = 'KeyAuditTrail/KeyPolicyOrGrantChangesAlarm';
const SHARED_ALIAS_OR_TAG = 'KeyAuditTrail/KeyAliasOrTagChangesAlarm';
const EXPIRY = 'KeyAuditTrail/KeyMaterialExpiryAlarm';
const CIS = 'KeyAuditTrail/KeyDisabledOrScheduledForDeletionAlarm';
const STOPPED = account.pathOf(account.trail.auditEventsStoppedAlarm);
const HEARTBEAT_CHANGES = account.pathOf(account.trail.heartbeatKeyChangesAlarm);
const HEARTBEAT_DENIED = 'Heartbeat/DeniedRequestsAlarm';

describe('alarms fire for the right key', () => {
  test('nothing happens but the heartbeat: nothing fires', () => {
    expect(fired([])).toEqual({});
  });

  test.each(['internal', 'public', 'confidential', 'restricted'])('the %s key disabled: the state alarm names it, and CIS fires', (name) => {
    expect(fired([account.event('DisableKey', name)])).toEqual({ [SHARED_STATE]: [name], [CIS]: ['ALARM'] });
  });

  test('two keys scheduled for deletion: two contributors', () => {
    const records = [account.event('ScheduleKeyDeletion', 'internal'), account.event('ScheduleKeyDeletion', 'restricted')];
    expect(fired(records)).toEqual({ [SHARED_STATE]: ['internal', 'restricted'], [CIS]: ['ALARM'] });
  });

  test('rotation turned off is a state change of that key only', () => {
    expect(fired([account.event('DisableKeyRotation', 'confidential')])).toEqual({ [SHARED_STATE]: ['confidential'] });
  });

  test.each(['internal', 'public', 'confidential', 'restricted'])('the %s key\'s policy changed: the access alarm names it', (name) => {
    expect(fired([account.event('PutKeyPolicy', name)])).toEqual({ [SHARED_ACCESS]: [name] });
  });

  test('a grant a person creates names the key; a grant an AWS service creates for its resource does not', () => {
    expect(fired([account.event('CreateGrant', 'restricted')])).toEqual({ [SHARED_ACCESS]: ['restricted'] });
    expect(fired([account.event('CreateGrant', 'restricted', viaService('rds.amazonaws.com'))])).toEqual({});
  });

  test('a tag changed and an alias created name the key', () => {
    expect(fired([account.event('UntagResource', 'confidential')])).toEqual({ [SHARED_ALIAS_OR_TAG]: ['confidential'] });
    const alias = account.event('CreateAlias', 'public', {
      requestParameters: { aliasName: 'alias/orders', targetKeyId: account.keyId('public') },
      responseElements: { keyId: account.keyArn('public') },
    });
    expect(fired([alias])).toEqual({ [SHARED_ALIAS_OR_TAG]: ['public'] });
  });

  test.each([
    ['confidential', 10, 'Confidential/DeniedRequestsAlarm'],
    ['restricted', 3, 'Restricted/DeniedRequestsAlarm'],
  ])('the %s key\'s own alarm fires above %d denied requests in 5 minutes, and no other key\'s', (name, threshold, alarm) => {
    expect(fired(denied(name as string, threshold as number))).toEqual({});
    expect(fired(denied(name as string, (threshold as number) + 1))).toEqual({ [alarm as string]: ['ALARM'] });
  });

  test('denied requests on INTERNAL and PUBLIC keys raise no alarm, however many', () => {
    expect(fired([...denied('internal', 500), ...denied('public', 500)])).toEqual({});
  });

  test('denied requests on one key do not add up with another\'s', () => {
    expect(fired([...denied('confidential', 8), ...denied('restricted', 3)])).toEqual({});
  });

  test('a denied DisableKey is a denied request, not a state change', () => {
    const refused = account.event('DisableKey', 'restricted', { errorCode: 'AccessDenied', errorMessage: 'not authorized' });
    expect(fired([refused])).toEqual({ [CIS]: ['ALARM'] });
    expect(fired([refused, ...denied('restricted', 3)])).toEqual({ [CIS]: ['ALARM'], 'Restricted/DeniedRequestsAlarm': ['ALARM'] });
  });

  test('the same key ID in another Region is that Region\'s watch\'s to count', () => {
    const elsewhere = account.event('PutKeyPolicy', 'internal', {
      awsRegion: 'eu-west-1',
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: account.keyArn('internal').replace(REGION, 'eu-west-1') }],
    });
    expect(fired([elsewhere])).toEqual({});
  });

  test('events of an earlier 5 minutes are past', () => {
    expect(fired([account.event('PutKeyPolicy', 'internal', { eventTime: '2024-05-01T11:59:59Z' })])).toEqual({});
  });

  test('imported material expiring within 30 days: the expiry alarm names the key by its ID', () => {
    const expiry = (name: string, days: number) => ({
      namespace: 'AWS/KMS',
      metricName: 'SecondsUntilKeyMaterialExpiration',
      dimensions: { KeyId: account.keyId(name) },
      value: days * 86400,
    });
    expect(fired([], { kmsMetrics: [expiry('public', 31)] })).toEqual({});
    expect(fired([], { kmsMetrics: [expiry('public', 29)] })).toEqual({ [EXPIRY]: ['public'] });
  });
});

describe('the heartbeat proves the watch works', () => {
  test('the schedule describes the first key of the stack, as the heartbeat role', () => {
    expect(account.heartbeatKeyArn()).toBe(account.keyArn('heartbeat'));
    expect(account.heartbeats()).toHaveLength(8);
  });

  test('heartbeats arrive: nothing fires; they stop: only the stopped alarm fires', () => {
    expect(fired([])).toEqual({});
    expect(fired([], { heartbeats: [] })).toEqual({ [STOPPED]: ['ALARM'] });
  });

  test('the stopped alarm waits for two hours without a heartbeat', () => {
    // Missing in the last hour only, or in the first only: not yet.
    expect(fired([], { heartbeats: account.heartbeats({ last: NOW - 61 * MINUTE }) })).toEqual({});
    expect(fired([], { heartbeats: account.heartbeats({ since: NOW - 60 * MINUTE }) })).toEqual({});
    // One heartbeat an hour is enough.
    expect(fired([], { heartbeats: [...account.heartbeats({ since: NOW - 60 * MINUTE }).slice(-1), ...account.heartbeats().slice(-1)] })).toEqual({});
  });

  test('the heartbeat and changes of other keys together: the other keys are named, no heartbeat alarm fires', () => {
    const records = [account.event('PutKeyPolicy', 'internal'), account.event('TagResource', 'restricted'), ...denied('confidential', 11)];
    expect(fired(records)).toEqual({
      [SHARED_ACCESS]: ['internal'],
      [SHARED_ALIAS_OR_TAG]: ['restricted'],
      'Confidential/DeniedRequestsAlarm': ['ALARM'],
    });
  });

  test('the rule sends the watch\'s log group the heartbeat and what the filters count, not every use of a key', () => {
    const records = [
      account.event('Decrypt', 'restricted', { userIdentity: APP, readOnly: true }),
      account.event('GenerateDataKey', 'restricted', { ...viaService('s3.amazonaws.com'), readOnly: true }),
      account.event('DescribeKey', 'heartbeat', { readOnly: true }),
      account.event('PutKeyPolicy', 'internal'),
      ...denied('public', 1),
      ...account.heartbeats().slice(-1),
    ];
    expect(account.inWatchLogGroup(records)).toEqual(['PutKeyPolicy', 'Decrypt', 'DescribeKey']);
  });

  test.each([
    'KeyAuditTrail/KeyStateChanges',
    'KeyAuditTrail/KeyPolicyOrGrantChanges',
    'KeyAuditTrail/KeyTagChanges',
    'KeyAuditTrail/KeyDeniedRequests',
  ])('the filter %s deleted (or disabled by CloudWatch Logs): the stopped alarm fires', (filter) => {
    expect(fired([], { change: without(filter) })).toEqual({ [STOPPED]: ['ALARM'] });
  });

  test('the heartbeat filter deleted: the stopped alarm fires, and the heartbeat key\'s counts, no longer offset, raise its changes alarm', () => {
    expect(fired([], { change: without('KeyAuditTrail/HeartbeatFilter') })).toEqual({ [STOPPED]: ['ALARM'], [HEARTBEAT_CHANGES]: ['ALARM'] });
  });

  test('the alias filter is the one the heartbeat cannot prove: deleted, nothing fires', () => {
    // The heartbeat has no responseElements.keyId, where the alias filter reads its key.
    expect(fired([], { change: without('KeyAuditTrail/KeyAliasChanges') })).toEqual({});
  });

  test.each<[string, (resources: Record<string, Json>) => void]>([
    ['the rule deleted', without('KeyAuditTrail/EventsRule')],
    ['the rule disabled', withRule(rule => { rule.State = 'DISABLED'; })],
    ['the rule sending to another log group', withRule(rule => { rule.Targets[0].Arn = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:elsewhere`; })],
    ['the rule without the heartbeat in its pattern', withRule(rule => { rule.EventPattern.detail.$or.pop(); })],
    ['the watch\'s log group deleted', without('KeyAuditTrail/EventsLogGroup')],
  ])('%s: the stopped alarm fires', (_name, change) => {
    expect(fired([], { change })).toEqual({ [STOPPED]: ['ALARM'] });
  });

  test('a rule that receives no read-only calls (State ENABLED) misses the heartbeat and denied Decrypts', () => {
    const change = withRule(rule => { rule.State = 'ENABLED'; });
    expect(fired(denied('restricted', 4), { change })).toEqual({ [STOPPED]: ['ALARM'] });
    expect(fired(denied('restricted', 4))).toEqual({ 'Restricted/DeniedRequestsAlarm': ['ALARM'] });
  });

  test('the heartbeat denied (the role lost kms:DescribeKey): the stopped alarm fires', () => {
    const refused = account.heartbeats({ fields: { errorCode: 'AccessDenied', errorMessage: 'not authorized' } });
    expect(fired([], { heartbeats: refused })).toEqual({ [STOPPED]: ['ALARM'] });
  });

  test('the heartbeat key deleted (DescribeKey fails): the stopped alarm fires', () => {
    const failed = account.heartbeats({ fields: { errorCode: 'NotFoundException', errorMessage: 'does not exist', resources: undefined } });
    expect(fired([], { heartbeats: failed })).toEqual({ [STOPPED]: ['ALARM'] });
  });

  test('anyone else describing the heartbeat key every 15 minutes is no heartbeat', () => {
    for (const identity of [ADMIN, APP]) {
      const others = account.heartbeats().map(record => ({ ...record, userIdentity: identity }));
      expect(fired([], { heartbeats: others })).toEqual({ [STOPPED]: ['ALARM'] });
    }
  });

  test('the trail stopped in this Region (calls recorded elsewhere only): the stopped alarm fires', () => {
    const elsewhere = account.heartbeats().map(record => ({ ...record, awsRegion: 'eu-west-1' }));
    expect(fired([], { heartbeats: elsewhere })).toEqual({ [STOPPED]: ['ALARM'] });
  });
});

describe('the heartbeat key is watched by an alarm of its own', () => {
  test('its policy changed: the heartbeat key\'s alarm fires, not the shared one; the heartbeat alone does not', () => {
    expect(fired([])).toEqual({});
    expect(fired([account.event('PutKeyPolicy', 'heartbeat')])).toEqual({ [HEARTBEAT_CHANGES]: ['ALARM'] });
  });

  test.each([
    ['disabled', () => account.event('DisableKey', 'heartbeat'), { [CIS]: ['ALARM'] }],
    ['scheduled for deletion', () => account.event('ScheduleKeyDeletion', 'heartbeat'), { [CIS]: ['ALARM'] }],
    ['rotation turned off', () => account.event('DisableKeyRotation', 'heartbeat'), {}],
    ['a grant created by a person', () => account.event('CreateGrant', 'heartbeat'), {}],
    ['a grant revoked', () => account.event('RevokeGrant', 'heartbeat'), {}],
    ['tagged', () => account.event('TagResource', 'heartbeat'), {}],
    ['given an alias', () => account.event('CreateAlias', 'heartbeat', {
      requestParameters: { aliasName: 'alias/heartbeat', targetKeyId: account.keyId('heartbeat') },
      responseElements: { keyId: account.keyArn('heartbeat') },
    }), {}],
  ])('%s: the heartbeat key\'s alarm fires', (_name, record, others) => {
    expect(fired([record()])).toEqual({ [HEARTBEAT_CHANGES]: ['ALARM'], ...others });
  });

  test.each([
    ['in the same 5 minutes as a heartbeat', LAST_HEARTBEAT],
    ['in 5 minutes without a heartbeat', LAST_HEARTBEAT - 8 * MINUTE],
  ])('a change %s is a change', (_name, last) => {
    const heartbeats = account.heartbeats({ last });
    expect(fired([], { heartbeats })).toEqual({});
    expect(fired([account.event('PutKeyPolicy', 'heartbeat')], { heartbeats })).toEqual({ [HEARTBEAT_CHANGES]: ['ALARM'] });
  });

  test('a grant an AWS service creates for its resource is no change', () => {
    expect(fired([account.event('CreateGrant', 'heartbeat', viaService('rds.amazonaws.com'))])).toEqual({});
  });

  test('the shared alarms leave out the heartbeat key only', () => {
    const records = [account.event('DisableKey', 'heartbeat'), account.event('DisableKey', 'internal')];
    expect(fired(records)).toEqual({ [SHARED_STATE]: ['internal'], [HEARTBEAT_CHANGES]: ['ALARM'], [CIS]: ['ALARM'] });
  });

  test('its denied-requests alarm does not count the heartbeat: it fires above its threshold of denied requests', () => {
    expect(fired(denied('heartbeat', 10))).toEqual({});
    expect(fired(denied('heartbeat', 11))).toEqual({ [HEARTBEAT_DENIED]: ['ALARM'] });
    expect(fired(denied('heartbeat', 11), { heartbeats: account.heartbeats({ last: LAST_HEARTBEAT - 8 * MINUTE }) })).toEqual({ [HEARTBEAT_DENIED]: ['ALARM'] });
  });

  test('another key\'s changes do not raise the heartbeat key\'s alarm', () => {
    expect(fired([account.event('PutKeyPolicy', 'confidential'), account.event('TagResource', 'confidential')]))
      .toEqual({ [SHARED_ACCESS]: ['confidential'], [SHARED_ALIAS_OR_TAG]: ['confidential'] });
  });
});

describe('with an audit key, the heartbeat describes it', () => {
  /** A stack with no organization trail: the KeyAuditTrail has an audit key, watched first. */
  const audited = new SampleAccount(newBareStack(), stack => {
    const data = new ClassifiedKey(stack, 'Data', { classification: DataClassification.INTERNAL });
    return { audit: KeyAuditTrail.of(stack).auditKey!, data };
  });

  test('the schedule describes the audit key', () => {
    expect(audited.heartbeatKeyArn()).toBe(audited.keyArn('audit'));
  });

  test('heartbeats arrive: nothing fires; they stop: only the stopped alarm fires', () => {
    expect(fired([], {}, audited)).toEqual({});
    expect(fired([], { heartbeats: [] }, audited)).toEqual({ [audited.pathOf(audited.trail.auditEventsStoppedAlarm)]: ['ALARM'] });
  });

  test('the audit key\'s policy changed: its own alarm fires; the data key\'s: the shared alarm names it', () => {
    expect(fired([audited.event('PutKeyPolicy', 'audit')], {}, audited)).toEqual({ [audited.pathOf(audited.trail.heartbeatKeyChangesAlarm)]: ['ALARM'] });
    expect(fired([audited.event('PutKeyPolicy', 'data')], {}, audited)).toEqual({ [SHARED_ACCESS]: ['data'] });
  });

  test('the audit key\'s denied requests, less the heartbeat, raise its own alarm', () => {
    const alarm = audited.pathOf(audited.keys.audit.node.findChild('DeniedRequestsAlarm'));
    expect(fired(denied('audit', 10, audited), {}, audited)).toEqual({});
    expect(fired(denied('audit', 11, audited), {}, audited)).toEqual({ [alarm]: ['ALARM'] });
  });
});
