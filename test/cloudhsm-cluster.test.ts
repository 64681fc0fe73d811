/**
 * CloudHsmCluster: the AWS::CloudHSM::Cluster resource, the custom resources that make
 * its HSMs and initialize it, their handlers' least-privilege roles (evaluated), the
 * cluster's network access, a CustomKeyStore on a new cluster, and bad input refused
 * at synth with the prop and the value.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_CreateCluster.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudhsm.html
 */
import { App, CfnElement, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudHsmCluster, CloudHsmClusterProps, ClusterMode, CustomKeyStore, HsmType } from '../src';
import { PolicySimulator } from './support/policy-sim';
import { ACCOUNT, REGION } from './support/stack';

const CA_ARN = `arn:aws:acm-pca:${REGION}:${ACCOUNT}:certificate-authority/11111111-2222-3333-4444-555555555555`;
const OTHER_CA_ARN = `arn:aws:acm-pca:${REGION}:${ACCOUNT}:certificate-authority/99999999-2222-3333-4444-555555555555`;

function newStack(): Stack {
  return new Stack(new App(), 'Hsm', { env: { account: ACCOUNT, region: REGION } });
}

function vpcIn(stack: Stack, maxAzs = 2): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    maxAzs,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'hsm', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
}

function clusterIn(stack: Stack, props: Partial<CloudHsmClusterProps> = {}): CloudHsmCluster {
  return new CloudHsmCluster(stack, 'Cluster', { vpc: (stack.node.tryFindChild('Vpc') as ec2.Vpc | undefined) ?? vpcIn(stack), ...props });
}

const caIn = (stack: Stack, arn = CA_ARN) => acmpca.CertificateAuthority.fromCertificateAuthorityArn(stack, `Ca${arn.split('/').pop()}`, arn);

const idOf = (construct: { node: { defaultChild?: unknown } }) => {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).getLogicalId(element);
};

const resourcesOfType = (template: any, type: string) => Object.entries<any>(template.Resources).filter(([, r]) => r.Type === type);
const only = (template: any, type: string) => {
  const found = resourcesOfType(template, type);
  expect(found).toHaveLength(1);
  return found[0];
};

