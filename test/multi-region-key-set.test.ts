/**
 * MultiRegionKeySet: one stack per Region, a multi-Region primary and its replicas,
 * each with its own policy, alias, tags and alarms; how the primary's ARN reaches
 * the replica stacks; and every bad input refused at synth naming the prop.
 */
import { App, CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ClassifiedKey, DataClassification, KeyAuditTrail, MultiRegionKeySet, MultiRegionKeySetProps } from '../src';
import { ACCOUNT } from './support/stack';

const BASE: MultiRegionKeySetProps = {
  account: ACCOUNT,
  primaryRegion: 'us-east-1',
  replicaRegions: ['eu-west-1', 'ap-southeast-2'],
  classification: DataClassification.CONFIDENTIAL,
  viaServices: ['dynamodb'],
};

function newSet(props: Partial<MultiRegionKeySetProps> = {}, app = new App()) {
  const set = new MultiRegionKeySet(app, 'Orders', { ...BASE, ...props });
  return { app, set };
}

const templateIn = (set: MultiRegionKeySet, region: string) => Template.fromStack(set.stackIn(region)).toJSON();
const logicalId = (construct: { node: { defaultChild?: unknown } }) => {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).getLogicalId(element);
};
const resourcesOfType = (template: any, type: string): any[] => Object.values<any>(template.Resources).filter(r => r.Type === type);

/**
 * The metric namespaces an alarm reads: of its metric, of the metrics of its math
 * expression, and of its Metrics Insights query (`SCHEMA("<namespace>", ...)`); and
 * whether any of them names another account or Region.
 */
function metricsReadBy(alarm: any): { namespaces: string[]; elsewhere: boolean } {
  const namespaces = new Set<string>();
  let elsewhere = false;
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(/SCHEMA\("([^"]+)"/g)) namespaces.add(match[1]);
    } else if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (value && typeof value === 'object') {
      for (const [name, child] of Object.entries(value)) {
        if (name === 'AccountId' || name === 'Region') elsewhere = true;
        if (name === 'Namespace' && typeof child === 'string') namespaces.add(child);
        else walk(child);
      }
    }
  };
  walk(alarm.Properties);
  return { namespaces: [...namespaces].sort(), elsewhere };
}

