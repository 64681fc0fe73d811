/*
 * KmsInterfaceEndpoint: the template, and its endpoint policy evaluated together with a
 * key's policy for requests through the endpoint, with the context AWS sets
 * (aws:PrincipalOrgID, aws:ResourceOrgID).
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { ClassifiedKey, DataClassification, KmsInterfaceEndpoint } from '../src';
import { nagFindings } from './support/nag';
import { ContextValues, PolicyDocument, PolicySimulator } from './support/policy-sim';
import { ACCOUNT, newStack, REGION } from './support/stack';

const ORG = 'o-a1b2c3d4e5';
const OTHER_ORG = 'o-z9y8x7w6v5';

function vpcIn(stack: Stack): ec2.IVpc {
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidrBlock: '10.0.0.0/16',
    availabilityZones: [`${REGION}a`, `${REGION}b`],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
  });
}

describe('KmsInterfaceEndpoint', () => {
  let stack: Stack;
  let endpoint: KmsInterfaceEndpoint;
  let key: ClassifiedKey;
  let sim: PolicySimulator;
  let endpointPolicy: PolicyDocument;
  let userArn: string;
  let keyArn: string;
  /** The endpoint's ID as the simulator resolves its Ref, as AWS sets aws:SourceVpce. */
  let endpointId: string;
  beforeAll(() => {
    stack = newStack();
    endpoint = new KmsInterfaceEndpoint(stack, 'Kms', { vpc: vpcIn(stack), organizationId: ORG });
    key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, vpcEndpoints: [endpoint.endpoint] });
    const userRole = key.userRole;
    sim = PolicySimulator.fromStack(stack);
    const cfn = endpoint.endpoint.node.defaultChild as ec2.CfnVPCEndpoint;
    endpointPolicy = sim.resolve(stack.resolve(cfn.policyDocument)) as PolicyDocument;
    const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
    userArn = sim.roleArn(id(userRole));
    keyArn = sim.keyArn(id(key));
    endpointId = sim.resolve(stack.resolve(endpoint.endpoint.vpcEndpointId)) as string;
  });

  test('is an interface endpoint of KMS with private DNS, in the VPC\'s private subnets', () => {
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      VpcId: 'vpc-0123456789abcdef0',
      SubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
    });
    const serviceName = JSON.stringify(stack.resolve((endpoint.endpoint.node.defaultChild as ec2.CfnVPCEndpoint).serviceName));
    expect(serviceName).toMatch(/\.kms"/);
  });

  const throughEndpoint = (principalArn: string, action: string, resourceArn: string, context: ContextValues) => sim.simulate({
    principalArn,
    action,
    resourceArn,
    vpcEndpointPolicies: [endpointPolicy],
    context: { 'aws:SourceVpce': endpointId, 'aws:SourceVpc': 'vpc-0123456789abcdef0', ...context },
  });

  test('a principal of the organization uses a key of the organization through it', async () => {
    expect(await throughEndpoint(userArn, 'kms:Decrypt', keyArn, { 'aws:PrincipalOrgID': ORG, 'aws:ResourceOrgID': ORG })).toBe('Allowed');
  });

  test('a principal of another organization, or of none, is DENIED at the endpoint, whatever the key policy says', async () => {
    expect(await throughEndpoint(userArn, 'kms:Decrypt', keyArn, { 'aws:PrincipalOrgID': OTHER_ORG, 'aws:ResourceOrgID': ORG })).not.toBe('Allowed');
    expect(await throughEndpoint(userArn, 'kms:Decrypt', keyArn, { 'aws:ResourceOrgID': ORG })).not.toBe('Allowed');
  });

  test('a key of another organization is DENIED at the endpoint: no exfiltration by encrypting to an outside key', async () => {
    const outsideKey = 'arn:aws:kms:us-east-1:999999999999:key/00000000-1111-2222-3333-444444444444';
    const permissive: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' }],
    };
    const ask = (resourceOrg: string) => sim.simulate({
      principalArn: userArn,
      action: 'kms:Encrypt',
      resourceArn: outsideKey,
      resourcePolicy: permissive,
      identityPolicies: [PolicySimulator.allowPolicy('kms:Encrypt')],
      vpcEndpointPolicies: [endpointPolicy],
      context: { 'aws:PrincipalOrgID': ORG, 'aws:ResourceOrgID': resourceOrg, 'aws:SourceVpce': endpointId },
    });
    expect(await ask(OTHER_ORG)).not.toBe('Allowed');
    // The same call to a key of the organization would pass the endpoint.
    expect(await ask(ORG)).toBe('Allowed');
  });

  test('a call that names no key passes for the organization\'s principals only', async () => {
    const list = (context: ContextValues) => sim.simulate({
      principalArn: userArn,
      action: 'kms:ListAliases',
      resourceArn: '*',
      resourcePolicy: null,
      identityPolicies: [PolicySimulator.allowPolicy('kms:ListAliases')],
      vpcEndpointPolicies: [endpointPolicy],
      context: { 'aws:SourceVpce': endpointId, ...context },
      allowIgnoredContextKeys: true,
    });
    expect(await list({ 'aws:PrincipalOrgID': ORG })).toBe('Allowed');
    expect(await list({ 'aws:PrincipalOrgID': OTHER_ORG })).not.toBe('Allowed');
  });

  test('cdk-nag reports nothing on the endpoint and its security group', () => {
    expect(nagFindings(stack).filter(f => f.includes('/Kms/'))).toEqual([]);
  });

  test.each<[string, () => void, string]>([
    ['organizationId is malformed', () => new KmsInterfaceEndpoint(newStack(), 'Kms', { vpc: vpcIn(newStack()), organizationId: 'org-1' }),
      'organizationId must look like "o-" followed by 10 to 32 lowercase letters or digits, got "org-1"'],
    ['securityGroups is empty', () => {
      const s = newStack();
      new KmsInterfaceEndpoint(s, 'Kms', { vpc: vpcIn(s), organizationId: ORG, securityGroups: [] });
    }, 'securityGroups must name at least one security group, or be left out for a new one, got []'],
  ])('fails when %s', (_what, build, message) => {
    expect(build).toThrow(message);
  });

  test('the FIPS endpoint is kms-fips', () => {
    const s = new Stack(new App(), 'Fips', { env: { account: ACCOUNT, region: REGION } });
    const fips = new KmsInterfaceEndpoint(s, 'Kms', { vpc: vpcIn(s), organizationId: ORG, fips: true });
    expect(JSON.stringify(s.resolve((fips.endpoint.node.defaultChild as ec2.CfnVPCEndpoint).serviceName))).toMatch(/\.kms-fips"/);
  });
});
