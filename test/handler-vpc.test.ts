/**
 * `handlerVpc`: every function of a construct's custom resources (handlers, waits and
 * the Provider framework's) runs in the VPC's private subnets, with a security group
 * that allows only HTTPS out, the network-interface permissions Lambda documents, and,
 * with `createEndpoints`, exactly the VPC endpoints the stack's functions call. Bad
 * placements fail at synth with the prop and the value.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudHsmCluster, CustomKeyStore, DataClassification, HandlerVpcOptions, MultiRegionKeySet } from '../src';
import { nagFindings } from './support/nag';
import { ACCOUNT, newBareStack, REGION } from './support/stack';

const ANCHOR = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

function isolatedVpc(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
}

function store(stack: Stack, handlerVpc?: HandlerVpcOptions, id = 'Store'): CustomKeyStore {
  const made = new CustomKeyStore(stack, id, {
    cluster: CloudHsmCluster.fromClusterAttributes(stack, `${id}Cluster`, { clusterId: 'cluster-2a3b4cdefgh' }),
    customKeyStoreName: `${id}-hsm`,
    trustAnchorCertificate: ANCHOR,
    kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, `${id}Password`, 'kmsuser-password'),
    handlerVpc,
  });
  made.addKey('Key', { classification: DataClassification.CONFIDENTIAL, viaServices: ['s3'] });
  return made;
}

/** The interface endpoint services of the template, as `kms`. */
function endpointServices(template: Template): string[] {
  return Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))
    .map(r => String(r.Properties.ServiceName).replace(`com.amazonaws.${REGION}.`, ''))
    .sort();
}

describe('the functions', () => {
  test('all of a store\'s and its keys\' functions run in the VPC\'s private subnets with one HTTPS-only security group', () => {
    const stack = newBareStack();
    const vpc = isolatedVpc(stack);
    store(stack, { vpc });
    const template = Template.fromStack(stack);
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(7);
    const subnets = vpc.isolatedSubnets.map(s => stack.resolve(s.subnetId));
    for (const fn of functions) {
      expect(fn.Properties.VpcConfig.SubnetIds).toEqual(subnets);
      expect(fn.Properties.VpcConfig.SecurityGroupIds).toHaveLength(1);
    }
    const groups = template.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('cdk-kms-constructs') } });
    expect(Object.keys(groups)).toHaveLength(1);
    const [group] = Object.values(groups);
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 })]);
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('each function\'s role may manage its network interfaces, as Lambda requires', () => {
    const stack = newBareStack();
    store(stack, { vpc: isolatedVpc(stack) });
    const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy', {
      Properties: { Description: Match.stringLikeRegexp('^What the .* function of') },
    }));
    // Seven functions, six roles: the framework's isComplete and onTimeout share one.
    expect(policies).toHaveLength(6);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual({
        Action: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        Effect: 'Allow',
        Resource: '*',
      });
    }
  });

  test('given subnets and security groups are used as they are', () => {
    const stack = newBareStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-1', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-a', 'subnet-b'], isolatedSubnetIds: ['subnet-c', 'subnet-d'],
    });
    const group = ec2.SecurityGroup.fromSecurityGroupId(stack, 'Group', 'sg-12345678');
    store(stack, { vpc, subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [group] });
    const template = Template.fromStack(stack);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.VpcConfig).toEqual({ SubnetIds: ['subnet-c', 'subnet-d'], SecurityGroupIds: ['sg-12345678'] });
    }
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
  });

  test('the default is the VPC\'s private subnets with egress', () => {
    const stack = newBareStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-1', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-a', 'subnet-b'], isolatedSubnetIds: ['subnet-c', 'subnet-d'],
    });
    store(stack, { vpc });
    for (const fn of Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.VpcConfig.SubnetIds).toEqual(['subnet-a', 'subnet-b']);
    }
  });

  test('constructs of a stack with the same placement share the functions and the security group', () => {
    const stack = newBareStack();
    const vpc = isolatedVpc(stack);
    store(stack, { vpc }, 'First');
    store(stack, { vpc }, 'Second');
    const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    expect(functions.filter(fn => fn.Properties.VpcConfig)).toHaveLength(7);
    Template.fromStack(stack).resourcePropertiesCountIs('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('cdk-kms-constructs') }, 1);
  });

  test('another placement for the same functions of a stack is an error naming both constructs', () => {
    const stack = newBareStack();
    const vpc = isolatedVpc(stack);
    store(stack, { vpc }, 'First');
    expect(() => store(stack, undefined, 'Outside')).toThrow('handlerVpc of TestStack/Outside (outside any VPC) must be the same as that of TestStack/First '
      + '(in VPC TestStack/Vpc, subnets TestStack/Vpc/privateSubnet1, TestStack/Vpc/privateSubnet2): the stack\'s CustomKeyStore functions are shared');
  });

  test('a deployed construct given handlerVpc keeps its functions and their service token: they move into the VPC in place', () => {
    const ids = (handlerVpc: boolean) => {
      const stack = newBareStack();
      store(stack, handlerVpc ? { vpc: isolatedVpc(stack) } : undefined);
      const template = Template.fromStack(stack);
      return {
        functions: Object.keys(template.findResources('AWS::Lambda::Function')).sort(),
        tokens: Object.values(template.findResources('Custom::KmsCustomKeyStore')).map(r => r.Properties.ServiceToken),
      };
    };
    expect(ids(true)).toEqual(ids(false));
  });
});

