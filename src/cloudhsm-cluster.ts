import { Token } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';

/**
 * An AWS CloudHSM cluster that a custom key store can be wired to.
 */
export interface ICloudHsmCluster extends IConstruct {
  /** The cluster's ID, `cluster-` followed by 11 to 16 letters and digits. */
  readonly clusterId: string;
  /** The ID of the security group CloudHSM made for the cluster, when known. */
  readonly securityGroupId?: string;
}

/**
 * What identifies an existing CloudHSM cluster.
 */
export interface CloudHsmClusterAttributes {
  /** The cluster's ID, as `cluster-1a23b4cdefg`. */
  readonly clusterId: string;

  /**
   * The ID of the security group CloudHSM made for the cluster.
   *
   * @default - unknown
   */
  readonly securityGroupId?: string;
}

/**
 * An AWS CloudHSM cluster, for a CustomKeyStore.
 *
 * `fromClusterAttributes` adopts a cluster that exists: initialized, activated, with
 * its `kmsuser` crypto user, and HSMs in two Availability Zones (the README's
 * ceremony, from nothing to a key, says how).
 */
export class CloudHsmCluster {
  /**
   * Adopts an existing cluster. Its ID is checked at synth; whether it is ready for a
   * key store is checked by KMS when the store is created, and a cluster that is not
   * fails the deployment with the step that is missing.
   */
  public static fromClusterAttributes(scope: Construct, id: string, attrs: CloudHsmClusterAttributes): ICloudHsmCluster {
    validateClusterId('clusterId', attrs.clusterId);
    if (attrs.securityGroupId !== undefined && !Token.isUnresolved(attrs.securityGroupId) && !/^sg-[0-9a-f]{8,17}$/.test(attrs.securityGroupId)) {
      throw new Error(`securityGroupId must be a security group ID (sg- and 8 or 17 hexadecimal digits), got ${attrs.securityGroupId}`);
    }
    class Imported extends Construct implements ICloudHsmCluster {
      public readonly clusterId = attrs.clusterId;
      public readonly securityGroupId = attrs.securityGroupId;
    }
    return new Imported(scope, id);
  }

  private constructor() {}
}

/**
 * A CloudHSM cluster ID, as KMS's API defines it.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateCustomKeyStore.html#KMS-CreateCustomKeyStore-request-CloudHsmClusterId
 */
export function validateClusterId(prop: string, clusterId: string): void {
  if (Token.isUnresolved(clusterId)) return;
  if (!/^cluster-[2-7a-zA-Z]{11,16}$/.test(clusterId)) {
    throw new Error(`${prop} must be a CloudHSM cluster ID (cluster- and 11 to 16 letters or digits 2-7), got ${clusterId}`);
  }
}
