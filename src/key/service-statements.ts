import * as iam from 'aws-cdk-lib/aws-iam';

/*
 * Key policy statements for AWS services acting for themselves on resources that the
 * key encrypts: CloudWatch Logs for log groups, and the services that publish to SNS
 * topics (TOPIC_PUBLISHERS). Each is held to this account's resources by its own
 * conditions, never by `kms:ViaService` or the key's encryption context.
 */

/** Where a key policy is rendered: its stack's partition, Region and account, and the Region's domain suffix. */
export interface PolicyPlace {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly urlSuffix: string;
}

/** What CloudWatch Logs calls with a log group's key. */
const LOGS_ACTIONS = [
  'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo',
  'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:DescribeKey',
];

/**
 * CloudWatch Logs encrypting and reading log groups: one, by its ARN in the
 * encryption context, or, without a name known at synth, every log group of the
 * account in the region.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
 */
export function logGroupKeyStatement(place: PolicyPlace, logGroupName: string | undefined): iam.PolicyStatement {
  const prefix = `arn:${place.partition}:logs:${place.region}:${place.account}:log-group:`;
  return new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal(`logs.${place.region}.${place.urlSuffix}`)],
    actions: LOGS_ACTIONS,
    resources: ['*'],
    conditions: logGroupName !== undefined
      ? { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': `${prefix}${logGroupName}` } }
      : { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `${prefix}*` } },
  });
}

/** An AWS service that publishes to SNS topics, found by the resource that names the topic. */
export interface TopicPublisher {
  /** The CloudFormation type that names the topic it publishes to. */
  readonly cfnType: string;
  readonly servicePrincipal: string;
  /** The ARNs of the publishing resources of an account, as a pattern. */
  sourceArn(partition: string, region: string, account: string): string;
}

/**
 * The publishers the key learns: CloudWatch alarms, EventBridge rules and S3 event
 * notifications (aws-cdk-lib writes them as Custom::S3BucketNotifications).
 * @see https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html#eb-no-messages-published-sns
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
 */
export const TOPIC_PUBLISHERS: TopicPublisher[] = [
  {
    cfnType: 'AWS::CloudWatch::Alarm',
    servicePrincipal: 'cloudwatch.amazonaws.com',
    sourceArn: (partition, region, account) => `arn:${partition}:cloudwatch:${region}:${account}:alarm:*`,
  },
  {
    cfnType: 'AWS::Events::Rule',
    servicePrincipal: 'events.amazonaws.com',
    sourceArn: (partition, region, account) => `arn:${partition}:events:${region}:${account}:rule/*`,
  },
  {
    cfnType: 'Custom::S3BucketNotifications',
    servicePrincipal: 's3.amazonaws.com',
    // Bucket ARNs name no account; aws:SourceAccount holds the publisher to this one.
    sourceArn: partition => `arn:${partition}:s3:::*`,
  },
  {
    cfnType: 'AWS::S3::Bucket',
    servicePrincipal: 's3.amazonaws.com',
    sourceArn: partition => `arn:${partition}:s3:::*`,
  },
];

/**
 * An AWS service publishing to a topic encrypted with the key, for resources of
 * this account (`aws:SourceAccount`) and of its kind (`aws:SourceArn`), with the
 * actions SNS documents for event sources of AWS services (`kms:Decrypt` and
 * `kms:GenerateDataKey*`).
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 */
export function topicPublisherStatement(place: PolicyPlace, publisher: TopicPublisher): iam.PolicyStatement {
  const sourceArn = publisher.sourceArn(place.partition, place.region, place.account);
  return new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal(publisher.servicePrincipal)],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: {
      StringEquals: { 'aws:SourceAccount': place.account },
      ArnLike: { 'aws:SourceArn': sourceArn },
    },
  });
}
