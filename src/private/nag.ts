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
export function acknowledgeFrameworkInvoke(policy: IConstruct, handlerLogicalId: string): void {
  acknowledge(policy, [`AwsSolutions-IAM5[Resource::<${handlerLogicalId}.Arn>:*]`],
    'the Provider framework invokes its one handler function, whose versions (`<function ARN>:*`) the grant covers too');
}

/** Acknowledges DescribeKey on every key of the primary's Region, held to one alias. */
export function acknowledgeKeyLookup(policy: IConstruct, keysArn: string): void {
  acknowledge(policy, [`AwsSolutions-IAM5[Resource::${keysArn}]`],
    'the primary key\'s ID is unknown until it exists in another Region\'s stack; the statement allows kms:DescribeKey only when the request names the key by the set\'s alias (kms:RequestAlias)');
}

/** A rule of the HIPAA Security, NIST 800-53 R5 and PCI DSS 3.2.1 packs, which share names. */
function inHipaaNistPci(rule: string): string[] {
  return ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'].map(pack => `${pack}-${rule}`);
}

function acknowledge(construct: IConstruct, ids: string[], reason: string): void {
  Validations.of(construct).acknowledge(...ids.map(id => ({ id, reason })));
}