describe('the cluster', () => {
  test('is an AWS::CloudHSM::Cluster of hsm2m.medium HSMs in FIPS mode, in one private subnet per zone, backed up for 90 days, kept but on a failed create', () => {
    const stack = newStack();
    const vpc = vpcIn(stack, 3);
    const cluster = clusterIn(stack);
    const template = Template.fromStack(stack).toJSON();
    const [id, resource] = only(template, 'AWS::CloudHSM::Cluster');
    expect(id).toBe(idOf(cluster));
    // Kept when it leaves the stack or is replaced; deleted by the rollback of the
    // deployment that failed to create it, rather than left billed outside any stack.
    expect(resource).toMatchObject({ DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });
    expect(resource.Properties).toEqual({
      HsmType: 'hsm2m.medium',
      Mode: 'FIPS',
      SubnetIds: stack.resolve(vpc.isolatedSubnets.map(s => s.subnetId)),
      BackupRetentionPolicy: { Type: 'DAYS', Value: '90' },
      // Which stack made it: the HSMs handler empties a cluster an update replaced only if it is its stack's.
      Tags: [{ Key: 'cdk-kms-constructs:stack-id', Value: { Ref: 'AWS::StackId' } }],
    });
    expect(stack.resolve(cluster.clusterId)).toEqual({ 'Fn::GetAtt': [id, 'ClusterId'] });
    expect(stack.resolve(cluster.securityGroupId)).toEqual({ 'Fn::GetAtt': [id, 'SecurityGroup'] });
    expect(cluster.hsmsPerCluster).toBe(2);
    expect(cluster.trustAnchorCertificate).toBeUndefined();
  });

  test('takes the mode, HSM type, backup retention and subnets asked for', () => {
    const stack = newStack();
    const vpc = vpcIn(stack, 3);
    clusterIn(stack, {
      mode: ClusterMode.NON_FIPS,
      hsmType: HsmType.HSM2M_MEDIUM,
      backupRetention: Duration.days(379),
      vpcSubnets: { subnets: vpc.isolatedSubnets.slice(0, 2) },
    });
    const [, resource] = only(Template.fromStack(stack).toJSON(), 'AWS::CloudHSM::Cluster');
    expect(resource.Properties).toMatchObject({
      Mode: 'NON_FIPS',
      BackupRetentionPolicy: { Type: 'DAYS', Value: '379' },
      SubnetIds: stack.resolve(vpc.isolatedSubnets.slice(0, 2).map(s => s.subnetId)),
    });
    expect(HsmType.of('hsm3.large').name).toBe('hsm3.large');
  });

  test('the stack\'s tags reach the cluster', () => {
    const stack = newStack();
    clusterIn(stack);
    Tags.of(stack).add('cost-center', 'payments');
    const [, resource] = only(Template.fromStack(stack).toJSON(), 'AWS::CloudHSM::Cluster');
    expect(resource.Properties.Tags).toEqual([
      { Key: 'cdk-kms-constructs:stack-id', Value: { Ref: 'AWS::StackId' } },
      { Key: 'cost-center', Value: 'payments' },
    ]);
  });

  test('its security group lets hosts reach the HSMs on TCP 2223-2225', () => {
    const stack = newStack();
    const cluster = clusterIn(stack);
    const host = new ec2.SecurityGroup(stack, 'Client', { vpc: stack.node.findChild('Vpc') as ec2.Vpc });
    cluster.connections.allowDefaultPortFrom(host);
    const [, ingress] = only(Template.fromStack(stack).toJSON(), 'AWS::EC2::SecurityGroupIngress');
    expect(ingress.Properties).toMatchObject({
      IpProtocol: 'tcp',
      FromPort: 2223,
      ToPort: 2225,
      GroupId: stack.resolve(cluster.securityGroupId),
    });
  });

  test('DESTROY deletes the HSMs and then the cluster: the HSMs refer to the cluster, so CloudFormation deletes them first', () => {
    const stack = newStack();
    const cluster = clusterIn(stack, { removalPolicy: RemovalPolicy.DESTROY });
    const template = Template.fromStack(stack).toJSON();
    const [, resource] = only(template, 'AWS::CloudHSM::Cluster');
    const [, hsms] = only(template, 'Custom::CloudHsmHsms');
    expect(resource.DeletionPolicy).toBe('Delete');
    expect(hsms.DeletionPolicy).toBe('Delete');
    expect(hsms.Properties.ClusterId).toEqual({ 'Fn::GetAtt': [idOf(cluster), 'ClusterId'] });
  });
});

