/*
 * What AWS services do with a customer managed key, as their documentation states:
 * the calls the principal that creates a resource makes through the service (the
 * deploy role, CloudFormation's execution role), and the CloudFormation properties
 * through which a resource names its key. One table, read by ClassifiedKey when it
 * learns its consumers; the README's service table follows it row by row.
 */

/** A service that encrypts resources with a customer managed key. */
export interface ServiceUse {
  /** The service's name in `kms:ViaService` (`<name>.<region>.amazonaws.com`). */
  readonly service: string;
  /** What the creator of a resource calls through the service while creating it. */
  readonly creation: string[];
  /** The AWS documentation page the row follows. */
  readonly documentation: string;
}

const DESCRIBE_AND_GRANT = ['kms:DescribeKey', 'kms:CreateGrant'];

/** The services, by their `kms:ViaService` name. */
export const SERVICES: Record<string, ServiceUse> = {
  dynamodb: {
    service: 'dynamodb',
    creation: [...DESCRIBE_AND_GRANT, 'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
    documentation: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html',
  },
  rds: {
    service: 'rds',
    creation: DESCRIBE_AND_GRANT,
    documentation: 'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html',
  },
  ec2: {
    service: 'ec2',
    creation: [...DESCRIBE_AND_GRANT, 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
    documentation: 'https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html',
  },
  secretsmanager: {
    service: 'secretsmanager',
    creation: ['kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt'],
    documentation: 'https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html',
  },
  lambda: {
    service: 'lambda',
    creation: ['kms:Encrypt', 'kms:CreateGrant'],
    documentation: 'https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html',
  },
  elasticfilesystem: {
    service: 'elasticfilesystem',
    creation: [...DESCRIBE_AND_GRANT, 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt'],
    documentation: 'https://docs.aws.amazon.com/efs/latest/ug/encryption-at-rest.html',
  },
  kinesis: {
    service: 'kinesis',
    creation: ['kms:DescribeKey', 'kms:GenerateDataKey'],
    documentation: 'https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html',
  },
  backup: {
    service: 'backup',
    creation: [...DESCRIBE_AND_GRANT, 'kms:RetireGrant', 'kms:GenerateDataKey', 'kms:Decrypt'],
    documentation: 'https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault.html',
  },
};

/** The creation-time actions of a service, or undefined for a service the table does not know. */
export function creationActions(service: string): string[] | undefined {
  return SERVICES[service]?.creation;
}

/** What creating a resource asks of the key: these actions, through this service. */
export interface CreationUse {
  readonly service: string;
  readonly actions: string[];
}

const through = (service: string): CreationUse[] => [{ service, actions: SERVICES[service].creation }];

/**
 * RDS creates a managed master user secret in Secrets Manager with the creator's
 * permissions; AWS documents the actions (DescribeKey, Decrypt, GenerateDataKey,
 * CreateGrant), not the service the calls come through, so both are allowed.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html
 */
const RDS_MASTER_USER_SECRET: CreationUse[] = [
  { service: 'rds', actions: ['kms:DescribeKey', 'kms:CreateGrant', 'kms:Decrypt', 'kms:GenerateDataKey'] },
  { service: 'secretsmanager', actions: SERVICES.secretsmanager.creation },
];

/**
 * What creating a resource of each CloudFormation type asks of the key named in a
 * property: the resource types whose creator calls KMS through their service.
 */
const CREATION_BY_TYPE: Record<string, (property: string) => CreationUse[]> = {
  'AWS::DynamoDB::Table': () => through('dynamodb'),
  'AWS::DynamoDB::GlobalTable': () => through('dynamodb'),
  'AWS::RDS::DBInstance': property => property === 'MasterUserSecret' ? RDS_MASTER_USER_SECRET : through('rds'),
  'AWS::RDS::DBCluster': property => property === 'MasterUserSecret' ? RDS_MASTER_USER_SECRET : through('rds'),
  'AWS::EC2::Volume': () => through('ec2'),
  'AWS::EC2::LaunchTemplate': () => through('ec2'),
  // KmsKeyArn encrypts environment variables with a grant the creator makes.
  'AWS::Lambda::Function': property => property === 'KmsKeyArn' ? through('lambda') : [],
  'AWS::EFS::FileSystem': () => through('elasticfilesystem'),
  'AWS::Kinesis::Stream': () => through('kinesis'),
  'AWS::Backup::BackupVault': () => through('backup'),
  'AWS::SecretsManager::Secret': () => through('secretsmanager'),
};

/** What creating `cfnType` with the key in `property` asks of the key; empty when nothing. */
export function creationUses(cfnType: string, property: string): CreationUse[] {
  return CREATION_BY_TYPE[cfnType]?.(property) ?? [];
}

/**
 * The service through which the users of a resource call KMS with the key it names in
 * a property (`kms:ViaService`), for the resources that encrypt with it: a key given
 * `viaServices` must list it, and the key must be a symmetric encryption key. CloudWatch
 * Logs uses its key as a service principal: symmetric, and no `kms:ViaService`.
 */
const USE_BY_TYPE: Record<string, (property: string) => string | undefined> = {
  'AWS::S3::Bucket': () => 's3',
  'AWS::SQS::Queue': () => 'sqs',
  'AWS::SNS::Topic': () => 'sns',
  'AWS::Kinesis::Stream': () => 'kinesis',
  'AWS::EFS::FileSystem': () => 'elasticfilesystem',
  'AWS::DynamoDB::Table': () => 'dynamodb',
  'AWS::DynamoDB::GlobalTable': () => 'dynamodb',
  'AWS::SecretsManager::Secret': () => 'secretsmanager',
  'AWS::EC2::Volume': () => 'ec2',
  'AWS::EC2::LaunchTemplate': () => 'ec2',
  'AWS::RDS::DBInstance': property => (property === 'MasterUserSecret' ? 'secretsmanager' : 'rds'),
  'AWS::RDS::DBCluster': property => (property === 'MasterUserSecret' ? 'secretsmanager' : 'rds'),
  'AWS::Backup::BackupVault': () => 'backup',
  // Only KmsKeyArn encrypts: an environment variable may name a key the function signs with.
  'AWS::Lambda::Function': property => (property === 'KmsKeyArn' ? 'lambda' : undefined),
};

/** What a resource that names the key in `property` does with it. */
export interface EncryptionUse {
  /** The service its users call KMS through, or undefined for a service principal (CloudWatch Logs). */
  readonly service?: string;
}

/** How a resource uses the key it names: undefined when it does not encrypt with it (an alarm's dimension). */
export function encryptionUse(cfnType: string, property: string): EncryptionUse | undefined {
  if (cfnType === 'AWS::Logs::LogGroup') return {};
  const service = USE_BY_TYPE[cfnType]?.(property);
  return service === undefined ? undefined : { service };
}

/**
 * The services `viaServices` may name: those integrated with KMS that call it with
 * `kms:ViaService` `<name>.<region>.amazonaws.com`, by that name. Others are accepted
 * when named again in `extraViaServiceNames`.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/service-integration.html
 */
export const KNOWN_VIA_SERVICES = [
  'acm', 'airflow', 'apigateway', 'appflow', 'appsync', 'athena', 'backup', 'cassandra', 'cloud9', 'codeartifact',
  'codebuild', 'codecommit', 'codepipeline', 'comprehend', 'connect', 'datasync', 'dms', 'dynamodb', 'ebs', 'ec2', 'ecr',
  'elasticache', 'elasticfilesystem', 'elasticmapreduce', 'es', 'firehose', 'forecast', 'fsx', 'glacier', 'glue',
  'imagebuilder', 'iot', 'kafka', 'kendra', 'kinesis', 'kinesisvideo', 'lambda', 'lightsail', 'memorydb', 'mq',
  'personalize', 'qldb', 'rds', 'redshift', 'redshift-serverless', 's3', 'sagemaker', 'secretsmanager', 'ses', 'sns',
  'sqs', 'ssm', 'states', 'storagegateway', 'timestream', 'transfer', 'workspaces', 'xray',
];
