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
import { DataClassification, KeyAuditTrail, MultiRegionKeySet, MultiRegionKeySetProps } from '../src';
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

  test('each Region\'s key is watched by the trail and alarms of its own Region, notifying a topic there', () => {
    const { set } = newSet();
    for (const region of set.regions) {
      const key = set.keyIn(region);
      expect(Stack.of(key.auditTrail!).region).toBe(region);
      const template = templateIn(set, region);
      const alarms = Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::CloudWatch::Alarm');
      // The trail's three shared alarms, the audit key's and this key's denied requests.
      expect(key.alarms.map(a => a.node.id)).toEqual(['KeyStateChangesAlarm', 'KeyPolicyOrGrantChangesAlarm', 'KeyAliasOrTagChangesAlarm', 'DeniedRequestsAlarm']);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toHaveLength(1);
        expect(template.Resources[alarm.Properties.AlarmActions[0].Ref].Type).toBe('AWS::SNS::Topic');
      }
      expect(Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::CloudTrail::Trail')).toHaveLength(1);
    }
  });

  test('a Region\'s member can watch through the organization trail\'s log group there: the set creates no trail in it', () => {
    const app = new App();
    const eu = new Stack(app, 'OrdersEu', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const trail = new KeyAuditTrail(eu, 'KeyAuditTrail', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(eu, 'OrgTrail', 'org-trail'),
      alarmTopic: sns.Topic.fromTopicArn(eu, 'Alarms', `arn:aws:sns:eu-west-1:${ACCOUNT}:security-alarms`),
    });
    const { set } = newSet({ stacks: [eu], regionOptions: { 'eu-west-1': { auditTrail: trail } } }, app);
    expect(set.keyIn('eu-west-1').auditTrail).toBe(trail);
    expect(Object.values<any>(templateIn(set, 'eu-west-1').Resources).filter(r => r.Type === 'AWS::CloudTrail::Trail')).toEqual([]);
  });

  test('a set in six Regions would make six multi-Region trails, each counting in every Region: refused at synth', () => {
    const { app } = newSet({ replicaRegions: ['eu-west-1', 'ap-southeast-2', 'us-west-2', 'eu-central-1', 'ca-central-1'] });
    expect(() => app.synth()).toThrow('6 KeyAuditTrails create multi-Region trails in account 111111111111');
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