describe('its HSMs', () => {
  test('are a custom resource asking for hsmsPerCluster HSMs, kept with the cluster; not activated by default', () => {
    const stack = newStack();
    clusterIn(stack);
    const [, hsms] = only(Template.fromStack(stack).toJSON(), 'Custom::CloudHsmHsms');
    expect(hsms).toMatchObject({ DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });
    expect(hsms.Properties).toMatchObject({ HsmCount: '2', Activated: 'false' });
  });

  test('activated and more HSMs change the resource\'s properties, which is what has CloudFormation call the handler again', () => {
    const stack = newStack();
    const cluster = clusterIn(stack, { hsmsPerCluster: 4, activated: true });
    const [, hsms] = only(Template.fromStack(stack).toJSON(), 'Custom::CloudHsmHsms');
    expect(hsms.Properties).toMatchObject({ HsmCount: '4', Activated: 'true' });
    expect(cluster.hsmsPerCluster).toBe(4);
  });

  test('the deployment waits for them: every 30 seconds, for up to 55 minutes, within CloudFormation\'s hour for a custom resource', () => {
    const stack = newStack();
    clusterIn(stack);
    const [, machine] = only(Template.fromStack(stack).toJSON(), 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":30');
    expect(definition).toContain('\\"MaxAttempts\\":110');
  });

  test('by policy evaluation: the wait may create HSMs in this cluster only, with network interfaces in its subnets only', async () => {
    const stack = newStack();
    const vpc = vpcIn(stack, 3);
    clusterIn(stack, { vpcSubnets: { subnets: vpc.isolatedSubnets.slice(0, 2) } });
    const sim = PolicySimulator.fromStack(stack);
    const role = (part: string) => sim.roleArn(sim.logicalIdsOfType('AWS::IAM::Role').find(id => id.includes(part))!);
    const wait = role('CloudHsmHsmsIsCompleteRole');
    const onEvent = role('CloudHsmHsmsHandlerRole');
    const [clusterId] = sim.logicalIdsOfType('AWS::CloudHSM::Cluster');
    const clusterArn = sim.resolve({ 'Fn::GetAtt': [clusterId, 'Arn'] }) as string;
    const otherCluster = `arn:aws:cloudhsm:${REGION}:${ACCOUNT}:cluster/cluster-otherclusterz`;
    const subnet = (s: ec2.ISubnet) => `arn:aws:ec2:${REGION}:${ACCOUNT}:subnet/${sim.resolve(stack.resolve(s.subnetId))}`;
    const eni = `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0123456789abcdef0`;

    expect(await sim.can(wait, 'cloudhsm:CreateHsm', clusterArn)).toBe(true);
    expect(await sim.can(wait, 'cloudhsm:CreateHsm', otherCluster)).toBe(false);
    expect(await sim.can(wait, 'cloudhsm:DescribeClusters', '*')).toBe(true);
    expect(await sim.can(wait, 'cloudhsm:DeleteHsm', '*')).toBe(true);
    expect(await sim.can(wait, 'cloudhsm:DeleteCluster', clusterArn)).toBe(false);
    expect(await sim.can(wait, 'cloudhsm:InitializeCluster', clusterArn)).toBe(false);
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', subnet(vpc.isolatedSubnets[0]))).toBe(true);
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', subnet(vpc.isolatedSubnets[2]))).toBe(false);
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', subnet(vpc.publicSubnets[0]))).toBe(false);
    const inSubnet = (s: ec2.ISubnet) => ({ context: { 'ec2:Subnet': subnet(s) } });
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', eni, inSubnet(vpc.isolatedSubnets[1]))).toBe(true);
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', eni, inSubnet(vpc.isolatedSubnets[2]))).toBe(false);
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', eni)).toBe(false);
    const clusterGroup = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${sim.resolve({ 'Fn::GetAtt': [clusterId, 'SecurityGroup'] })}`;
    const otherGroup = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0fedcba9876543210`;
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', clusterGroup)).toBe(true);
    expect(await sim.can(wait, 'ec2:CreateNetworkInterface', otherGroup)).toBe(false);
    expect(await sim.can(wait, 'ec2:AuthorizeSecurityGroupIngress', clusterGroup)).toBe(true);
    expect(await sim.can(wait, 'ec2:AuthorizeSecurityGroupIngress', otherGroup)).toBe(false);
    expect(await sim.can(wait, 'ec2:RevokeSecurityGroupEgress', otherGroup)).toBe(false);
    // Deleting an HSM deletes its interface in the cluster's VPC: in a subnet the cluster
    // no longer has too (a replaced cluster's), never in another VPC.
    const vpcArnOf = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/${id}`;
    const ownVpc = vpcArnOf(sim.resolve(stack.resolve(vpc.vpcId)) as string);
    expect(await sim.can(wait, 'ec2:DeleteNetworkInterface', eni, { context: { 'ec2:Vpc': ownVpc } })).toBe(true);
    expect(await sim.can(wait, 'ec2:DeleteNetworkInterface', eni, { context: { 'ec2:Vpc': vpcArnOf('vpc-0123456789abcdef0') } })).toBe(false);
    const vpcArn = `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/${sim.resolve(stack.resolve(vpc.vpcId))}`;
    const newGroup = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0123456789abcdef0`;
    expect(await sim.can(wait, 'ec2:CreateSecurityGroup', vpcArn)).toBe(true);
    expect(await sim.can(wait, 'ec2:CreateSecurityGroup', newGroup, { context: { 'ec2:Vpc': vpcArn } })).toBe(true);
    expect(await sim.can(wait, 'ec2:CreateSecurityGroup', newGroup, { context: { 'ec2:Vpc': `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/vpc-other` } })).toBe(false);
    expect(await sim.can(wait, 'ec2:CreateSecurityGroup', `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/vpc-other`)).toBe(false);
    // onEvent only reads: whatever it is asked, it makes and deletes nothing.
    expect(await sim.can(onEvent, 'cloudhsm:DescribeClusters', '*')).toBe(true);
    expect(await sim.can(onEvent, 'cloudhsm:CreateHsm', clusterArn)).toBe(false);
    expect(await sim.can(onEvent, 'cloudhsm:DeleteHsm', '*')).toBe(false);
  });
});

describe('several clusters in a stack', () => {
  test('share their handlers; each cluster\'s calls are in a policy of its own, in place before its HSMs are made', () => {
    const stack = newStack();
    const vpc = vpcIn(stack, 2);
    const first = new CloudHsmCluster(stack, 'First', { vpc, certificateAuthority: caIn(stack) });
    const second = new CloudHsmCluster(stack, 'Second', { vpc, certificateAuthority: caIn(stack, OTHER_CA_ARN) });
    const template = Template.fromStack(stack).toJSON();
    expect(resourcesOfType(template, 'AWS::Lambda::Function').filter(([id]) => /CloudHsmHsmsIsComplete[0-9A-F]{8}$/.test(id))).toHaveLength(1);
    const policies = resourcesOfType(template, 'AWS::IAM::ManagedPolicy');
    for (const [cluster, ca] of [[first, CA_ARN], [second, OTHER_CA_ARN]] as const) {
      const [hsmsId, hsms] = resourcesOfType(template, 'Custom::CloudHsmHsms').find(([id]) => id.startsWith(cluster.node.id))!;
      const [policyId, policy] = policies.find(([id]) => id.startsWith(`${cluster.node.id}HsmsPolicy`))!;
      expect(hsms.DependsOn).toContain(policyId);
      const text = JSON.stringify(policy.Properties.PolicyDocument);
      expect(text).toContain(idOf(cluster));
      expect(text).not.toContain(idOf(cluster === first ? second : first));
      expect(policy.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/CloudHsmHsmsIsCompleteRole/) }]);
      const [, init] = policies.find(([id]) => id.startsWith(`${cluster.node.id}InitializationPolicy`))!;
      expect(JSON.stringify(init.Properties.PolicyDocument)).toContain(ca);
      expect(hsmsId).toBeDefined();
    }
    // The shared wait policy holds only what every cluster's wait does.
    const [, shared] = policies.find(([id]) => /CloudHsmHsmsIsCompletePolicy/.test(id))!;
    expect(JSON.stringify(shared.Properties.PolicyDocument)).not.toMatch(/CreateHsm|ec2:/);
  });
});

