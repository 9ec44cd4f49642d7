import { z } from 'zod';
import { kubernetesShifterSchemas } from './trafficKubernetes.js';

// Traffic shifters: how a canary's share of traffic is set. One schema per type; the
// activities in src/activities/traffic/ (one file each) act on them. Filled in by the
// shifter work of the canary issue; each type validates its own fields.
export const trafficShifterSchema = z.discriminatedUnion('type', [...kubernetesShifterSchemas]);
export type TrafficShifter = z.infer<typeof trafficShifterSchema>;
