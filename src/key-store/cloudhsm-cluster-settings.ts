import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

/*
 * The checks of a CloudHsmCluster's settings: its ID, the subnets its HSMs go in,
 * and the durations CloudHSM takes in whole days.
 */

/**
 * The cluster's subnets, checked: one per Availability Zone, in two zones at least.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_CreateCluster.html
 */
export function selectClusterSubnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | undefined): string[] {
  const selected = vpc.selectSubnets(selection ?? { onePerAz: true });
  const subnets = selected.subnets;
  if (selected.hasPublic) {
    throw new Error(`vpcSubnets must select private subnets: an HSM's network interface has no public address, and a cluster belongs in the private network; got public subnets ${subnets.map(s => Token.isUnresolved(s.subnetId) ? s.node.path : s.subnetId).join(', ')}`);
  }
  const describe = () => subnets.map(s => `${Token.isUnresolved(s.subnetId) ? s.node.path : s.subnetId} (${s.availabilityZone})`).join(', ') || 'none';
  const zones = subnets.map(s => s.availabilityZone).filter(zone => !Token.isUnresolved(zone));
  const repeated = zones.find((zone, i) => zones.indexOf(zone) !== i);
  if (repeated) {
    throw new Error(`vpcSubnets must select one subnet per Availability Zone (CloudHSM takes one per zone), got two in ${repeated}: ${describe()}`);
  }
  if (subnets.length < 2) {
    throw new Error(`vpcSubnets must select subnets in two Availability Zones at least, so that the cluster's HSMs survive the loss of a zone and KMS can connect a custom key store; got ${describe()}`);
  }
  return selected.subnetIds;
}

/** A duration as whole days from `min` to `max`, checked. */
export function wholeDays(prop: string, duration: Duration, min: number, max: number): number {
  const days = duration.toDays({ integral: false });
  if (!Number.isInteger(days) || days < min || days > max) {
    throw new Error(`${prop} must be whole days from ${min} to ${max}, got ${duration.toHumanString()}`);
  }
  return days;
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
