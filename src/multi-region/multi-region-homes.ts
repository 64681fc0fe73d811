import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyHome, keyResource } from '../key/key-home';
import { RestrictedAdministration } from '../key/key-policy';

/*
 * The homes of a multi-Region key set's members (see key/key-home.ts): the primary,
 * an `AWS::KMS::Key` with `MultiRegion`, and its replicas.
 */

/**
 * The primary of a multi-Region key: replicas in other Regions share its ID and
 * material. `administration` says who may replicate it, and move its primary, where.
 */
export function multiRegionPrimaryHome(administration: RestrictedAdministration[]): KeyHome {
  return keyResource(true, administration);
}

/**
 * A replica of a multi-Region primary. KMS shares the primary's spec, usage, origin
 * and rotation with it; its policy, description, tags and pending window are its own.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-replicate.html
 */
export function replicaHome(primaryKeyArn: string, administration: RestrictedAdministration[] = []): KeyHome {
  return {
    cfnType: 'AWS::KMS::ReplicaKey',
    setsRotation: false,
    materialRotates: true,
    policyWriters: [],
    multiRegionPrimary: false,
    administration,
    check(props) {
      for (const [name, value] of Object.entries({ enableKeyRotation: props.enableKeyRotation, rotationPeriod: props.rotationPeriod })) {
        if (value !== undefined) {
          throw new Error(`${name} is set on the primary of a multi-Region key, whose replicas follow its rotation, got ${String(value)} for a replica`);
        }
      }
    },
    create(scope, spec) {
      const resource = new kms.CfnReplicaKey(scope, 'Resource', {
        primaryKeyArn,
        description: spec.description,
        keyPolicy: spec.keyPolicy,
        pendingWindowInDays: spec.pendingWindowInDays,
      });
      return { resource, keyArn: resource.attrArn, keyId: resource.attrKeyId };
    },
  };
}