describe('createEndpoints', () => {
  test('a store and its keys get the endpoints they call, each once, reachable from the functions only, and S3\'s gateway', () => {
    const stack = newBareStack();
    store(stack, { vpc: isolatedVpc(stack), createEndpoints: true });
    const template = Template.fromStack(stack);
    expect(endpointServices(template)).toEqual(['cloudformation', 'cloudhsmv2', 'kms', 'lambda', 'secretsmanager', 'states', 'tagging']);
    for (const endpoint of Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))) {
      expect(endpoint.Properties.PrivateDnsEnabled).toBe(true);
    }
    template.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' }, 1);
    // The endpoints' security groups take HTTPS from the functions' group alone.
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'));
    expect(ingress).toHaveLength(7);
    for (const rule of ingress) {
      expect(rule.Properties).toMatchObject({ FromPort: 443, ToPort: 443, SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^KmsConstructsCustomResourcesVpc1SecurityGroup/), 'GroupId'] } });
    }
  });

  test('a new cluster gets CloudHSM\'s, and ACM Private CA\'s when it has a certificate authority', () => {
    const stack = newBareStack();
    const vpc = isolatedVpc(stack);
    new CloudHsmCluster(stack, 'Cluster', { vpc, handlerVpc: { vpc, createEndpoints: true } });
    expect(endpointServices(Template.fromStack(stack))).toEqual(['cloudformation', 'cloudhsmv2', 'lambda', 'states']);
    const withCa = newBareStack('WithCa');
    const vpc2 = isolatedVpc(withCa);
    const certificateAuthority = acmpca.CertificateAuthority.fromCertificateAuthorityArn(withCa, 'Ca',
      `arn:aws:acm-pca:${REGION}:${ACCOUNT}:certificate-authority/11111111-2222-3333-4444-555555555555`);
    new CloudHsmCluster(withCa, 'Cluster', { vpc: vpc2, certificateAuthority, handlerVpc: { vpc: vpc2, createEndpoints: true } });
    expect(endpointServices(Template.fromStack(withCa))).toEqual(['acm-pca', 'cloudformation', 'cloudhsmv2', 'lambda', 'states']);
  });

  test('off by default: a VPC holds one endpoint with private DNS per service, and the library makes none', () => {
    const stack = newBareStack();
    store(stack, { vpc: isolatedVpc(stack) });
    Template.fromStack(stack).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  test('subnets whose route tables are unknown cannot take the S3 gateway endpoint: an error naming them', () => {
    const stack = newBareStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a'], isolatedSubnetIds: ['subnet-c'] });
    expect(() => store(stack, { vpc, createEndpoints: true })).toThrow(/handlerVpc.createEndpoints needs the route table of each subnet .* subnets TestStack\/Vpc\/IsolatedSubnet1 have none known/);
  });
});

/** A set from us-east-1 to eu-west-1 whose member in `region` has its functions in a VPC of that Region's stack. */
function setWithVpcIn(region: string, makeVpc: (stack: Stack) => ec2.IVpc): MultiRegionKeySet {
  const app = new App();
  const network = new Stack(app, 'Network', { env: { account: ACCOUNT, region } });
  return new MultiRegionKeySet(app, 'Orders', {
    account: ACCOUNT,
    primaryRegion: 'us-east-1',
    replicaRegions: ['eu-west-1'],
    classification: DataClassification.INTERNAL,
    stacks: [network],
    regionOptions: { [region]: { handlerVpc: { vpc: makeVpc(network) } } },
  });
}

describe('bad placements fail at synth', () => {
  test('public subnets', () => {
    const stack = newBareStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    expect(() => store(stack, { vpc, subnets: { subnetType: ec2.SubnetType.PUBLIC } }))
      .toThrow(/^handlerVpc.subnets must select private subnets .* got TestStack\/Vpc\/PublicSubnet1, TestStack\/Vpc\/PublicSubnet2$/);
  });

  test('a replica Region\'s isolated subnets: the lookup calls the primary Region', () => {
    expect(() => setWithVpcIn('eu-west-1', isolatedVpc)).toThrow(/^handlerVpc.subnets must have egress \(a NAT gateway\) for the PrimaryKeyLookup handler, which calls the primary Region's CloudFormation and KMS/);
  });

  test('the primary Region, which runs no function', () => {
    expect(() => setWithVpcIn('us-east-1', network => new ec2.Vpc(network, 'Vpc'))).toThrow('regionOptions.us-east-1.handlerVpc must not be set: the primary Region\'s stack runs no function of the set');
  });
});

test('cdk-nag reports nothing on a store, its keys and a cluster in a VPC', () => {
  const stack = newBareStack();
  const vpc = isolatedVpc(stack);
  new CloudHsmCluster(stack, 'Cluster', { vpc, handlerVpc: { vpc, createEndpoints: true } });
  store(stack, { vpc, createEndpoints: true });
  const findings = nagFindings(stack).filter(f => f.includes('KmsConstructsCustomResources') || f.includes('/Store') || f.includes('/Cluster'));
  expect(findings).toEqual([]);
});
