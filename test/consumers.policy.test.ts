/**
 * Keys in the wild: a ClassifiedKey handed to the AWS services users put it in, proven
 * by evaluating the synthesized key policy for the calls each service's documentation
 * says it makes, at creation (the deploy role, CloudFormation's execution role, through
 * the service) and at use (named users through the service, or the service principal
 * itself). Every row of the README's service table has its case here.
 *
 * Denials are asked with the most favourable context an honest request could carry.
 */
import { App, Duration, Size, Stack, Stage } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { IConstruct } from 'constructs';
import { ClassifiedKey, ClassifiedKeyProps, DataClassification, KeyAuditTrail } from '../src';
import { ContextValues, PolicyDocument, PolicySimulator } from './support/policy-sim';
import { ACCOUNT, newStack, OTHER_ACCOUNT, REGION } from './support/stack';

/** The default synthesizer's CloudFormation execution role: the deploy role. */
const DEPLOY_ROLE = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`;
/** An IAM principal of the key's account whose own policy allows kms:* on everything. */
const KMS_STAR_ADMIN = `arn:aws:iam::${ACCOUNT}:role/KmsStarAdmin`;
const KMS_STAR: PolicyDocument[] = [PolicySimulator.allowPolicy('kms:*')];
const WITH_MFA: ContextValues = { 'aws:MultiFactorAuthPresent': 'true' };

const via = (service: string) => `${service}.${REGION}.amazonaws.com`;
const GRANT_ACTIONS = ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant', 'kms:RetireGrant'];

/** A synthesized stack with one CONFIDENTIAL key and its consumers. */
interface Fixture {
  readonly stack: Stack;
  readonly key: ClassifiedKey;
  readonly sim: PolicySimulator;
  readonly keyArn: string;
  arnOf(role: IConstruct): string;
  /** The decision for a call on the key. */
  decide(principal: string, action: string, context?: ContextValues, identityPolicies?: PolicyDocument[]): Promise<string>;
}

function synthesize(props: Partial<ClassifiedKeyProps>, consumers: (stack: Stack, key: ClassifiedKey) => void): Fixture {
  const stack = newStack();
  const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, ...props });
  consumers(stack, key);
  const sim = PolicySimulator.fromStack(stack);
  const logicalId = (c: IConstruct) => stack.getLogicalId((c.node.defaultChild ?? c) as any);
  const keyArn = sim.keyArn(logicalId(key));
  return {
    stack,
    key,
    sim,
    keyArn,
    arnOf: role => sim.roleArn(logicalId(role)),
    decide: (principal, action, context = {}, identityPolicies = []) =>
      sim.simulate({ principalArn: principal, action, resourceArn: keyArn, context, identityPolicies }),
  };
}

/** The context of a call: through a service, and for grant actions, for an AWS resource. */
function callContext(action: string, service?: string): ContextValues {
  const context: ContextValues = service ? { 'kms:ViaService': via(service) } : {};
  if (GRANT_ACTIONS.includes(action) && action !== 'kms:RetireGrant') context['kms:GrantIsForAWSResource'] = 'true';
  return context;
}

/** Decisions for each action, so that a failure names the action. */
async function decisions(
  fx: Fixture, principal: string, actions: string[], service: string | undefined,
  extra: ContextValues = {}, identityPolicies: PolicyDocument[] = [],
) {
  const result: Record<string, string> = {};
  for (const action of actions) result[action] = await fx.decide(principal, action, { ...callContext(action, service), ...extra }, identityPolicies);
  return result;
}

const every = (actions: string[], decision: string) => Object.fromEntries(actions.map(a => [a, decision]));
const denied = (d: string) => d !== 'Allowed';

/**
 * The rows whose creator calls KMS through the service: what the deploy role may do
 * at creation, through the service only.
 */
const creationRows: Array<[string, string, string[], Partial<ClassifiedKeyProps>, (stack: Stack, key: ClassifiedKey) => void]> = [
  ['DynamoDB Table', 'dynamodb',
    ['kms:DescribeKey', 'kms:CreateGrant', 'kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom'], {},
    (s, key) => new dynamodb.Table(s, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
    })],
  ['DynamoDB TableV2', 'dynamodb', ['kms:DescribeKey', 'kms:CreateGrant', 'kms:Decrypt', 'kms:GenerateDataKey'], {},
    (s, key) => new dynamodb.TableV2(s, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(key),
    })],
  ['EBS volume', 'ec2', ['kms:DescribeKey', 'kms:CreateGrant', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:ReEncryptFrom'], {},
    (s, key) => new ec2.Volume(s, 'Volume', { availabilityZone: `${REGION}a`, size: Size.gibibytes(8), encrypted: true, encryptionKey: key })],
  ['EC2 launch template', 'ec2', ['kms:DescribeKey', 'kms:CreateGrant', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt'], {},
    (s, key) => new ec2.LaunchTemplate(s, 'Template', {
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true, kmsKey: key }) }],
    })],
  ['RDS instance, storage and Performance Insights', 'rds', ['kms:DescribeKey', 'kms:CreateGrant'], {},
    (s, key) => new rds.DatabaseInstance(s, 'Db', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      vpc: isolatedVpc(s),
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      storageEncryptionKey: key,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: key,
    })],
  ['Aurora cluster with a managed master user secret (RDS)', 'rds', ['kms:DescribeKey', 'kms:CreateGrant', 'kms:Decrypt', 'kms:GenerateDataKey'], {},
    (s, key) => {
      const cluster = new rds.DatabaseCluster(s, 'Cluster', {
        engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
        vpc: isolatedVpc(s),
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        writer: rds.ClusterInstance.serverlessV2('Writer'),
        storageEncryptionKey: key,
      });
      const cfn = cluster.node.defaultChild as rds.CfnDBCluster;
      cfn.manageMasterUserPassword = true;
      cfn.masterUserSecret = { kmsKeyId: key.keyArn };
      cfn.masterUserPassword = undefined;
    }],
  ['Aurora cluster with a managed master user secret (Secrets Manager)', 'secretsmanager', ['kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKey'], {},
    (s, key) => {
      const cfn = new rds.CfnDBCluster(s, 'Cluster', {
        engine: 'aurora-postgresql',
        masterUsername: 'admin',
        manageMasterUserPassword: true,
        masterUserSecret: { kmsKeyId: key.keyArn },
      });
      void cfn;
    }],
  ['Lambda environment variables', 'lambda', ['kms:Encrypt', 'kms:CreateGrant'], {},
    (s, key) => new lambda.Function(s, 'Fn', {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
      environment: { STAGE: 'prod' },
      environmentEncryption: key,
    })],
  ['EFS file system', 'elasticfilesystem', ['kms:DescribeKey', 'kms:CreateGrant', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt'], {},
    (s, key) => new efs.FileSystem(s, 'Fs', { vpc: isolatedVpc(s), encrypted: true, kmsKey: key })],
  ['Kinesis stream', 'kinesis', ['kms:DescribeKey', 'kms:GenerateDataKey'], {},
    (s, key) => new kinesis.Stream(s, 'Stream', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key })],
  ['Backup vault', 'backup', ['kms:DescribeKey', 'kms:CreateGrant', 'kms:RetireGrant', 'kms:Decrypt', 'kms:GenerateDataKey'], {},
    (s, key) => new backup.BackupVault(s, 'Vault', { encryptionKey: key })],
  ['Secrets Manager secret', 'secretsmanager', ['kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt'], {},
    (s, key) => new secretsmanager.Secret(s, 'Secret', { encryptionKey: key })],
];

function isolatedVpc(scope: Stack): ec2.IVpc {
  return (scope.node.tryFindChild('Vpc') as ec2.IVpc) ?? new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
}

describe.each(creationRows)('%s: created through %s', (_name, service, creation, props, consumers) => {
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize(props, consumers);
  });

  test('the deploy role may make the creation calls through the service', async () => {
    expect(await decisions(fx, DEPLOY_ROLE, creation, service)).toEqual(every(creation, 'Allowed'));
  });

  test('the deploy role is DENIED the same calls directly and through another service', async () => {
    const other = service === 's3' ? 'sqs' : 's3';
    for (const [where, s] of [['directly', undefined], [`through ${other}`, other]] as const) {
      const result = await decisions(fx, DEPLOY_ROLE, creation, s);
      expect([where, Object.values(result).every(denied)]).toEqual([where, true]);
    }
  });

  test('the deploy role is DENIED administration and, from another account, everything', async () => {
    expect(await fx.decide(DEPLOY_ROLE, 'kms:PutKeyPolicy', WITH_MFA)).not.toBe('Allowed');
    expect(await fx.decide(DEPLOY_ROLE.replace(ACCOUNT, OTHER_ACCOUNT), 'kms:Decrypt', callContext('kms:Decrypt', service), KMS_STAR)).not.toBe('Allowed');
  });

  test('an in-account principal with kms:* and the admin role are DENIED the calls through the service', async () => {
    // DescribeKey stays with the account's administrators (the lockout guard).
    const use = creation.filter(a => a !== 'kms:DescribeKey');
    expect(await decisions(fx, KMS_STAR_ADMIN, use, service, {}, KMS_STAR)).toEqual(every(use, 'ImplicitlyDenied'));
    const admin = await decisions(fx, fx.arnOf(fx.key.adminRole), use, service, WITH_MFA);
    expect(Object.values(admin).every(denied)).toBe(true);
  });
});

describe('users of the resources, by name through the service', () => {
  let fx: Fixture;
  let reader: iam.Role;
  let writer: iam.Role;
  beforeAll(() => {
    fx = synthesize({}, (s, key) => {
      reader = new iam.Role(s, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
      writer = new iam.Role(s, 'Writer', { assumedBy: new iam.AccountRootPrincipal() });
      new s3.Bucket(s, 'Bucket', { encryptionKey: key, bucketKeyEnabled: true, enforceSSL: true }).grantRead(reader);
      new dynamodb.Table(s, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: key,
      }).grantReadWriteData(writer);
      new sqs.Queue(s, 'Queue', { encryptionMasterKey: key, enforceSSL: true }).grantSendMessages(writer);
      new sns.Topic(s, 'Topic', { masterKey: key, enforceSSL: true }).grantPublish(writer);
      new kinesis.Stream(s, 'Stream', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key }).grantRead(reader);
      new secretsmanager.Secret(s, 'Secret', { encryptionKey: key }).grantRead(reader);
    });
  });

  test.each([
    ['the reader decrypts S3 objects, Kinesis records and the secret', () => reader, 'kms:Decrypt', ['s3', 'kinesis', 'secretsmanager']],
    ['the writer writes to the table, queue and topic', () => writer, 'kms:GenerateDataKey', ['dynamodb', 'sqs', 'sns']],
  ])('%s', async (_name, who, action, services) => {
    for (const service of services) {
      expect([service, await fx.decide(fx.arnOf(who()), action, callContext(action, service))]).toEqual([service, 'Allowed']);
    }
  });

  test('a grant made through Secrets Manager keeps that service, on a key of several services', async () => {
    let secretReader!: iam.Role;
    const narrowed = synthesize({ viaServices: ['s3', 'secretsmanager'] }, (s, key) => {
      secretReader = new iam.Role(s, 'SecretReader', { assumedBy: new iam.AccountRootPrincipal() });
      new secretsmanager.Secret(s, 'Secret', { encryptionKey: key }).grantRead(secretReader);
    });
    const arn = narrowed.arnOf(secretReader);
    expect(await narrowed.decide(arn, 'kms:Decrypt', callContext('kms:Decrypt', 'secretsmanager'))).toBe('Allowed');
    expect(await narrowed.decide(arn, 'kms:Decrypt', callContext('kms:Decrypt', 's3'))).not.toBe('Allowed');
  });

  test('the secret\'s grant to the account root does not open the CONFIDENTIAL key: kms:* through Secrets Manager is DENIED', async () => {
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt']) {
      expect([action, denied(await fx.decide(KMS_STAR_ADMIN, action, callContext(action, 'secretsmanager'), KMS_STAR))]).toEqual([action, true]);
    }
  });
});

describe('CloudWatch Logs: a log group encrypted with the key', () => {
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
  const LOGS = `logs.${REGION}.amazonaws.com`;
  const context = (name: string): ContextValues => ({ 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}` });
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({}, (s, key) => new logs.LogGroup(s, 'Logs', { logGroupName: '/payments/api', encryptionKey: key }));
  });

  test('CloudWatch Logs may encrypt and decrypt for that log group', async () => {
    for (const action of ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom']) {
      expect([action, await fx.decide(LOGS, action, context('/payments/api'))]).toEqual([action, 'Allowed']);
    }
  });

  test('CloudWatch Logs is DENIED for another log group, and without the log group\'s context', async () => {
    expect(await fx.decide(LOGS, 'kms:Decrypt', context('/someone/else'))).not.toBe('Allowed');
    expect(await fx.decide(LOGS, 'kms:Decrypt', {})).not.toBe('Allowed');
  });

  test('in a Stage, as CDK Pipelines deploy apps, the key learns its consumers too', () => {
    const stage = new Stage(new App(), 'Prod', { env: { account: ACCOUNT, region: REGION } });
    const stack = new Stack(stage, 'Service');
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    new logs.LogGroup(stack, 'Logs', { logGroupName: '/payments/api', encryptionKey: key });
    const statements = Template.fromStack(stack).findResources('AWS::KMS::Key')[stack.getLogicalId(key.node.defaultChild as any)].Properties.KeyPolicy.Statement;
    expect(statements.filter((st: any) => st.Principal.Service === LOGS)).toHaveLength(1);
  });

  test('fails when a CONFIDENTIAL key\'s log group has no name known at synth', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    new logs.LogGroup(stack, 'Logs', { encryptionKey: key });
    expect(() => PolicySimulator.fromStack(stack)).toThrow(/the key is used by TestStack\/Logs\/Resource \(AWS::Logs::LogGroup\), which has no logGroupName known at synth: a CONFIDENTIAL key lets CloudWatch Logs use it for log groups it names/);
  });

  test('an INTERNAL key serves log groups of its account and region without a name', async () => {
    const internal = synthesize({ classification: DataClassification.INTERNAL }, (s, key) => new logs.LogGroup(s, 'Logs', { encryptionKey: key }));
    expect(await internal.decide(LOGS, 'kms:GenerateDataKey', context('TestStack-Logs-abc123'))).toBe('Allowed');
    expect(await internal.decide(LOGS, 'kms:GenerateDataKey', { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${REGION}:${OTHER_ACCOUNT}:log-group:x` })).not.toBe('Allowed');
  });
});

describe('SNS: CloudWatch alarms publishing to a topic encrypted with the key', () => {
  // https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
  const alarmOf = (account: string) => ({ 'aws:SourceAccount': account, 'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${account}:alarm:HighLatency` });
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({}, (s, key) => {
      const topic = new sns.Topic(s, 'Alarms', { masterKey: key, enforceSSL: true });
      new cloudwatch.Alarm(s, 'HighLatency', {
        metric: new cloudwatch.Metric({ namespace: 'App', metricName: 'Latency' }), threshold: 1, evaluationPeriods: 1,
      }).addAlarmAction(new cloudwatchActions.SnsAction(topic));
    });
  });

  test('CloudWatch may publish for an alarm of this account', async () => {
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      expect([action, await fx.decide('cloudwatch.amazonaws.com', action, alarmOf(ACCOUNT))]).toEqual([action, 'Allowed']);
    }
  });

  test('CloudWatch is DENIED for an alarm of another account, and other actions', async () => {
    expect(await fx.decide('cloudwatch.amazonaws.com', 'kms:GenerateDataKey', alarmOf(OTHER_ACCOUNT))).not.toBe('Allowed');
    expect(await fx.decide('cloudwatch.amazonaws.com', 'kms:Encrypt', alarmOf(ACCOUNT))).not.toBe('Allowed');
  });

  test('a topic no alarm publishes to adds nothing for CloudWatch', async () => {
    const quiet = synthesize({}, (s, key) => new sns.Topic(s, 'Quiet', { masterKey: key }));
    expect(await quiet.decide('cloudwatch.amazonaws.com', 'kms:GenerateDataKey', alarmOf(ACCOUNT))).not.toBe('Allowed');
  });
});

