/*
 * A key's network perimeter (vpcEndpoints, sourceVpcs), proven by evaluating the
 * synthesized key policy with the context AWS sets: direct calls only through the
 * named endpoints or VPCs, while AWS services acting for a principal
 * (aws:ViaAWSService), service principals and the deploy role keep working, at
 * deploy time and at use, and IAM kms:* gains nothing from inside the perimeter.
 * https://docs.aws.amazon.com/kms/latest/developerguide/vpce-key-policy.html
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { IConstruct } from 'constructs';
import { ClassifiedKey, ClassifiedKeyProps, DataClassification, MultiRegionKeySet } from '../src';
import { ContextValues, PolicySimulator } from './support/policy-sim';
import { ACCOUNT, newStack, REGION } from './support/stack';

const ENDPOINT = 'vpce-0a1b2c3d4e5f67890';
const OTHER_ENDPOINT = 'vpce-0fedcba9876543210';
const VPC = 'vpc-0123456789abcdef0';
const OTHER_VPC = 'vpc-0fedcba98765432ff';
const DEPLOY_ROLE = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`;
const KMS_STAR_ADMIN = `arn:aws:iam::${ACCOUNT}:role/KmsStarAdmin`;
const KMS_STAR = [PolicySimulator.allowPolicy('kms:*')];
const WITH_MFA: ContextValues = { 'aws:MultiFactorAuthPresent': 'true' };
const THROUGH_ENDPOINT: ContextValues = { 'aws:SourceVpce': ENDPOINT, 'aws:SourceVpc': VPC };
const THROUGH_OTHER_ENDPOINT: ContextValues = { 'aws:SourceVpce': OTHER_ENDPOINT, 'aws:SourceVpc': VPC };
const FROM_THE_INTERNET: ContextValues = {};
const VIA_S3: ContextValues = { 'aws:ViaAWSService': 'true', 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };

const idOf = (construct: IConstruct) => Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);

function synthesize(props: Partial<ClassifiedKeyProps>) {
  const stack = newStack();
  const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, ...props });
  new logs.LogGroup(stack, 'Logs', { logGroupName: 'app-logs', encryptionKey: key });
  const userRole = key.userRole;
  const sim = PolicySimulator.fromStack(stack);
  const keyArn = sim.keyArn(idOf(key));
  type Identity = ReturnType<typeof PolicySimulator.allowPolicy>;
  const decide = (principalArn: string, action: string, context: ContextValues, identityPolicies: Identity[] = []) =>
    sim.simulate({ principalArn, action, resourceArn: keyArn, context, identityPolicies });
  return { stack, key, sim, keyArn, decide, userArn: sim.roleArn(idOf(userRole)), adminArn: sim.roleArn(idOf(key.adminRole)) };
}

describe('a key with vpcEndpoints', () => {
  const endpointOf = (stack: Stack) => ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(stack, 'Endpoint', { vpcEndpointId: ENDPOINT, port: 443 });
  let fx: ReturnType<typeof synthesize>;
  beforeAll(() => {
    const stack = newStack();
    fx = synthesize({ vpcEndpoints: [endpointOf(stack)] });
  });

  test('its policy denies every KMS action outside the endpoint, but to AWS services and the policy writers', () => {
    const statement = Template.fromStack(fx.stack).toJSON().Resources[idOf(fx.key)].Properties.KeyPolicy.Statement
      .find((s: { Sid?: string }) => s.Sid === 'DenyOutsideNetworkPerimeter');
    expect(statement).toEqual({
      Sid: 'DenyOutsideNetworkPerimeter',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      // Every action but the reads of the key's settings, which change nothing and use no material.
      NotAction: ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ListKeyPolicies', 'kms:ListResourceTags', 'kms:ListGrants',
        'kms:GetKeyRotationStatus', 'kms:ListKeyRotations'],
      Resource: '*',
      Condition: {
        StringNotEquals: { 'aws:SourceVpce': [ENDPOINT] },
        BoolIfExists: { 'aws:ViaAWSService': 'false', 'aws:PrincipalIsAWSService': 'false' },
        ArnNotEquals: { 'aws:PrincipalArn': expect.anything() },
      },
    });
  });

  test('the user role decrypts through the endpoint, and is EXPLICITLY DENIED through another or from the internet', async () => {
    expect(await fx.decide(fx.userArn, 'kms:Decrypt', THROUGH_ENDPOINT)).toBe('Allowed');
    expect(await fx.decide(fx.userArn, 'kms:Decrypt', THROUGH_OTHER_ENDPOINT)).toBe('ExplicitlyDenied');
    expect(await fx.decide(fx.userArn, 'kms:Decrypt', FROM_THE_INTERNET)).toBe('ExplicitlyDenied');
  });

  test('an AWS service acting for the user role (S3 reading an object) keeps working from its own network', async () => {
    expect(await fx.decide(fx.userArn, 'kms:Decrypt', VIA_S3)).toBe('Allowed');
    expect(await fx.decide(fx.userArn, 'kms:GenerateDataKey', VIA_S3)).toBe('Allowed');
  });

  test('CloudWatch Logs, a service principal, encrypts its log group from AWS\'s network', async () => {
    const asLogs = {
      'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:app-logs`,
    };
    expect(await fx.decide(`logs.${REGION}.amazonaws.com`, 'kms:GenerateDataKey', asLogs)).toBe('Allowed');
  });

  test('at deploy time, the deploy role writes the policy and describes the key from CloudFormation\'s network', async () => {
    // Its identity policy allows what CloudFormation does (the bootstrap's is AdministratorAccess).
    expect(await fx.decide(DEPLOY_ROLE, 'kms:PutKeyPolicy', FROM_THE_INTERNET, KMS_STAR)).toBe('Allowed');
    expect(await fx.decide(DEPLOY_ROLE, 'kms:DescribeKey', FROM_THE_INTERNET, KMS_STAR)).toBe('Allowed');
    // A service creating a grant for its resource, on the deploy role's behalf (DynamoDB creating a table).
    const viaDynamoDb = { 'aws:ViaAWSService': 'true', 'kms:ViaService': `dynamodb.${REGION}.amazonaws.com`, 'kms:GrantIsForAWSResource': 'true', 'kms:CallerAccount': ACCOUNT };
    expect(await fx.decide(DEPLOY_ROLE, 'kms:CreateGrant', viaDynamoDb, KMS_STAR)).not.toBe('ExplicitlyDenied');
  });

  test('the admin role administers through the endpoint only', async () => {
    expect(await fx.decide(fx.adminArn, 'kms:DisableKey', { ...THROUGH_ENDPOINT, ...WITH_MFA })).toBe('Allowed');
    expect(await fx.decide(fx.adminArn, 'kms:DisableKey', { ...FROM_THE_INTERNET, ...WITH_MFA })).toBe('ExplicitlyDenied');
  });

  test('an IAM principal with kms:* gains nothing inside the perimeter, and is EXPLICITLY DENIED outside it', async () => {
    for (const action of ['kms:Decrypt', 'kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion']) {
      expect(await fx.decide(KMS_STAR_ADMIN, action, { ...THROUGH_ENDPOINT, ...WITH_MFA }, KMS_STAR)).not.toBe('Allowed');
      expect(await fx.decide(KMS_STAR_ADMIN, action, { ...FROM_THE_INTERNET, ...WITH_MFA }, KMS_STAR)).toBe('ExplicitlyDenied');
    }
  });
});

describe('a key\'s settings stay readable from AWS\'s network', () => {
  test('AWS Config\'s role, the audit heartbeat and a replica\'s lookup read the settings from outside; nothing else passes', async () => {
    const stack = newStack();
    const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(stack, 'Endpoint', { vpcEndpointId: ENDPOINT, port: 443 });
    const fx = synthesize({ vpcEndpoints: [endpoint] });
    const configRole = `arn:aws:iam::${ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`;
    const reads = ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:ListResourceTags'];
    for (const action of reads) expect(await fx.decide(configRole, action, FROM_THE_INTERNET, KMS_STAR)).toBe('Allowed');
    for (const action of ['kms:Decrypt', 'kms:DisableKey', 'kms:PutKeyPolicy']) {
      expect(await fx.decide(configRole, action, FROM_THE_INTERNET, KMS_STAR)).toBe('ExplicitlyDenied');
    }
  });
});

describe('a key with sourceVpcs', () => {
  let fx: ReturnType<typeof synthesize>;
  beforeAll(() => {
    const stack = newStack();
    fx = synthesize({ sourceVpcs: [ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: VPC, availabilityZones: ['us-east-1a'] })] });
  });

  test('the user role decrypts from the VPC, through any of its endpoints, and is EXPLICITLY DENIED from another VPC or the internet', async () => {
    expect(await fx.decide(fx.userArn, 'kms:Decrypt', THROUGH_OTHER_ENDPOINT)).toBe('Allowed');
    expect(await fx.decide(fx.userArn, 'kms:Decrypt', { 'aws:SourceVpce': OTHER_ENDPOINT, 'aws:SourceVpc': OTHER_VPC })).toBe('ExplicitlyDenied');
    expect(await fx.decide(fx.userArn, 'kms:Decrypt', FROM_THE_INTERNET)).toBe('ExplicitlyDenied');
  });
});

describe('a MultiRegionKeySet with a perimeter in one Region', () => {
  test('that Region\'s member is held to its endpoint; the other Region\'s member is not', async () => {
    const app = new App();
    const eu = new Stack(app, 'OrdersEu', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(eu, 'KmsEndpoint', { vpcEndpointId: ENDPOINT, port: 443 });
    const set = new MultiRegionKeySet(app, 'Orders', {
      account: ACCOUNT,
      primaryRegion: 'us-east-1',
      replicaRegions: ['eu-west-1'],
      classification: DataClassification.INTERNAL,
      stacks: [eu],
      regionOptions: { 'eu-west-1': { vpcEndpoints: [endpoint] } },
    });
    // Read before synthesis: a key makes its user role when it is first asked for.
    const userRoles = new Map(set.regions.map(region => [region, set.keyIn(region).userRole]));
    const verdicts: Record<string, string> = {};
    for (const region of set.regions) {
      const key = set.keyIn(region);
      const userRole = userRoles.get(region)!;
      const sim = PolicySimulator.fromStack(Stack.of(key));
      const decide = (context: ContextValues) => sim.simulate({
        principalArn: sim.roleArn(idOf(userRole)), action: 'kms:Decrypt', resourceArn: sim.keyArn(idOf(key)), context,
      });
      verdicts[`${region} through the endpoint`] = await decide(THROUGH_ENDPOINT);
      verdicts[`${region} from the internet`] = await decide(FROM_THE_INTERNET);
    }
    expect(verdicts).toEqual({
      'us-east-1 through the endpoint': 'Allowed',
      'us-east-1 from the internet': 'Allowed',
      'eu-west-1 through the endpoint': 'Allowed',
      'eu-west-1 from the internet': 'ExplicitlyDenied',
    });
  });
});

describe('bad perimeters are refused at synth', () => {
  const stackIn = (region: string) => new Stack(new App(), 'Keys', { env: { account: ACCOUNT, region } });
  const kmsEndpoint = (stack: Stack, region = stack.region) => {
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    return vpc.addInterfaceEndpoint('Kms', { service: new ec2.InterfaceVpcEndpointService(`com.amazonaws.${region}.kms`, 443) });
  };

  test('an endpoint of KMS in the key\'s Region is accepted', () => {
    const stack = stackIn(REGION);
    expect(() => new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, vpcEndpoints: [kmsEndpoint(stack)] })).not.toThrow();
  });

  test.each<[string, (stack: Stack) => Partial<ClassifiedKeyProps>, string]>([
    ['an empty endpoint list', () => ({ vpcEndpoints: [] }),
      'vpcEndpoints must name at least one interface endpoint (an empty list would deny every direct call to the key), got []'],
    ['an empty VPC list', () => ({ sourceVpcs: [] }), 'sourceVpcs must name at least one VPC (an empty list would deny every direct call to the key), got []'],
    ['an endpoint ID of the wrong shape', s => ({
      vpcEndpoints: [ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(s, 'E', { vpcEndpointId: 'vpc-0a1b2c3d', port: 443 })],
    }), 'vpcEndpoints entries must be interface endpoints with IDs like "vpce-0a1b2c3d4e5f67890", got "vpc-0a1b2c3d" (Keys/E)'],
    ['an endpoint of another service', s => {
      const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      return { vpcEndpoints: [vpc.addInterfaceEndpoint('Sqs', { service: ec2.InterfaceVpcEndpointAwsService.SQS })] };
    }, 'vpcEndpoints entries must be endpoints of KMS (com.amazonaws.<region>.kms or kms-fips), got Keys/Vpc/Sqs for com.amazonaws.us-east-1.sqs'],
    ['an endpoint of another Region', s => {
      const other = new Stack(s.node.root, 'Network', { env: { account: ACCOUNT, region: 'eu-west-1' } });
      return { vpcEndpoints: [kmsEndpoint(other)] };
    }, 'vpcEndpoints entries must be in the key\'s Region us-east-1, where KMS is called through them, got Network/Vpc/Kms in eu-west-1'],
  ])('%s', (_what, props, message) => {
    const stack = stackIn(REGION);
    expect(() => new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, ...props(stack) })).toThrow(message);
  });
});
