/*
 * Proves that the alarms fire for the right key, and only for it: sample CloudTrail
 * records go through the metric filters of the synthesized template (evaluated with
 * test/support/filter-pattern.ts), the resulting datapoints are summed over one
 * 5-minute period as CloudWatch would, and each alarm of the template is evaluated on
 * them: the Metrics Insights queries of the trail's shared alarms (one contributor per
 * key), and the keys' own alarms on their dimension.
 */
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ClassifiedKey, DataClassification } from '../src';
import { ACCOUNT, APP, REGION, kmsEvent, viaService } from './support/cloudtrail';
import { matchesFilterPattern, selectField } from './support/filter-pattern';
import { newStack } from './support/stack';

/** Template and record JSON, read loosely. */
type Json = any;

interface Datapoint {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly value: number;
}

/** What each alarm reports: the contributors in ALARM (key ARNs or IDs), or `ALARM` for a single-series alarm. */
type Firing = Record<string, string[]>;

class SampleAccount {
  public readonly keys: Record<string, ClassifiedKey>;
  private readonly template: Json;
  private readonly stack: Stack;

  constructor() {
    this.stack = newStack();
    this.keys = {
      internal: new ClassifiedKey(this.stack, 'Internal', { classification: DataClassification.INTERNAL }),
      public: new ClassifiedKey(this.stack, 'Public', { classification: DataClassification.PUBLIC, importKeyMaterial: true }),
      confidential: new ClassifiedKey(this.stack, 'Confidential', { classification: DataClassification.CONFIDENTIAL }),
      restricted: new ClassifiedKey(this.stack, 'Restricted', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] }),
    };
    this.template = Template.fromStack(this.stack).toJSON();
  }

  /** The ID KMS would give a key: made up, one per logical id. */
  public keyId(name: string): string {
    const logicalId = this.stack.getLogicalId(this.keys[name].node.defaultChild as any);
    return `0000${Buffer.from(logicalId).toString('hex')}`.slice(-12).padStart(36, 'f');
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

  /**
   * Runs the records through the template's metric filters, adds KMS's own metrics,
   * and evaluates every alarm on one 5-minute period.
   */
  public evaluate(records: Json[], kmsMetrics: Datapoint[] = []): Firing {
    const resources: Record<string, Json> = this.template.Resources;
    const datapoints: Datapoint[] = [...kmsMetrics];
    for (const filter of Object.values(resources).filter(r => r.Type === 'AWS::Logs::MetricFilter')) {
      const pattern = filter.Properties.FilterPattern;
      if (typeof pattern !== 'string') throw new Error(`filter pattern is not a string: ${JSON.stringify(pattern)}`);
      const [transformation] = filter.Properties.MetricTransformations;
      for (const record of records.filter(r => matchesFilterPattern(pattern, r))) {
        const dimensions: Record<string, string> = {};
        for (const { Key, Value } of transformation.Dimensions ?? []) dimensions[Key] = String(selectField(record, Value));
        datapoints.push({
          namespace: transformation.MetricNamespace,
          metricName: transformation.MetricName,
          dimensions,
          value: Number(transformation.MetricValue),
        });
      }
    }
    const firing: Firing = {};
    for (const [logicalId, alarm] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')) {
      const path = this.pathOf(logicalId);
      const breaching = this.evaluateAlarm(alarm.Properties, datapoints);
      if (breaching.length > 0) firing[path] = breaching;
    }
    return firing;
  }

  /** The construct path of a resource, below the stack. */
  private pathOf(logicalId: string): string {
    const construct = this.stack.node.findAll().find(c => CfnElement.isCfnElement(c) && this.stack.getLogicalId(c) === logicalId)!;
    return construct.node.path.replace(/^TestStack\//, '').replace(/\/Resource$/, '');
  }

  /** Names the key of an ARN or ID, for readable expectations. */
  public nameOf(contributor: string): string {
    const name = Object.keys(this.keys).find(n => contributor === this.keyArn(n) || contributor === this.keyId(n));
    return name ?? contributor;
  }

  private evaluateAlarm(props: Json, datapoints: Datapoint[]): string[] {
    const breaches = (value: number) => compare(value, props.ComparisonOperator, props.Threshold);
    if (props.Metrics) {
      const [query] = props.Metrics;
      const parsed = /^SELECT (SUM|MIN)\((\w+)\) FROM SCHEMA\("([^"]+)", (\w+)\) GROUP BY (\w+) ORDER BY (SUM|MIN)\(\) (DESC|ASC)$/.exec(query.Expression);
      if (!parsed || parsed[4] !== parsed[5] || parsed[1] !== parsed[6] || props.Metrics.length !== 1) {
        throw new Error(`not a query this evaluator knows: ${JSON.stringify(props.Metrics)}`);
      }
      const [, fn, metricName, namespace, dimension] = parsed;
      // SCHEMA(namespace, dim): only metrics with exactly that dimension set.
      const series = new Map<string, number[]>();
      for (const d of datapoints) {
        if (d.namespace !== namespace || d.metricName !== metricName) continue;
        if (Object.keys(d.dimensions).join() !== dimension) continue;
        const values = series.get(d.dimensions[dimension]) ?? [];
        values.push(d.value);
        series.set(d.dimensions[dimension], values);
      }
      // A series exists only while it has data: a key with no events is no contributor.
      return [...series.entries()]
        .filter(([, values]) => breaches(fn === 'SUM' ? values.reduce((a, b) => a + b, 0) : Math.min(...values)))
        .map(([contributor]) => contributor);
    }
    if (props.Statistic !== 'Sum') throw new Error(`not a statistic this evaluator knows: ${props.Statistic}`);
    const dimensions = Object.fromEntries((props.Dimensions ?? []).map((d: Json) => [d.Name, this.resolve(d.Value)]));
    const matching = datapoints.filter(d => d.namespace === props.Namespace && d.metricName === props.MetricName
      && JSON.stringify(d.dimensions) === JSON.stringify(dimensions));
    // treatMissingData notBreaching: no datapoint, no alarm.
    if (matching.length === 0) return [];
    return breaches(matching.reduce((sum, d) => sum + d.value, 0)) ? ['ALARM'] : [];
  }

  private resolve(value: Json): string {
    if (typeof value === 'string') return value;
    const [logicalId, attribute] = value['Fn::GetAtt'] ?? [];
    const name = Object.keys(this.keys).find(n => this.stack.getLogicalId(this.keys[n].node.defaultChild as any) === logicalId);
    if (name && attribute === 'Arn') return this.keyArn(name);
    if (name && attribute === 'KeyId') return this.keyId(name);
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  }
}

