/**
 * The key policies of a MultiRegionKeySet, evaluated in every Region with
 * iam-simulate for the calls AWS documents:
 *
 * - the separation of every member: its user uses, its admin manages and cannot use,
 *   the account's IAM principals and another account cannot use;
 * - a grant on one Region's member holds in that Region's policy, through that
 *   Region's service endpoint only;
 * - `kms:ReplicateKey` on the primary, for the replica Regions' deploy roles only,
 *   into the set's Regions only (`kms:ReplicaRegion`);
 * - `kms:UpdatePrimaryRegion` only on opt-in, for one principal on every member (the
 *   call needs it on the primary and the replica), to the set's Regions only
 *   (`kms:PrimaryRegion`);
 * - the primary Region's deploy role creating a DynamoDB global table whose replicas
 *   use the replica keys;
 * - the lookup's role describing the primary through its alias, and nothing else.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-auth.html
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_UpdatePrimaryRegion.html
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { DataClassification, MultiRegionKeySet, MultiRegionKeySetProps } from '../src';
import { PolicySimulator } from './support/policy-sim';
import { ACCOUNT, OTHER_ACCOUNT } from './support/stack';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
const deployRole = (region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${region}`;
const MFA = { 'aws:MultiFactorAuthPresent': 'true' };

interface Built {
  readonly set: MultiRegionKeySet;
  readonly readers: Map<string, iam.Role>;
}

function build(props: Partial<MultiRegionKeySetProps> = {}): Built {
  const app = new App();
  const set = new MultiRegionKeySet(app, 'Orders', {
    account: ACCOUNT,
    primaryRegion: 'us-east-1',
    replicaRegions: ['eu-west-1', 'ap-southeast-2'],
    classification: DataClassification.CONFIDENTIAL,
    viaServices: ['dynamodb'],
    userRoleAssumedBy: new iam.AccountRootPrincipal(),
    ...props,
  });
  // A grant on one member only: the EU reader.
  const readers = new Map<string, iam.Role>();
  const reader = new iam.Role(set.stackIn('eu-west-1'), 'EuReader', { assumedBy: new iam.AccountRootPrincipal() });
  set.keyIn('eu-west-1').grantDecrypt(reader);
  readers.set('eu-west-1', reader);
  // The global table in a stack of its own, deployed after every Region's key.
  new dynamodb.TableV2(new Stack(app, 'Tables', { env: { account: ACCOUNT, region: 'us-east-1' } }), 'OrdersTable', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    replicas: [{ region: 'eu-west-1' }, { region: 'ap-southeast-2' }],
    encryption: dynamodb.TableEncryptionV2.customerManagedKey(set.primaryKey, {
      'eu-west-1': set.keyArnForRegion('eu-west-1'),
      'ap-southeast-2': set.keyArnForRegion('ap-southeast-2'),
    }),
  });
  app.synth();
  return { set, readers };
}

const idOf = (construct: { node: { defaultChild?: unknown } }) => {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).getLogicalId(element);
};

class Member {
  public readonly sim: PolicySimulator;
  public readonly keyArn: string;
  constructor(public readonly set: MultiRegionKeySet, public readonly region: string) {
    const stack = set.stackIn(region);
    this.sim = PolicySimulator.fromStack(stack);
    this.keyArn = this.sim.keyArn(idOf(set.keyIn(region)));
  }

  public role(role: iam.IRole): string {
    return this.sim.roleArn(idOf(role as iam.Role));
  }

  public async decide(principalArn: string, action: string, context: Record<string, string> = {}, identityPolicies = true) {
    return this.sim.simulate({
      principalArn,
      action,
      resourceArn: this.keyArn,
      context,
      ...(identityPolicies ? {} : { includeTemplateIdentityPolicies: false }),
    });
  }

  public via(service: string, region = this.region): Record<string, string> {
    return { 'kms:ViaService': `${service}.${region}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };
  }
}

describe('in every Region, the separation of the set\'s member', () => {
  const built = build();
  test.each(REGIONS)('%s: the user uses through DynamoDB; the admin manages with MFA and never decrypts; nobody else decrypts', async region => {
    const m = new Member(built.set, region);
    const key = built.set.keyIn(region);
    const user = m.role(key.userRole);
    const admin = m.role(key.adminRole);
    expect(await m.decide(user, 'kms:Decrypt', m.via('dynamodb'))).toBe('Allowed');
    expect(await m.decide(user, 'kms:Decrypt')).not.toBe('Allowed');
    expect(await m.decide(user, 'kms:ScheduleKeyDeletion', m.via('dynamodb'))).not.toBe('Allowed');
    expect(await m.decide(admin, 'kms:ScheduleKeyDeletion', MFA)).toBe('Allowed');
    expect(await m.decide(admin, 'kms:PutKeyPolicy', MFA)).toBe('Allowed');
    expect(await m.decide(admin, 'kms:Decrypt', { ...m.via('dynamodb'), ...MFA })).not.toBe('Allowed');
    // The account's IAM principals, whatever their identity policies, and another account.
    const everything = [PolicySimulator.allowPolicy('kms:*')];
    const iamAdmin = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
    expect(await m.sim.simulate({ principalArn: iamAdmin, action: 'kms:Decrypt', resourceArn: m.keyArn, identityPolicies: everything, context: m.via('dynamodb') })).not.toBe('Allowed');
    expect(await m.sim.simulate({ principalArn: iamAdmin, action: 'kms:PutKeyPolicy', resourceArn: m.keyArn, identityPolicies: everything })).not.toBe('Allowed');
    expect(await m.sim.simulate({ principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/Thief`, action: 'kms:Decrypt', resourceArn: m.keyArn, identityPolicies: everything })).not.toBe('Allowed');
    expect(await m.decide(ACCOUNT, 'kms:Decrypt', m.via('dynamodb'))).not.toBe('Allowed');
  });

  test('a grant on one Region\'s member is in that Region\'s policy only, through that Region\'s endpoint', async () => {
    const eu = new Member(built.set, 'eu-west-1');
    const reader = eu.role(built.readers.get('eu-west-1')!);
    expect(await eu.decide(reader, 'kms:Decrypt', eu.via('dynamodb'))).toBe('Allowed');
    expect(await eu.decide(reader, 'kms:Decrypt', eu.via('dynamodb', 'us-east-1'))).not.toBe('Allowed');
    for (const region of ['us-east-1', 'ap-southeast-2']) {
      const other = new Member(built.set, region);
      const sameRole = `arn:aws:iam::${ACCOUNT}:role/${reader.split('/').pop()}`;
      expect(await other.sim.simulate({
        principalArn: sameRole,
        action: 'kms:Decrypt',
        resourceArn: other.keyArn,
        context: other.via('dynamodb'),
        identityPolicies: [PolicySimulator.allowPolicy('kms:Decrypt')],
      })).not.toBe('Allowed');
    }
  });
});

describe('replication', () => {
  const built = build();
  const primary = new Member(built.set, 'us-east-1');

  test.each(['eu-west-1', 'ap-southeast-2'])('the deploy role of %s replicates the primary into its own Region, and no other', async region => {
    expect(await primary.decide(deployRole(region), 'kms:ReplicateKey', { 'kms:ReplicaRegion': region })).toBe('Allowed');
    // Not into another replica Region of the set either: each Region's stack makes its own replica.
    for (const target of ['eu-west-1', 'ap-southeast-2', 'eu-central-1', 'us-west-2', 'us-east-1'].filter(r => r !== region)) {
      expect(await primary.decide(deployRole(region), 'kms:ReplicateKey', { 'kms:ReplicaRegion': target })).not.toBe('Allowed');
    }
    expect(await primary.decide(deployRole(region), 'kms:Decrypt', primary.via('dynamodb'))).not.toBe('Allowed');
  });

  test('nobody else replicates: not the administrators (who would make a key outside the stacks), the primary Region\'s deploy role or a kms:* principal', async () => {
    const admin = primary.role(built.set.primaryKey.adminRole);
    expect(await primary.decide(admin, 'kms:ReplicateKey', { 'kms:ReplicaRegion': 'eu-west-1', ...MFA })).not.toBe('Allowed');
    expect(await primary.decide(deployRole('us-east-1'), 'kms:ReplicateKey', { 'kms:ReplicaRegion': 'eu-west-1' })).not.toBe('Allowed');
    expect(await primary.sim.simulate({
      principalArn: `arn:aws:iam::${ACCOUNT}:role/Administrator`,
      action: 'kms:ReplicateKey',
      resourceArn: primary.keyArn,
      identityPolicies: [PolicySimulator.allowPolicy('kms:*')],
      context: { 'kms:ReplicaRegion': 'eu-west-1' },
    })).not.toBe('Allowed');
  });

  test('a replica cannot be replicated from: its policy has no ReplicateKey', async () => {
    const eu = new Member(built.set, 'eu-west-1');
    expect(await eu.decide(deployRole('ap-southeast-2'), 'kms:ReplicateKey', { 'kms:ReplicaRegion': 'ap-southeast-2' })).not.toBe('Allowed');
  });

  test('the replica Region\'s deploy role may write the replica\'s policy, as ReplicateKey with a policy requires', async () => {
    for (const region of ['eu-west-1', 'ap-southeast-2']) {
      const m = new Member(built.set, region);
      // The deploy role's own policies allow it everything (AdministratorAccess by default).
      const asDeployRole = (arn: string) => m.sim.simulate({
        principalArn: arn, action: 'kms:PutKeyPolicy', resourceArn: m.keyArn, identityPolicies: [PolicySimulator.allowPolicy('kms:*')],
      });
      expect(await asDeployRole(deployRole(region))).toBe('Allowed');
      expect(await asDeployRole(deployRole('us-east-1'))).not.toBe('Allowed');
    }
  });
});

describe('promotion (UpdatePrimaryRegion)', () => {
  test.each(REGIONS)('is denied in %s unless opted in', async region => {
    const m = new Member(build().set, region);
    const admin = m.role(m.set.keyIn(region).adminRole);
    expect(await m.decide(admin, 'kms:UpdatePrimaryRegion', { 'kms:PrimaryRegion': 'eu-west-1', ...MFA })).not.toBe('Allowed');
  });

  test('with allowPrimaryRegionUpdate, the primary\'s admin role may promote on every member, as the call needs, to the set\'s Regions only', async () => {
    const { set } = build({ allowPrimaryRegionUpdate: true });
    const members = REGIONS.map(region => new Member(set, region));
    const operator = members[0].role(set.primaryKey.adminRole);
    for (const m of members) {
      for (const target of REGIONS) {
        expect(await m.decide(operator, 'kms:UpdatePrimaryRegion', { 'kms:PrimaryRegion': target })).toBe('Allowed');
      }
      expect(await m.decide(operator, 'kms:UpdatePrimaryRegion', { 'kms:PrimaryRegion': 'eu-central-1' })).not.toBe('Allowed');
      for (const region of REGIONS) {
        expect(await m.decide(deployRole(region), 'kms:UpdatePrimaryRegion', { 'kms:PrimaryRegion': 'eu-west-1' })).not.toBe('Allowed');
      }
      expect(await m.sim.simulate({
        principalArn: `arn:aws:iam::${ACCOUNT}:role/Administrator`,
        action: 'kms:UpdatePrimaryRegion',
        resourceArn: m.keyArn,
        identityPolicies: [PolicySimulator.allowPolicy('kms:*')],
        context: { 'kms:PrimaryRegion': 'eu-west-1' },
      })).not.toBe('Allowed');
    }
    // A replica's own admin role manages its member, and cannot move the primary.
    const eu = members[1];
    const euAdmin = eu.role(set.keyIn('eu-west-1').adminRole);
    expect(await eu.decide(euAdmin, 'kms:UpdatePrimaryRegion', { 'kms:PrimaryRegion': 'eu-west-1' })).not.toBe('Allowed');
  });
});

describe('a DynamoDB global table in the primary\'s stack, with a replica key per Region', () => {
  const built = build();

  test.each(['eu-west-1', 'ap-southeast-2'])('the primary Region\'s deploy role creates the %s replica through DynamoDB only', async region => {
    const m = new Member(built.set, region);
    const creator = deployRole('us-east-1');
    // DynamoDB documents Region-independent ViaService for global tables.
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
    for (const endpointRegion of [region, 'us-east-1']) {
      const via = m.via('dynamodb', endpointRegion);
      expect(await m.decide(creator, 'kms:DescribeKey', via)).toBe('Allowed');
      expect(await m.decide(creator, 'kms:CreateGrant', { ...via, 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
      expect(await m.decide(creator, 'kms:GenerateDataKey', via)).toBe('Allowed');
    }
    expect(await m.decide(creator, 'kms:Decrypt')).not.toBe('Allowed');
    expect(await m.decide(creator, 'kms:Decrypt', m.via('s3'))).not.toBe('Allowed');
    expect(await m.decide(creator, 'kms:CreateGrant', { ...m.via('dynamodb'), 'kms:GrantIsForAWSResource': 'false' })).not.toBe('Allowed');
    expect(await m.decide(creator, 'kms:ScheduleKeyDeletion')).not.toBe('Allowed');
  });

  test('the primary learns the table as any key learns its consumers in its Region', async () => {
    const m = new Member(built.set, 'us-east-1');
    expect(await m.decide(deployRole('us-east-1'), 'kms:CreateGrant', { ...m.via('dynamodb'), 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
  });
});

describe('the lookup of the primary key in a replica\'s stack', () => {
  const built = build();
  const eu = new Member(built.set, 'eu-west-1');
  const primary = new Member(built.set, 'us-east-1');
  const roleId = eu.sim.logicalIdsOfType('AWS::IAM::Role').find(id => id.includes('PrimaryKeyLookupHandlerRole'))!;
  const lookupRole = eu.sim.roleArn(roleId);
  const identityPolicies = eu.sim.identityPoliciesOf(roleId);

  test('reads the primary stack\'s outputs and describes the primary key, in the primary\'s Region, and does nothing else', async () => {
    const ask = (action: string, resourceArn: string, context: Record<string, string> = {}) => primary.sim.simulate({
      principalArn: lookupRole, action, resourceArn, identityPolicies, context, includeTemplateIdentityPolicies: false,
    });
    const primaryStack = `arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/Orders-us-east-1/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9`;
    expect(await ask('cloudformation:DescribeStacks', primaryStack)).toBe('Allowed');
    expect(await ask('kms:DescribeKey', primary.keyArn)).toBe('Allowed');
    // Not another stack, not a change to the primary's stack, not another Region's keys, no use of the key.
    expect(await ask('cloudformation:DescribeStacks', `arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/Other/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9`)).not.toBe('Allowed');
    expect(await ask('cloudformation:UpdateStack', primaryStack)).not.toBe('Allowed');
    expect(await ask('kms:DescribeKey', primary.keyArn.replace('us-east-1', 'eu-central-1'))).not.toBe('Allowed');
    expect(await ask('kms:Decrypt', primary.keyArn, primary.via('dynamodb'))).not.toBe('Allowed');
  });

  test('its handler and framework roles have one managed policy each, and no inline policy', () => {
    const template = eu.sim as unknown as { resources: Record<string, any> };
    const roles = Object.entries(template.resources).filter(([id, r]) => r.Type === 'AWS::IAM::Role' && id.includes('PrimaryKeyLookup'));
    expect(roles).toHaveLength(2);
    for (const [, role] of roles) expect(role.Properties.Policies).toBeUndefined();
    const policies = Object.entries(template.resources).filter(([id, r]) => r.Type === 'AWS::IAM::ManagedPolicy' && id.includes('PrimaryKeyLookup'));
    expect(policies).toHaveLength(2);
    expect(Object.values(template.resources).filter((r: any) => r.Type === 'AWS::IAM::Policy')).toEqual([]);
  });
});