describe('SNS: EventBridge rules and S3 event notifications publishing to a topic encrypted with the key', () => {
  // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
  const rule = (account: string) => ({ 'aws:SourceAccount': account, 'aws:SourceArn': `arn:aws:events:${REGION}:${account}:rule/Hourly` });
  const bucket = (account: string) => ({ 'aws:SourceAccount': account, 'aws:SourceArn': 'arn:aws:s3:::uploads' });
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({}, (s, key) => {
      const topic = new sns.Topic(s, 'Events', { masterKey: key, enforceSSL: true });
      new events.Rule(s, 'Hourly', { schedule: events.Schedule.rate(Duration.hours(1)), targets: [new eventsTargets.SnsTopic(topic)] });
      new s3.Bucket(s, 'Uploads', { enforceSSL: true }).addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SnsDestination(topic));
    });
  });

  test.each([
    ['EventBridge', 'events.amazonaws.com', rule],
    ['S3', 's3.amazonaws.com', bucket],
  ])('%s may publish for resources of this account, and not of another', async (_name, principal, source) => {
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      expect([action, await fx.decide(principal, action, source(ACCOUNT))]).toEqual([action, 'Allowed']);
      expect([action, await fx.decide(principal, action, source(OTHER_ACCOUNT))]).toEqual([action, 'ImplicitlyDenied']);
    }
  });

  test('the rule\'s own grant of an unscoped service principal is held to the key\'s account', async () => {
    expect(await fx.decide('events.amazonaws.com', 'kms:GenerateDataKey', { 'aws:SourceAccount': OTHER_ACCOUNT })).not.toBe('Allowed');
  });
});

