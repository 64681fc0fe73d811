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