describe('the stacks', () => {
  test('one per Region, in the set\'s account, named after the set; the replicas\' depend on the primary\'s', () => {
    const { set } = newSet();
    expect(set.regions).toEqual(['us-east-1', 'eu-west-1', 'ap-southeast-2']);
    for (const region of set.regions) {
      const stack = set.stackIn(region);
      expect([stack.stackName, stack.account, stack.region]).toEqual([`Orders-${region}`, ACCOUNT, region]);
    }
    expect(set.stackIn('us-east-1').dependencies).toEqual([]);
    expect(set.stackIn('eu-west-1').dependencies).toEqual([set.stackIn('us-east-1')]);
    expect(set.stackIn('ap-southeast-2').dependencies).toEqual([set.stackIn('us-east-1')]);
  });

  test('stacks the user has are used, and the set adds the missing ones', () => {
    const app = new App();
    const mine = new Stack(app, 'PaymentsEu', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const { set } = newSet({ stacks: [mine] }, app);
    expect(set.stackIn('eu-west-1')).toBe(mine);
    expect(set.keyIn('eu-west-1').node.scope).toBe(mine);
    expect(set.stackIn('us-east-1').stackName).toBe('Orders-us-east-1');
    expect(mine.dependencies).toEqual([set.stackIn('us-east-1')]);
  });

  test('in a Stage, the stacks are the stage\'s', () => {
    const app = new App();
    const stage = new Stage(app, 'Prod');
    const set = new MultiRegionKeySet(stage, 'Orders', BASE);
    expect(Stage.of(set.stackIn('eu-west-1'))).toBe(stage);
    expect(app.synth().getNestedAssembly('assembly-Prod').stacks.map(s => s.stackName).sort())
      .toEqual(['Prod-Orders-ap-southeast-2', 'Prod-Orders-eu-west-1', 'Prod-Orders-us-east-1']);
  });
});

describe('the members', () => {
  test('the primary is a multi-Region key with the rotation; each replica a ReplicaKey of it without', () => {
    const { set } = newSet({ rotationPeriod: Duration.days(120) });
    const primary = templateIn(set, 'us-east-1').Resources[logicalId(set.primaryKey)];
    expect(primary.Type).toBe('AWS::KMS::Key');
    expect(primary.Properties).toMatchObject({ MultiRegion: true, EnableKeyRotation: true, RotationPeriodInDays: 120 });
    expect(set.replicaKeys.map(k => Stack.of(k).region)).toEqual(['eu-west-1', 'ap-southeast-2']);
    for (const region of ['eu-west-1', 'ap-southeast-2']) {
      const template = templateIn(set, region);
      const replica = template.Resources[logicalId(set.keyIn(region))];
      expect(replica.Type).toBe('AWS::KMS::ReplicaKey');
      expect(replica.Properties).not.toHaveProperty('EnableKeyRotation');
      // The primary's ARN comes from the lookup in this stack: no cross-Region reference.
      expect(replica.Properties.PrimaryKeyArn).toEqual({ 'Fn::GetAtt': ['OrdersPrimaryKey', 'Arn'] });
      // ...which reads it from the primary stack's output, not from an alias anyone allowed UpdateAlias could move.
      expect(template.Resources.OrdersPrimaryKey).toMatchObject({
        Type: 'Custom::KmsPrimaryKeyLookup',
        Properties: {
          PrimaryRegion: 'us-east-1',
          PrimaryStackName: 'Orders-us-east-1',
          OutputName: 'OrdersPrimaryKeyArn',
          Account: ACCOUNT,
          KeyKind: 'SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/AWS_KMS',
        },
      });
      const primaryTemplate = Template.fromStack(set.stackIn('us-east-1')).toJSON();
      const primaryId = Object.keys(primaryTemplate.Resources).find(id => primaryTemplate.Resources[id].Type === 'AWS::KMS::Key' && primaryTemplate.Resources[id].Properties.MultiRegion);
      expect(primaryTemplate.Outputs.OrdersPrimaryKeyArn.Value).toEqual({ 'Fn::GetAtt': [primaryId, 'Arn'] });
      expect(JSON.stringify(template)).not.toMatch(/Fn::ImportValue|ExportsReader|ssm:/);
    }
  });

  test('a new key spec replaces the primary, and the lookup then remakes every replica from the new one', () => {
    const before = templateIn(newSet().set, 'eu-west-1').Resources.OrdersPrimaryKey.Properties;
    const hmac = newSet({ keySpec: kms.KeySpec.HMAC_256, viaServices: undefined, classification: DataClassification.INTERNAL }).set;
    const after = templateIn(hmac, 'eu-west-1').Resources.OrdersPrimaryKey.Properties;
    expect(before.KeyKind).toBe('SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/AWS_KMS');
    expect(after.KeyKind).toBe('HMAC_256/GENERATE_VERIFY_MAC/AWS_KMS');
  });

  test('every member is kept when it leaves its stack, unless the set opts in', () => {
    const kept = newSet().set;
    for (const region of kept.regions) {
      expect(templateIn(kept, region).Resources[logicalId(kept.keyIn(region))]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
    const destroyed = newSet({ removalPolicy: RemovalPolicy.DESTROY, pendingWindow: Duration.days(7) }).set;
    const replica = templateIn(destroyed, 'eu-west-1').Resources[logicalId(destroyed.keyIn('eu-west-1'))];
    expect(replica).toMatchObject({ DeletionPolicy: 'Delete', Properties: { PendingWindowInDays: 7 } });
  });

  test('alias, description, tags and alarm topic are per Region; classification and owner are the set\'s', () => {
    const app = new App();
    const topicStack = new Stack(app, 'EuAlarms', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const topic = new sns.Topic(topicStack, 'Topic');
    const { set } = newSet({
      owner: 'payments-team',
      stacks: [topicStack],
      regionOptions: { 'eu-west-1': { alias: 'alias/orders-eu', description: 'EU orders', tags: { residency: 'eu' }, alarmTopic: topic } },
    }, app);
    const eu = templateIn(set, 'eu-west-1');
    const replica = eu.Resources[logicalId(set.keyIn('eu-west-1'))];
    expect(replica.Properties.Description).toBe('EU orders');
    expect(replica.Properties.Tags).toEqual(expect.arrayContaining([
      { Key: 'data-classification', Value: 'confidential' }, { Key: 'owner', Value: 'payments-team' }, { Key: 'residency', Value: 'eu' },
    ]));
    const aliases = (template: any) => Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::KMS::Alias').map(r => r.Properties.AliasName);
    expect(aliases(eu)).toContain('alias/orders-eu');
    expect(aliases(templateIn(set, 'us-east-1'))).toContain('alias/confidential/Orders');
    const denied = eu.Resources[logicalId(set.keyIn('eu-west-1').alarms.find(a => a.node.id === 'DeniedRequestsAlarm')!)];
    expect(denied.Properties.AlarmActions).toEqual([{ Ref: logicalId(topic) }]);
    const primaryDescription = templateIn(set, 'us-east-1').Resources[logicalId(set.primaryKey)].Properties.Description;
    expect(primaryDescription).toBe('CONFIDENTIAL multi-Region key Orders in us-east-1, managed by cdk-kms-constructs');
  });

  test('each Region\'s key is watched by the watch and alarms of its own Region\'s stack, notifying a topic there; one stack has the account\'s trail', () => {
    const { set } = newSet();
    const withTrail: string[] = [];
    for (const region of set.regions) {
      const key = set.keyIn(region);
      const auditTrail = key.auditTrail!;
      expect(Stack.of(auditTrail)).toBe(set.stackIn(region));
      const template = templateIn(set, region);
      // The stack's own watch: its rule, log group and heartbeat alarm.
      expect(resourcesOfType(template, 'AWS::Events::Rule')).toHaveLength(1);
      expect(template.Resources[logicalId(auditTrail.eventsLogGroup)].Properties.LogGroupName).toBe(`/aws/events/kms-key-audit/Orders-${region}`);
      expect(template.Resources[logicalId(auditTrail.auditEventsStoppedAlarm)].Type).toBe('AWS::CloudWatch::Alarm');
      const alarms = Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::CloudWatch::Alarm');
      // The trail's three shared alarms, the audit key's and this key's denied requests.
      expect(key.alarms.map(a => a.node.id)).toEqual(['KeyStateChangesAlarm', 'KeyPolicyOrGrantChangesAlarm', 'KeyAliasOrTagChangesAlarm', 'DeniedRequestsAlarm']);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toHaveLength(1);
        expect(template.Resources[alarm.Properties.AlarmActions[0].Ref].Type).toBe('AWS::SNS::Topic');
      }
      const trails = resourcesOfType(template, 'AWS::CloudTrail::Trail');
      expect(trails.length).toBeLessThanOrEqual(1);
      // The trail and its CIS alarm come together, or not at all.
      expect(auditTrail.trail !== undefined).toBe(trails.length === 1);
      expect(auditTrail.keyDisabledOrDeletedAlarm !== undefined).toBe(trails.length === 1);
      if (trails.length === 1) withTrail.push(region);
    }
    // The account's one trail, in its alphabetically-first Region: not the primary's.
    expect(withTrail).toEqual(['ap-southeast-2']);
  });

  test('the context value cdk-kms-constructs:trailHomeRegion moves the account\'s trail to that Region\'s stack', () => {
    const { set } = newSet({}, new App({ context: { 'cdk-kms-constructs:trailHomeRegion': 'us-east-1' } }));
    const withTrail = set.regions.filter(region => resourcesOfType(templateIn(set, region), 'AWS::CloudTrail::Trail').length > 0);
    expect(withTrail).toEqual(['us-east-1']);
    expect(set.keyIn('us-east-1').auditTrail!.trail).toBeDefined();
    expect(set.keyIn('ap-southeast-2').auditTrail!.trail).toBeUndefined();
  });

  test('a Region\'s member can watch through the organization trail\'s log group there: no stack of the account creates a trail', () => {
    const app = new App();
    const eu = new Stack(app, 'OrdersEu', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const trail = new KeyAuditTrail(eu, 'KeyAuditTrail', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(eu, 'OrgTrail', 'org-trail'),
      alarmTopic: sns.Topic.fromTopicArn(eu, 'Alarms', `arn:aws:sns:eu-west-1:${ACCOUNT}:security-alarms`),
    });
    const { set } = newSet({ stacks: [eu], regionOptions: { 'eu-west-1': { auditTrail: trail } } }, app);
    expect(set.keyIn('eu-west-1').auditTrail).toBe(trail);
    for (const region of set.regions) {
      const template = templateIn(set, region);
      // The account has a trail: none is created, in this Region or any other; every Region still has its watch.
      expect(resourcesOfType(template, 'AWS::CloudTrail::Trail')).toEqual([]);
      expect(resourcesOfType(template, 'AWS::S3::Bucket')).toEqual([]);
      expect(resourcesOfType(template, 'AWS::Events::Rule')).toHaveLength(1);
    }
    // The CIS alarm watches the organization trail's log group.
    expect(trail.trailLogGroup?.logGroupName).toBe('org-trail');
    expect(trail.keyDisabledOrDeletedAlarm).toBeDefined();
  });

  test('sets of three and six Regions and a ClassifiedKey stack in one account: one trail, and every stack watches its own Region', () => {
    const app = new App();
    const orders = newSet({}, app).set;
    const payments = new MultiRegionKeySet(app, 'Payments', {
      ...BASE,
      primaryRegion: 'eu-west-1',
      replicaRegions: ['us-east-1', 'ap-northeast-1', 'us-west-2', 'eu-central-1', 'ca-central-1'],
    });
    const keysStack = new Stack(app, 'Keys', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const key = new ClassifiedKey(keysStack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    // The six-Region set synthesizes, with the rest.
    const assembly = app.synth();
    expect(assembly.stacks.map(s => s.stackName).sort()).toEqual([
      'Keys',
      ...orders.regions.map(r => `Orders-${r}`),
      ...payments.regions.map(r => `Payments-${r}`),
    ].sort());

    const members = [
      ...orders.regions.map(region => orders.keyIn(region)),
      ...payments.regions.map(region => payments.keyIn(region)),
      key,
    ];
    expect(members).toHaveLength(10);
    const withTrail: string[] = [];
    for (const member of members) {
      const stack = Stack.of(member);
      const template = Template.fromStack(stack).toJSON();
      const auditTrail = member.auditTrail!;
      expect(Stack.of(auditTrail)).toBe(stack);
      // Its own watch: rule, heartbeat alarm, and the shared alarms of the member.
      expect(resourcesOfType(template, 'AWS::Events::Rule')).toHaveLength(1);
      expect(template.Resources[logicalId(auditTrail.auditEventsStoppedAlarm)].Type).toBe('AWS::CloudWatch::Alarm');
      const shared = [auditTrail.keyStateChangesAlarm, auditTrail.keyPolicyOrGrantChangesAlarm, auditTrail.keyAliasOrTagChangesAlarm];
      shared.forEach((alarm, i) => expect(member.alarms[i]).toBe(alarm));
      for (const alarm of member.alarms) {
        expect(Stack.of(alarm)).toBe(stack);
        expect(template.Resources[logicalId(alarm as any)].Type).toBe('AWS::CloudWatch::Alarm');
      }
      // Every alarm reads metrics its own stack's filters write, from a log group of that stack.
      const filters = resourcesOfType(template, 'AWS::Logs::MetricFilter');
      const written = new Set(filters.flatMap(f => f.Properties.MetricTransformations.map((t: any) => t.MetricNamespace)));
      expect([...written]).toEqual([`KmsKeyAudit/${stack.stackName}`]);
      for (const filter of filters) {
        expect(template.Resources[filter.Properties.LogGroupName.Ref].Type).toBe('AWS::Logs::LogGroup');
      }
      for (const alarm of resourcesOfType(template, 'AWS::CloudWatch::Alarm')) {
        const read = metricsReadBy(alarm);
        expect(read.elsewhere).toBe(false);
        expect(read.namespaces).toEqual([`KmsKeyAudit/${stack.stackName}`]);
      }
      expect(JSON.stringify(template)).not.toMatch(/Fn::ImportValue/);
      const trails = resourcesOfType(template, 'AWS::CloudTrail::Trail');
      if (trails.length > 0) withTrail.push(...trails.map(() => stack.stackName));
      expect(auditTrail.trail !== undefined).toBe(trails.length > 0);
    }
    // One trail for the account: in its alphabetically-first Region, which only the six-Region set has.
    expect(withTrail).toEqual(['Payments-ap-northeast-1']);
  });

  test('imported material: every member is EXTERNAL through its primary, and its administrators import', () => {
    const { set } = newSet({ importKeyMaterial: true, classification: DataClassification.INTERNAL, viaServices: undefined });
    expect(templateIn(set, 'us-east-1').Resources[logicalId(set.primaryKey)].Properties.Origin).toBe('EXTERNAL');
    const replica = templateIn(set, 'eu-west-1').Resources[logicalId(set.keyIn('eu-west-1'))];
    const importing = replica.Properties.KeyPolicy.Statement.find((s: any) => s.Sid === 'KeyMaterialImport');
    expect(importing.Action).toEqual(expect.arrayContaining(['kms:ImportKeyMaterial', 'kms:GetParametersForImport']));
  });
});

describe('keyArnForRegion', () => {
  const globalTable = (scope: Stack, set: MultiRegionKeySet) => new dynamodb.TableV2(scope, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    replicas: [{ region: 'eu-west-1' }, { region: 'ap-southeast-2' }],
    encryption: dynamodb.TableEncryptionV2.customerManagedKey(set.primaryKey, {
      'eu-west-1': set.keyArnForRegion('eu-west-1'),
      'ap-southeast-2': set.keyArnForRegion('ap-southeast-2'),
    }),
  });

  test('a TableV2 global table in a stack of its own: key ARNs from its Region\'s member, deployed after every key', () => {
    const { app, set } = newSet();
    const tables = new Stack(app, 'Tables', { env: { account: ACCOUNT, region: 'us-east-1' } });
    globalTable(tables, set);
    const assembly = app.synth();
    const template = Template.fromStack(tables).toJSON();
    const table = Object.values<any>(template.Resources).find(r => r.Type === 'AWS::DynamoDB::GlobalTable');
    const eu = table.Properties.Replicas.find((r: any) => r.Region === 'eu-west-1');
    // The primary's key ID, imported within us-east-1: a multi-Region key's ID is the same in every Region.
    expect(eu.SSESpecification.KMSMasterKeyId['Fn::Join'][1][0]).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/`);
    expect(JSON.stringify(eu.SSESpecification.KMSMasterKeyId['Fn::Join'][1][1])).toMatch(/Fn::ImportValue.*Orders-us-east-1/);
    expect(assembly.getStackArtifact(tables.artifactId).dependencies.map(d => d.id).sort())
      .toEqual(['Orders-ap-southeast-2', 'Orders-eu-west-1', 'Orders-us-east-1', 'Tables.assets']);
  });

  test('in the primary\'s own stack, naming a replica is an error: the replicas are deployed after it', () => {
    const { app, set } = newSet();
    globalTable(set.stackIn('us-east-1'), set);
    expect(() => app.synth()).toThrow(/the key is used by Orders-us-east-1\/Table\/Resource \(AWS::DynamoDB::GlobalTable\), whose stack Orders-us-east-1 is deployed before this key's stack Orders-eu-west-1, which depends on it: put the resource in a stack of its own in us-east-1/);
  });

  test('in a replica\'s stack it is written from that replica', () => {
    const { set } = newSet();
    const stack = set.stackIn('eu-west-1');
    const output = new CfnOutput(stack, 'PrimaryArn', { value: set.keyArnForRegion('us-east-1') });
    expect(stack.resolve(output.value)).toEqual({
      'Fn::Join': ['', [`arn:aws:kms:us-east-1:${ACCOUNT}:key/`, { 'Fn::GetAtt': [logicalId(set.keyIn('eu-west-1')), 'KeyId'] }]],
    });
  });

  test('in a stack of a Region or account outside the set it is an error naming the stack', () => {
    const { app, set } = newSet();
    const other = new Stack(app, 'Other', { env: { account: ACCOUNT, region: 'eu-central-1' } });
    new CfnOutput(other, 'Arn', { value: set.keyArnForRegion('eu-west-1') });
    expect(() => app.synth()).toThrow("keyArnForRegion('eu-west-1') of Orders was used in Other (account 111111111111, Region eu-central-1), which is not in the set's account and Regions");
  });
});

describe('bad input fails at synth, naming the prop and the value', () => {
  test.each<[string, Partial<MultiRegionKeySetProps>, string]>([
    ['a replica in the primary Region', { replicaRegions: ['eu-west-1', 'us-east-1'] }, 'replicaRegions must not include primaryRegion: a Region holds one member of the set, got us-east-1'],
    ['a duplicated Region', { replicaRegions: ['eu-west-1', 'eu-west-1'] }, 'replicaRegions must name each Region once, got eu-west-1 twice'],
    ['an unknown Region', { replicaRegions: ['eu-west-9'] }, 'replicaRegions must be an AWS Region known at synth, as us-east-1, got eu-west-9'],
    ['an unknown primary Region', { primaryRegion: 'moon-1' }, 'primaryRegion must be an AWS Region known at synth, as us-east-1, got moon-1'],
    ['a Region of another partition', { replicaRegions: ['cn-north-1'] }, 'replicaRegions must be in the primary\'s partition (aws, of us-east-1), got cn-north-1 in aws-cn'],
    ['no replica', { replicaRegions: [] }, 'replicaRegions must name at least one Region: a set without a replica is a ClassifiedKey, got []'],
    ['a malformed account', { account: '1234' }, 'account must be a 12-digit AWS account ID known at synth (every member of the set is in it), got 1234'],
    ['a key spec the Regions do not offer', { keySpec: kms.KeySpec.SM2, keyUsage: kms.KeyUsage.SIGN_VERIFY, viaServices: undefined, encryptionContextKeys: undefined, classification: DataClassification.INTERNAL }, 'keySpec SM2 is offered only in the China Regions, got it for us-east-1, eu-west-1, ap-southeast-2'],
    ['options of a Region not in the set', { regionOptions: { 'eu-central-1': { alias: 'alias/x' } } }, 'regionOptions must name Regions of the set (us-east-1, eu-west-1, ap-southeast-2), got eu-central-1'],
    ['a bad alias of one Region', { regionOptions: { 'eu-west-1': { alias: 'orders' } } }, 'regionOptions.eu-west-1.alias'],
    ['a tag that would relabel a member', { regionOptions: { 'eu-west-1': { tags: { 'data-classification': 'public' } } } }, 'regionOptions.eu-west-1.tags must not set "data-classification", which the construct writes from its own props'],
    ['an AWS tag', { regionOptions: { 'eu-west-1': { tags: { 'aws:owner': 'x' } } } }, 'regionOptions.eu-west-1.tags keys must not start with aws:, which AWS reserves, got "aws:owner"'],
    ['a tag value too long', { regionOptions: { 'eu-west-1': { tags: { team: 'x'.repeat(257) } } } }, 'regionOptions.eu-west-1.tags.team must be at most 256 characters as a tag value, got 257'],
    ['rotation the key spec cannot take', { keySpec: kms.KeySpec.HMAC_256, enableKeyRotation: true, viaServices: undefined, classification: DataClassification.INTERNAL }, 'enableKeyRotation'],
  ])('%s', (_name, props, message) => {
    expect(() => newSet(props)).toThrow(message);
  });

  test('a set inside a stack', () => {
    const app = new App();
    const stack = new Stack(app, 'Inside');
    expect(() => new MultiRegionKeySet(stack, 'Orders', BASE)).toThrow('scope must be an App or a Stage, to which the set adds a stack per Region, got Inside, which is in stack Inside');
  });

  test.each<[string, (app: App) => Stack[], string]>([
    ['a stack of another Region', app => [new Stack(app, 'S', { env: { account: ACCOUNT, region: 'eu-central-1' } })], 'stacks: S must be in one of the set\'s Regions (us-east-1, eu-west-1, ap-southeast-2), got Region eu-central-1'],
    ['a stack of another account', app => [new Stack(app, 'S', { env: { account: '222222222222', region: 'eu-west-1' } })], 'stacks: S must be in the set\'s account 111111111111: multi-Region keys are never cross-account, got account 222222222222'],
    ['two stacks for one Region', app => ['A', 'B'].map(id => new Stack(app, id, { env: { account: ACCOUNT, region: 'eu-west-1' } })), 'stacks: B is a second stack for eu-west-1: the set has one member per Region, got A too'],
    ['an env-agnostic stack', app => [new Stack(app, 'S')], 'stacks: S must be in one of the set\'s Regions'],
  ])('%s', (_name, stacks, message) => {
    const app = new App();
    expect(() => newSet({ stacks: stacks(app) }, app)).toThrow(message);
  });

  test('keyIn, stackIn and keyArnForRegion of a Region outside the set', () => {
    const { set } = newSet();
    expect(() => set.keyIn('eu-central-1')).toThrow('region must be one of the set\'s Regions (us-east-1, eu-west-1, ap-southeast-2), got eu-central-1');
    expect(() => set.stackIn('eu-central-1')).toThrow('got eu-central-1');
    expect(() => set.keyArnForRegion('eu-central-1')).toThrow('got eu-central-1');
  });

  test('monitoring off for a CONFIDENTIAL set is refused as for any key', () => {
    expect(() => newSet({ monitoring: false })).toThrow('monitoring must not be false for a CONFIDENTIAL key, got false');
  });
});
