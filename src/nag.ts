import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The cdk-nag findings this library acknowledges, each with the reason a reviewer
 * would accept. The README's compliance section lists the same table.
 */
const IMPORTED_MATERIAL_DOES_NOT_ROTATE =
  'KMS cannot rotate imported key material automatically (the key was declared with importKeyMaterial); its administrators rotate it by importing new material';

const ACKNOWLEDGED_FOR_IMPORTED_MATERIAL = [
  'AwsSolutions-KMS5',
  'NIST.800.53.R5-KMSBackingKeyRotationEnabled',
  'PCI.DSS.321-KMSBackingKeyRotationEnabled',
];

/** Acknowledges the rotation rules on a key whose material is imported. */
export function acknowledgeImportedMaterial(key: IConstruct): void {
  acknowledge(key, ACKNOWLEDGED_FOR_IMPORTED_MATERIAL, IMPORTED_MATERIAL_DOES_NOT_ROTATE);
}

const ACCESS_LOGS_BUCKET_REASON =
  'this bucket receives the audit trail bucket\'s server access logs, which S3 delivers only to buckets encrypted with SSE-S3, not SSE-KMS';

/** Acknowledges what an S3 server access log bucket cannot have. */
export function acknowledgeAccessLogsBucket(bucket: IConstruct): void {
  acknowledge(bucket, inHipaaNistPci('S3DefaultEncryptionKMS'), ACCESS_LOGS_BUCKET_REASON);
}

/** Acknowledges a watch's log group left to CloudWatch Logs' own encryption. */
export function acknowledgeServiceEncryptedLogGroup(logGroup: IConstruct): void {
  acknowledge(logGroup, inHipaaNistPci('CloudWatchLogGroupEncrypted'),
    'the KMS events of the audit watch, encrypted by CloudWatch Logs with a key of its own: alarmTopic and existingLogGroup were given, so the library makes no audit key');
}

const REPLICATION_REASON =
  'audit log buckets are versioned and retained, and the trail is multi-Region; replicating them to another Region needs a bucket in another stack and is left to the organization\'s log archive';

/** Acknowledges cross-Region replication on the audit buckets. */
export function acknowledgeAuditBucketReplication(bucket: IConstruct): void {
  acknowledge(bucket, inHipaaNistPci('S3BucketReplicationEnabled'), REPLICATION_REASON);
}

const CUSTOM_RESOURCE_FUNCTION: Array<{ rules: string[]; reason: string }> = [
  {
    rules: inHipaaNistPci('LambdaInsideVPC'),
    reason: 'a custom-resource function of cdk-kms-constructs: it calls only AWS APIs, during deployments, and reaches nothing in a VPC',
  },
  {
    rules: inHipaaNistPci('LambdaConcurrency'),
    reason: 'it runs only while CloudFormation deploys the stack; reserving concurrency would fail deployments in accounts whose concurrency quota is under 100 plus the reservation, as new accounts\' quota of 10 is',
  },
  {
    rules: inHipaaNistPci('LambdaDLQ'),
    reason: 'CloudFormation waits for the custom resource\'s answer and records a failure in the stack\'s events; a dead-letter queue would hold nothing to act on',
  },
];

/** Acknowledges what a function of the library's custom resources does not need. */
export function acknowledgeCustomResourceFunction(fn: IConstruct): void {
  for (const { rules, reason } of CUSTOM_RESOURCE_FUNCTION) acknowledge(fn, rules, reason);
}

/**
 * Acknowledges that the Provider framework's policy invokes the handler's versions.
 * cdk-nag names each wildcard resource of AwsSolutions-IAM5 in the finding's id.
 */
export function acknowledgeFrameworkInvoke(policy: IConstruct, handlerLogicalIds: string[]): void {
  acknowledge(policy, handlerLogicalIds.map(id => `AwsSolutions-IAM5[Resource::<${id}.Arn>:*]`),
    'the Provider framework invokes its handler functions, whose versions (`<function ARN>:*`) the grant covers too');
}

/** Acknowledges DescribeKey on every key of the primary's Region, held to one alias. */
export function acknowledgeKeyLookup(policy: IConstruct, resources: string[]): void {
  acknowledge(policy, resources.map(resource => `AwsSolutions-IAM5[Resource::${resource}]`), 'the primary key\'s ID is unknown until it exists in another Region\'s stack, whose output the handler reads (the stack ID ends in a GUID CloudFormation gives it); both statements only read: kms:DescribeKey on keys of the primary Region and account, cloudformation:DescribeStacks on the primary stack');
}

/** Acknowledges the `*` resources of a custom-resource handler's policy, for the handler's reason. */
export function acknowledgeWildcardResources(policy: IConstruct, reason: string): void {
  acknowledge(policy, ['AwsSolutions-IAM5[Resource::*]'], reason);
}

/**
 * Acknowledges what aws-cdk-lib's Provider framework makes for a wait (isComplete): a
 * Step Functions state machine that polls the wait, with a role and policy of its own.
 */
export function acknowledgeProviderWaiter(waiter: IConstruct, functionLogicalIds: string[]): void {
  acknowledge(waiter, inHipaaNistPci('IAMNoInlinePolicy'),
    'the Provider framework makes the waiter\'s role and its one policy; it allows invoking the framework\'s two functions and delivering the waiter\'s logs, nothing else');
  acknowledge(waiter, ['AwsSolutions-IAM5[Resource::*]'],
    'the CloudWatch Logs log delivery and X-Ray actions, which Step Functions needs to log to the log group and trace, take no resource ARN');
  acknowledge(waiter, functionLogicalIds.map(id => `AwsSolutions-IAM5[Resource::<${id}.Arn>:*]`),
    'the waiter invokes the framework\'s functions, whose versions (`<function ARN>:*`) the grant covers too');
}

/** A rule of the HIPAA Security, NIST 800-53 R5 and PCI DSS 3.2.1 packs, which share names. */
function inHipaaNistPci(rule: string): string[] {
  return ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'].map(pack => `${pack}-${rule}`);
}

function acknowledge(construct: IConstruct, ids: string[], reason: string): void {
  Validations.of(construct).acknowledge(...ids.map(id => ({ id, reason })));
}
