export { DataClassification } from './classification';
export * from './classified-key';
export * from './key-audit-trail';
export * from './multi-region-key-set';
export * from './cloudhsm-cluster';
export * from './custom-key-store';
export * from './handler-vpc';