describe('grants that aws-cdk-lib constructs narrow', () => {
  test('volume.grantAttachVolume: the role may create grants through EC2 for the volume, narrowed as the construct asks', async () => {
    let role!: iam.Role;
    const fx = synthesize({}, (s, key) => {
      role = new iam.Role(s, 'Attacher', { assumedBy: new iam.AccountRootPrincipal() });
      new ec2.Volume(s, 'Volume', { availabilityZone: `${REGION}a`, size: Size.gibibytes(8), encrypted: true, encryptionKey: key })
        .grantAttachVolume(role);
    });
    const attach = { 'kms:ViaService': via('ec2'), 'kms:GrantIsForAWSResource': 'true', 'kms:GrantConstraintType': 'EncryptionContextSubset' };
    expect(await fx.decide(fx.arnOf(role), 'kms:CreateGrant', attach)).toBe('Allowed');
    expect(await fx.decide(fx.arnOf(role), 'kms:CreateGrant', { ...attach, 'kms:GrantConstraintType': 'EncryptionContextEquals' })).not.toBe('Allowed');
    expect(await fx.decide(fx.arnOf(role), 'kms:CreateGrant', { ...attach, 'kms:ViaService': via('rds') })).not.toBe('Allowed');
  });

  test('the grant methods return the principal statement aws-cdk-lib constructs expect', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const grant = key.grantDecrypt(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
    expect(grant.principalStatement).toBeDefined();
    expect(grant.principalStatements).toHaveLength(1);
    expect(grant.resourceStatements.length).toBeGreaterThan(0);
    expect(grant.success).toBe(true);
  });
});

