export { DataClassification } from './key/classification';
export * from './key/classified-key';
export * from './audit/key-audit-trail';
export * from './multi-region/multi-region-key-set';
export * from './key-store/cloudhsm-cluster';
export * from './key-store/custom-key-store';
export * from './custom-resources/handler-vpc';
