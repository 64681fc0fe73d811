/*
 * Deploys ClassifiedKeys with the AWS services users put them in, so that a real
 * deployment proves what the policy tests evaluate: CloudFormation's execution role
 * creates a DynamoDB table, an EBS volume and an RDS instance (in isolated subnets)
 * through their services; CloudWatch Logs creates an encrypted log group; a secret
 * with a hosted rotation schedule is created; an alarm publishes to an encrypted
 * topic; a fleet of roles under an IAM path is granted a key. The assertions read
 * each resource back and check it uses its key.
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account):  npx integ-runner --directory integ --language typescript --force
 * The RDS instance makes a deployment take about fifteen minutes.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ClassifiedKey, ClassifiedKeyProps, DataClassification } from '../src';

const app = new App();
const stack = new Stack(app, 'KeyConsumersInteg');

// Torn down after the run: the keys opt in to deletion, with the shortest wait.
const disposable: Partial<ClassifiedKeyProps> = { removalPolicy: RemovalPolicy.DESTROY, pendingWindow: Duration.days(7) };
const data = new ClassifiedKey(stack, 'Data', {
  classification: DataClassification.RESTRICTED,
  viaServices: ['dynamodb', 'ec2', 'rds'],
  ...disposable,
});
const operations = new ClassifiedKey(stack, 'Operations', { classification: DataClassification.CONFIDENTIAL, ...disposable });
// Hosted rotation runs a function whose role AWS creates: an INTERNAL key that lets IAM grant it.
const credentials = new ClassifiedKey(stack, 'Credentials', {
  classification: DataClassification.INTERNAL,
  allowAccountRootCryptography: true,
  ...disposable,
});

const table = new dynamodb.Table(stack, 'Table', {
  partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
  encryptionKey: data,
  removalPolicy: RemovalPolicy.DESTROY,
});

const volume = new ec2.Volume(stack, 'Volume', {
  availabilityZone: stack.availabilityZones[0],
  size: Size.gibibytes(1),
  encrypted: true,
  encryptionKey: data,
  removalPolicy: RemovalPolicy.DESTROY,
});

const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways: 0,
  subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
});
const database = new rds.DatabaseInstance(stack, 'Database', {
  engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
  instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  storageEncryptionKey: data,
  credentials: rds.Credentials.fromGeneratedSecret('integ', { encryptionKey: credentials }),
  removalPolicy: RemovalPolicy.DESTROY,
  deletionProtection: false,
});

const logGroup = new logs.LogGroup(stack, 'Logs', {
  logGroupName: '/cdk-kms-constructs/integ/consumers',
  encryptionKey: operations,
  retention: logs.RetentionDays.ONE_WEEK,
  removalPolicy: RemovalPolicy.DESTROY,
});

const topic = new sns.Topic(stack, 'Alarms', { masterKey: operations, enforceSSL: true });
const alarm = new cloudwatch.Alarm(stack, 'AlwaysAlarm', {
  metric: new cloudwatch.Metric({ namespace: 'AWS/SNS', metricName: 'NumberOfMessagesPublished', dimensionsMap: { TopicName: topic.topicName } }),
  threshold: -1,
  evaluationPeriods: 1,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  treatMissingData: cloudwatch.TreatMissingData.BREACHING,
});
alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));

// A fleet: every role under the path may decrypt the operations key, by one statement
// that KMS must accept (Principal "*" held by ArnLike aws:PrincipalArn and the account).
operations.grantDecrypt(ClassifiedKey.rolesUnderPath('/cdk-kms-constructs-integ/readers/'));
new iam.Role(stack, 'FleetReader', { path: '/cdk-kms-constructs-integ/readers/', assumedBy: new iam.AccountRootPrincipal() });

const secret = new secretsmanager.Secret(stack, 'Secret', { encryptionKey: credentials, removalPolicy: RemovalPolicy.DESTROY });
secret.addRotationSchedule('Rotation', {
  hostedRotation: secretsmanager.HostedRotation.postgreSqlSingleUser(),
  automaticallyAfter: Duration.days(30),
});

const integ = new IntegTest(app, 'KeyConsumersTest', { testCases: [stack] });

integ.assertions
  .awsApiCall('DynamoDB', 'describeTable', { TableName: table.tableName })
  .expect(ExpectedResult.objectLike({ Table: { SSEDescription: { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: data.keyArn } } }));
integ.assertions
  .awsApiCall('EC2', 'describeVolumes', { VolumeIds: [volume.volumeId] })
  .expect(ExpectedResult.objectLike({ Volumes: [Match.objectLike({ Encrypted: true, KmsKeyId: data.keyArn })] }));
integ.assertions
  .awsApiCall('RDS', 'describeDBInstances', { DBInstanceIdentifier: database.instanceIdentifier })
  .expect(ExpectedResult.objectLike({ DBInstances: [Match.objectLike({ StorageEncrypted: true, KmsKeyId: data.keyArn })] }));
integ.assertions
  .awsApiCall('CloudWatchLogs', 'describeLogGroups', { logGroupNamePrefix: logGroup.logGroupName })
  .expect(ExpectedResult.objectLike({ logGroups: [Match.objectLike({ kmsKeyId: operations.keyArn })] }));
integ.assertions
  .awsApiCall('SecretsManager', 'describeSecret', { SecretId: secret.secretArn })
  .expect(ExpectedResult.objectLike({ KmsKeyId: credentials.keyArn, RotationEnabled: true }));
// The alarm breaches at once and publishes to the encrypted topic: only a key policy
// that lets CloudWatch use the key makes the action succeed.
integ.assertions
  .awsApiCall('CloudWatch', 'describeAlarmHistory', { AlarmName: alarm.alarmName, HistoryItemType: 'Action' })
  .expect(ExpectedResult.objectLike({
    AlarmHistoryItems: Match.arrayWith([Match.objectLike({ HistorySummary: Match.stringLikeRegexp('Successfully executed action') })]),
  }))
  .waitForAssertions({ totalTimeout: Duration.minutes(10), interval: Duration.seconds(30) });

app.synth();
