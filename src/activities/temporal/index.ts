export { createTemporalActivities, type LeaseHolderRef, type TemporalDeps } from './leases.js';