describe('initialization with ACM Private CA', () => {
  test('is a custom resource after the HSMs, whose trust anchor the cluster gives for a key store', () => {
    const stack = newStack();
    const cluster = clusterIn(stack, { certificateAuthority: caIn(stack) });
    const template = Template.fromStack(stack).toJSON();
    const [initId, initialization] = only(template, 'Custom::CloudHsmClusterInitialization');
    const [hsmsId] = only(template, 'Custom::CloudHsmHsms');
    expect(initialization.Properties).toMatchObject({
      ClusterId: { 'Fn::GetAtt': [idOf(cluster), 'ClusterId'] },
      CertificateAuthorityArn: CA_ARN,
      ValidityDays: '1825',
    });
    expect(initialization.DependsOn).toContain(hsmsId);
    expect(stack.resolve(cluster.trustAnchorCertificate)).toEqual({ 'Fn::GetAtt': [initId, 'TrustAnchorCertificate'] });
  });

  test('the cluster certificate\'s validity is the one asked for', () => {
    const stack = newStack();
    clusterIn(stack, { certificateAuthority: caIn(stack), clusterCertificateValidity: Duration.days(365) });
    const [, initialization] = only(Template.fromStack(stack).toJSON(), 'Custom::CloudHsmClusterInitialization');
    expect(initialization.Properties.ValidityDays).toBe('365');
  });

  test('there is none without a certificate authority', () => {
    const stack = newStack();
    clusterIn(stack);
    expect(resourcesOfType(Template.fromStack(stack).toJSON(), 'Custom::CloudHsmClusterInitialization')).toHaveLength(0);
  });

  test('by policy evaluation: the CA signs for this cluster only, and only the wait initializes it', async () => {
    const stack = newStack();
    clusterIn(stack, { certificateAuthority: caIn(stack) });
    const sim = PolicySimulator.fromStack(stack);
    const role = (part: string) => sim.roleArn(sim.logicalIdsOfType('AWS::IAM::Role').find(id => id.includes(part))!);
    const onEvent = role('CloudHsmClusterInitializationHandlerRole');
    const wait = role('CloudHsmClusterInitializationIsCompleteRole');
    const [clusterId] = sim.logicalIdsOfType('AWS::CloudHSM::Cluster');
    const clusterArn = sim.resolve({ 'Fn::GetAtt': [clusterId, 'Arn'] }) as string;

    const template = (name: string) => ({ context: { 'acm-pca:TemplateArn': `arn:aws:acm-pca:::template/${name}` } });
    expect(await sim.can(onEvent, 'acm-pca:IssueCertificate', CA_ARN, template('EndEntityCertificate/V1'))).toBe(true);
    expect(await sim.can(onEvent, 'acm-pca:IssueCertificate', OTHER_CA_ARN, template('EndEntityCertificate/V1'))).toBe(false);
    // The root never signs a CA through this role.
    expect(await sim.can(onEvent, 'acm-pca:IssueCertificate', CA_ARN, template('SubordinateCACertificate_PathLen0/V1'))).toBe(false);
    expect(await sim.can(onEvent, 'acm-pca:IssueCertificate', CA_ARN)).toBe(false);
    expect(await sim.can(onEvent, 'acm-pca:DescribeCertificateAuthority', CA_ARN)).toBe(true);
    expect(await sim.can(onEvent, 'cloudhsm:InitializeCluster', clusterArn)).toBe(false);
    expect(await sim.can(wait, 'acm-pca:GetCertificate', CA_ARN)).toBe(true);
    expect(await sim.can(wait, 'acm-pca:GetCertificateAuthorityCertificate', CA_ARN)).toBe(true);
    expect(await sim.can(wait, 'acm-pca:IssueCertificate', CA_ARN)).toBe(false);
    expect(await sim.can(wait, 'cloudhsm:InitializeCluster', clusterArn)).toBe(true);
    expect(await sim.can(wait, 'cloudhsm:InitializeCluster', `arn:aws:cloudhsm:${REGION}:${ACCOUNT}:cluster/cluster-otherclusterz`)).toBe(false);
  });
});