function compare(value: number, operator: string, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanOrEqualToThreshold': return value >= threshold;
    case 'GreaterThanThreshold': return value > threshold;
    case 'LessThanThreshold': return value < threshold;
    default: throw new Error(`not an operator this evaluator knows: ${operator}`);
  }
}

const account = new SampleAccount();

/** The alarms that fire, and the keys they name. */
function fired(records: Json[], kmsMetrics: Datapoint[] = []): Record<string, string[]> {
  const firing = account.evaluate(records, kmsMetrics);
  return Object.fromEntries(Object.entries(firing).map(([alarm, contributors]) => [alarm, contributors.map(c => account.nameOf(c))]));
}

function denied(name: string, count: number): Json[] {
  return Array.from({ length: count }, () => account.event('Decrypt', name, {
    userIdentity: APP,
    readOnly: true,
    errorCode: 'AccessDenied',
    errorMessage: `User: ${APP.arn} is not authorized to perform: kms:Decrypt on resource: ${account.keyArn(name)}`,
  }));
}

const SHARED_STATE = 'KeyAuditTrail/KeyStateChangesAlarm';
const SHARED_ACCESS = 'KeyAuditTrail/KeyPolicyOrGrantChangesAlarm';
const EXPIRY = 'KeyAuditTrail/KeyMaterialExpiryAlarm';
const CIS = 'KeyAuditTrail/KeyDisabledOrScheduledForDeletionAlarm';

describe('alarms fire for the right key', () => {
  test('nothing happens: nothing fires', () => {
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

  test('the same key ID in another Region is that Region\'s trail\'s to count', () => {
    const elsewhere = account.event('PutKeyPolicy', 'internal', {
      awsRegion: 'eu-west-1',
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: account.keyArn('internal').replace(REGION, 'eu-west-1') }],
    });
    expect(fired([elsewhere])).toEqual({});
  });

  test('imported material expiring within 30 days: the expiry alarm names the key by its ID', () => {
    const expiry = (name: string, days: number): Datapoint => ({
      namespace: 'AWS/KMS',
      metricName: 'SecondsUntilKeyMaterialExpiration',
      dimensions: { KeyId: account.keyId(name) },
      value: days * 86400,
    });
    expect(fired([], [expiry('public', 31)])).toEqual({});
    expect(fired([], [expiry('public', 29)])).toEqual({ [EXPIRY]: ['public'] });
  });
});