describe('service principals and other accounts', () => {
  test('a service principal granted on a viaServices key is scoped by its own conditions, never kms:ViaService', async () => {
    const rule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/Nightly`;
    const fx = synthesize({ viaServices: ['sqs'] }, (_s, key) => {
      key.grantEncryptDecrypt(new iam.ServicePrincipal('events.amazonaws.com').withConditions({ ArnEquals: { 'aws:SourceArn': rule } }));
    });
    expect(await fx.decide('events.amazonaws.com', 'kms:GenerateDataKey', { 'aws:SourceArn': rule })).toBe('Allowed');
    expect(await fx.decide('events.amazonaws.com', 'kms:GenerateDataKey', { 'aws:SourceArn': `${rule}2` })).not.toBe('Allowed');
  });

  test('a grantee of another account calls from its own account, through the key\'s service', async () => {
    const partner = `arn:aws:iam::${OTHER_ACCOUNT}:role/PartnerReader`;
    const fx = synthesize({ viaServices: ['s3'] }, (s, key) => {
      key.grantDecrypt(iam.Role.fromRoleArn(s, 'Partner', partner));
    });
    const identity = [PolicySimulator.allowPolicy('kms:Decrypt', fx.keyArn)];
    const call = (account: string) => ({ 'kms:ViaService': via('s3'), 'kms:CallerAccount': account });
    expect(await fx.decide(partner, 'kms:Decrypt', call(OTHER_ACCOUNT), identity)).toBe('Allowed');
    expect(await fx.decide(partner, 'kms:Decrypt', { 'kms:CallerAccount': OTHER_ACCOUNT }, identity)).not.toBe('Allowed');
  });
});

describe('a RESTRICTED key used by a service outside its viaServices', () => {
  test('fails at synth, naming the resource and the service', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] });
    new dynamodb.Table(stack, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
    });
    expect(() => PolicySimulator.fromStack(stack)).toThrow(
      'the key is used by TestStack/Table/Resource (AWS::DynamoDB::Table) through dynamodb, which is not in viaServices (s3): add it, or use another key');
  });

  test('fails at synth when a signing key encrypts a table', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', {
      classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY,
    });
    new dynamodb.CfnTable(stack, 'Table', {
      keySchema: [{ attributeName: 'pk', keyType: 'HASH' }],
      attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }],
      billingMode: 'PAY_PER_REQUEST',
      sseSpecification: { sseEnabled: true, sseType: 'KMS', kmsMasterKeyId: key.keyArn },
    });
    expect(() => PolicySimulator.fromStack(stack)).toThrow(
      'the key is used by TestStack/Table (AWS::DynamoDB::Table), which needs a symmetric encryption key, got keySpec ECC_NIST_P256 for SIGN_VERIFY');
  });
});


describe('aws-cdk-lib\'s grants facade, KeyGrants', () => {
  test('KeyGrants.fromKey(cfnKey), as L1 grants call it, goes through the key\'s checks and into its policy', async () => {
    let reader!: iam.Role;
    const fx = synthesize({}, (s, key) => {
      reader = new iam.Role(s, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
      kms.KeyGrants.fromKey(key.node.defaultChild as kms.CfnKey).decrypt(reader);
    });
    expect(await fx.decide(fx.arnOf(reader), 'kms:Decrypt')).toBe('Allowed');
    // The facade's grants on the L1 go through the key's checks. (Each throws after
    // aws-cdk-lib wrote the role's half of the grant, so in an app of its own.)
    const other = newStack();
    const key = new ClassifiedKey(other, 'Key', { classification: DataClassification.CONFIDENTIAL });
    expect(() => kms.KeyGrants.fromKey(key.node.defaultChild as kms.CfnKey).decrypt(key.adminRole))
      .toThrow(/^grant must not be given the admin role TestStack\/ConfidentialKeyAdmins/);
    expect(() => kms.KeyGrants.fromKey(key.node.defaultChild as kms.CfnKey).admin(key.userRole))
      .toThrow(/^grantAdmin must not be given the user role TestStack\/Key\/UserRole/);
  });

  test('BucketGrants.fromBucket(cfnBucket).read: the reader of an L1 bucket may decrypt its objects', async () => {
    let reader!: iam.Role;
    const fx = synthesize({}, (s, key) => {
      reader = new iam.Role(s, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
      const bucket = new s3.CfnBucket(s, 'Bucket', {
        bucketEncryption: { serverSideEncryptionConfiguration: [{ serverSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.keyArn } }] },
      });
      s3.BucketGrants.fromBucket(bucket).read(reader);
    });
    expect(await fx.decide(fx.arnOf(reader), 'kms:Decrypt', { 'kms:ViaService': via('s3') })).toBe('Allowed');
  });

  test('KeyGrants.fromKey(key) writes identity policies only, which the key refuses at synth (test/attacks.policy.test.ts, path 6)', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    kms.KeyGrants.fromKey(key).decrypt(key.adminRole);
    expect(() => PolicySimulator.fromStack(stack)).toThrow(/InternalKeyAdmins\/Resource \(AWS::IAM::Role\) is allowed kms:Decrypt on the key by the identity policy/);
  });

  test('identity policies written outside the app are no way around the separation: the key policy\'s denies hold', async () => {
    // GIVEN a key whose account root may use it (the opt-in), and identity policies
    // written by hand in the console: administration for the user role, use for the admin role
    // The user role is made when first asked for, so before synthesis.
    const fx = synthesize({ classification: DataClassification.INTERNAL, allowAccountRootCryptography: true }, (_s, key) => key.userRole);
    const manage = [PolicySimulator.allowPolicy(['kms:Put*', 'kms:ScheduleKeyDeletion'], fx.keyArn)];
    const use = [PolicySimulator.allowPolicy(['kms:Decrypt'], fx.keyArn)];
    const decide = (principal: string, action: string, identityPolicies: PolicyDocument[]) => fx.sim.simulate({
      principalArn: principal, action, resourceArn: fx.keyArn, identityPolicies, context: WITH_MFA,
    });
    // THEN the lockout guard and the root opt-in would honour them; the key policy's denies do not
    expect(await decide(fx.arnOf(fx.key.userRole), 'kms:ScheduleKeyDeletion', manage)).toBe('ExplicitlyDenied');
    expect(await decide(fx.arnOf(fx.key.userRole), 'kms:PutKeyPolicy', manage)).toBe('ExplicitlyDenied');
    expect(await decide(fx.arnOf(fx.key.adminRole), 'kms:Decrypt', use)).toBe('ExplicitlyDenied');
  });
});

describe('across stacks: key in one stack, bucket and role in another', () => {
  let app: App;
  let keyStack: Stack;
  let appStack: Stack;
  let key: ClassifiedKey;
  let reader: iam.Role;
  beforeAll(() => {
    app = new App();
    keyStack = new Stack(app, 'Keys', { env: { account: ACCOUNT, region: REGION } });
    appStack = new Stack(app, 'Service', { env: { account: ACCOUNT, region: REGION } });
    new KeyAuditTrail(keyStack, 'KeyAuditTrail', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(keyStack, 'OrgTrail', 'org-trail'),
      alarmTopic: sns.Topic.fromTopicArn(keyStack, 'Alarms', `arn:aws:sns:${REGION}:${ACCOUNT}:security-alarms`),
    });
    key = new ClassifiedKey(keyStack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    // Named: the key policy names a role of another stack by its ARN.
    reader = new iam.Role(appStack, 'Reader', { assumedBy: new iam.AccountRootPrincipal(), roleName: 'service-reader' });
    new s3.Bucket(appStack, 'Bucket', { encryptionKey: key, enforceSSL: true }).grantRead(reader);
    // Grants through a service wrap the role (ViaServicePrincipal); administration too.
    new secretsmanager.Secret(appStack, 'Secret', { encryptionKey: key }).grantRead(reader);
    new dynamodb.TableV2(appStack, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(key),
    }).grantReadData(reader);
    key.grantAdmin(new iam.Role(appStack, 'Operator', { assumedBy: new iam.AccountRootPrincipal(), roleName: 'service-operator' }));
    app.synth();
  });

  test('fails when the principal of another stack is not a role, which the key policy could name by ARN', () => {
    const other = new App();
    const keys = new Stack(other, 'Keys', { env: { account: ACCOUNT, region: REGION } });
    const users = new Stack(other, 'Users', { env: { account: ACCOUNT, region: REGION } });
    const otherKey = new ClassifiedKey(keys, 'Key', { classification: DataClassification.INTERNAL, monitoring: false });
    expect(() => otherKey.grantDecrypt(new iam.User(users, 'Alice')))
      .toThrow('grantDecrypt must be given a role to grant a principal of another stack (Users/Alice/Resource): the key policy names it by ARN, which needs the role\'s name');
  });

  test('synthesizes: the key\'s stack references nothing of the other, which depends on it', () => {
    const keyTemplate = JSON.stringify(Template.fromStack(keyStack).toJSON());
    expect(keyTemplate).not.toContain('Fn::ImportValue');
    expect(appStack.dependencies).toContain(keyStack);
    expect(keyStack.dependencies).not.toContain(appStack);
  });

  test('fails when the role of another stack has no roleName, rather than renaming (replacing) a deployed role', () => {
    const other = new App();
    const keys = new Stack(other, 'Keys', { env: { account: ACCOUNT, region: REGION } });
    const users = new Stack(other, 'Users', { env: { account: ACCOUNT, region: REGION } });
    const otherKey = new ClassifiedKey(keys, 'Key', { classification: DataClassification.INTERNAL, monitoring: false });
    const unnamed = new iam.Role(users, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => otherKey.grantDecrypt(unnamed))
      .toThrow('grantDecrypt must be given a role of another stack that has a roleName, got Users/Reader without one');
    expect(() => otherKey.grantAdmin(unnamed)).toThrow('grantAdmin must be given a role of another stack that has a roleName');
    // Nothing was renamed behind the user's back.
    expect(Template.fromStack(users).findResources('AWS::IAM::Role')[users.getLogicalId(unnamed.node.defaultChild as any)].Properties.RoleName).toBeUndefined();
  });

  test('the role keeps its name, and gets an identity policy for the key', () => {
    const roles = Template.fromStack(appStack).findResources('AWS::IAM::Role');
    expect(Object.values(roles).map(r => r.Properties.RoleName).sort()).toEqual(['service-operator', 'service-reader']);
    Template.fromStack(appStack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt']) })]) },
    });
  });

  test('by policy evaluation: the role may decrypt, and nobody else of the account, kms:* or not', async () => {
    const roleName = (id: string) => Template.fromStack(appStack).findResources('AWS::IAM::Role', {})[appStack.getLogicalId(appStack.node.findChild(id).node.defaultChild as any)].Properties.RoleName;
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/${roleName('Reader')}`;
    const operatorArn = `arn:aws:iam::${ACCOUNT}:role/${roleName('Operator')}`;
    const sim = PolicySimulator.fromStack(keyStack);
    const keyArn = sim.keyArn(keyStack.getLogicalId(key.node.defaultChild as any));
    const identity = [PolicySimulator.allowPolicy(['kms:Decrypt', 'kms:DescribeKey'], keyArn)];
    const decide = (principal: string, action: string, identityPolicies: PolicyDocument[]) =>
      sim.simulate({ principalArn: principal, action, resourceArn: keyArn, identityPolicies });
    expect(await decide(roleArn, 'kms:Decrypt', identity)).toBe('Allowed');
    expect(await decide(roleArn, 'kms:Decrypt', [])).not.toBe('Allowed');
    expect(await decide(KMS_STAR_ADMIN, 'kms:Decrypt', KMS_STAR)).not.toBe('Allowed');
    // No statement lets it manage the key (the lockout guard names the deploy role and the root user only).
    expect(await decide(roleArn, 'kms:ScheduleKeyDeletion', KMS_STAR)).not.toBe('Allowed');
    // Through the secret's grant, which kept its service.
    const viaSecrets = { 'kms:ViaService': via('secretsmanager') };
    expect(await sim.simulate({ principalArn: roleArn, action: 'kms:ReEncryptFrom', resourceArn: keyArn, context: viaSecrets, identityPolicies: [PolicySimulator.allowPolicy('kms:*', keyArn)] })).toBe('Allowed');
    // The operator administers with MFA, and cannot decrypt.
    const adminIdentity = [PolicySimulator.allowPolicy('kms:*', keyArn)];
    expect(await sim.simulate({ principalArn: operatorArn, action: 'kms:DisableKey', resourceArn: keyArn, context: WITH_MFA, identityPolicies: adminIdentity })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: operatorArn, action: 'kms:PutKeyPolicy', resourceArn: keyArn, context: WITH_MFA, identityPolicies: adminIdentity })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: operatorArn, action: 'kms:PutKeyPolicy', resourceArn: keyArn, identityPolicies: adminIdentity })).toBe('ExplicitlyDenied');
    // Nothing allows it, and the deny that keeps administrators from cryptography names it.
    expect(await sim.simulate({ principalArn: operatorArn, action: 'kms:Decrypt', resourceArn: keyArn, context: WITH_MFA, identityPolicies: adminIdentity })).toBe('ExplicitlyDenied');
  });
});