describe('a key store on a new cluster', () => {
  test('takes the cluster\'s trust anchor and waits for its HSMs and initialization', () => {
    const stack = newStack();
    const cluster = clusterIn(stack, { certificateAuthority: caIn(stack), activated: true });
    const store = new CustomKeyStore(stack, 'Store', {
      cluster,
      customKeyStoreName: 'payments-hsm',
      trustAnchorCertificate: cluster.trustAnchorCertificate!,
      kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, 'Password', 'kmsuser-password'),
    });
    const template = Template.fromStack(stack).toJSON();
    const [, resource] = only(template, 'Custom::KmsCustomKeyStore');
    const [hsmsId] = only(template, 'Custom::CloudHsmHsms');
    const [initId] = only(template, 'Custom::CloudHsmClusterInitialization');
    expect(resource.DependsOn).toEqual(expect.arrayContaining([idOf(cluster), hsmsId, initId]));
    expect(resource.Properties.TrustAnchorCertificate).toEqual({ 'Fn::GetAtt': [initId, 'TrustAnchorCertificate'] });
    expect(stack.resolve(store.cluster.clusterId)).toEqual({ 'Fn::GetAtt': [idOf(cluster), 'ClusterId'] });
  });
});

describe('bad input is refused at synth, naming the prop and the value', () => {
  test.each([1, 0, 29, 2.5])('hsmsPerCluster %p', (hsmsPerCluster) => {
    expect(() => clusterIn(newStack(), { hsmsPerCluster })).toThrow(new RegExp(`hsmsPerCluster must be a whole number from 2 to 28.*got ${hsmsPerCluster}`));
  });

  test('subnets in one Availability Zone', () => {
    const stack = newStack();
    expect(() => clusterIn(stack, { vpc: vpcIn(stack, 1) })).toThrow(/vpcSubnets must select subnets in two Availability Zones at least.*got Hsm\/Vpc\/hsmSubnet1 \(dummy1a\)$/);
  });

  test('public subnets', () => {
    const stack = newStack();
    const vpc = vpcIn(stack, 2);
    expect(() => clusterIn(stack, { vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }))
      .toThrow(/vpcSubnets must select private subnets.*got public subnets Hsm\/Vpc\/publicSubnet1, Hsm\/Vpc\/publicSubnet2$/);
    expect(vpc.publicSubnets).toHaveLength(2);
  });

  test('two subnets in the same Availability Zone', () => {
    const stack = newStack();
    const vpc = vpcIn(stack, 2);
    const twin = ec2.Subnet.fromSubnetAttributes(stack, 'Twin', { subnetId: 'subnet-0123456789abcdef0', availabilityZone: vpc.isolatedSubnets[0].availabilityZone });
    expect(() => clusterIn(stack, { vpcSubnets: { subnets: [vpc.isolatedSubnets[0], twin] } }))
      .toThrow(/vpcSubnets must select one subnet per Availability Zone.*two in dummy1a: Hsm\/Vpc\/hsmSubnet1 \(dummy1a\), subnet-0123456789abcdef0 \(dummy1a\)/);
  });

  test.each([Duration.days(6), Duration.days(380), Duration.hours(36)])('backupRetention %s', (backupRetention) => {
    expect(() => clusterIn(newStack(), { backupRetention })).toThrow(new RegExp(`backupRetention must be whole days from 7 to 379, got ${backupRetention.toHumanString()}`));
  });

  test('hsm1.medium, which CloudHSM no longer makes new clusters of, and a malformed type', () => {
    expect(() => HsmType.of('hsm1.medium')).toThrow(/hsmType hsm1.medium cannot be used for a new cluster/);
    expect(() => HsmType.of('m5.large')).toThrow(/hsmType must be an HSM type name.*"m5.large"/);
  });

  test('NON_FIPS mode on another HSM type', () => {
    expect(() => clusterIn(newStack(), { mode: ClusterMode.NON_FIPS, hsmType: HsmType.of('hsm3.large') }))
      .toThrow(/mode NON_FIPS needs hsmType hsm2m.medium, got hsm3.large/);
  });

  test('a SNAPSHOT removal policy', () => {
    expect(() => clusterIn(newStack(), { removalPolicy: RemovalPolicy.SNAPSHOT })).toThrow(/removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a CloudHSM cluster, got SNAPSHOT/);
  });

  test('a certificate validity without a certificate authority, and a validity not in whole days', () => {
    expect(() => clusterIn(newStack(), { clusterCertificateValidity: Duration.days(365) })).toThrow(/clusterCertificateValidity is used only with certificateAuthority/);
    const stack = newStack();
    expect(() => clusterIn(stack, { certificateAuthority: caIn(stack), clusterCertificateValidity: Duration.hours(12) }))
      .toThrow(/clusterCertificateValidity must be whole days from 1 to 36500, got 12 hours/);
  });

  test('an adopted cluster\'s malformed ID or security group', () => {
    const stack = newStack();
    expect(() => CloudHsmCluster.fromClusterAttributes(stack, 'A', { clusterId: 'cluster-1' })).toThrow(/clusterId must be a CloudHSM cluster ID.*got cluster-1/);
    expect(() => CloudHsmCluster.fromClusterAttributes(stack, 'B', { clusterId: 'cluster-2a3b4cdefgh', securityGroupId: 'sg-x' })).toThrow(/securityGroupId must be a security group ID.*got sg-x/);
  });
});
