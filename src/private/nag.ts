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
  Validations.of(key).acknowledge(
    ...ACKNOWLEDGED_FOR_IMPORTED_MATERIAL.map(id => ({ id, reason: IMPORTED_MATERIAL_DOES_NOT_ROTATE })),
  );
}

const ACCESS_LOGS_BUCKET_REASON =
  'this bucket receives the audit trail bucket\'s server access logs, which S3 delivers only to buckets encrypted with SSE-S3, not SSE-KMS';

/** Acknowledges what an S3 server access log bucket cannot have. */
export function acknowledgeAccessLogsBucket(bucket: IConstruct): void {
  Validations.of(bucket).acknowledge(
    ...['HIPAA.Security-S3DefaultEncryptionKMS', 'NIST.800.53.R5-S3DefaultEncryptionKMS', 'PCI.DSS.321-S3DefaultEncryptionKMS']
      .map(id => ({ id, reason: ACCESS_LOGS_BUCKET_REASON })),
  );
}

const REPLICATION_REASON =
  'audit log buckets are versioned and retained, and the trail is multi-Region; replicating them to another Region needs a bucket in another stack and is left to the organization\'s log archive';

/** Acknowledges cross-Region replication on the audit buckets. */
export function acknowledgeAuditBucketReplication(bucket: IConstruct): void {
  Validations.of(bucket).acknowledge(
    ...['HIPAA.Security-S3BucketReplicationEnabled', 'NIST.800.53.R5-S3BucketReplicationEnabled', 'PCI.DSS.321-S3BucketReplicationEnabled']
      .map(id => ({ id, reason: REPLICATION_REASON })),
  );
}
