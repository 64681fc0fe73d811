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

/** A rule of the HIPAA Security, NIST 800-53 R5 and PCI DSS 3.2.1 packs, which share names. */
function inHipaaNistPci(rule: string): string[] {
  return ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'].map(pack => `${pack}-${rule}`);
}

function acknowledge(construct: IConstruct, ids: string[], reason: string): void {
  Validations.of(construct).acknowledge(...ids.map(id => ({ id, reason })));
}
